"""The ATOP activation API (PROTOCOL.md §4): query signing, body encryption, responses, records.

Sans-IO, in the manner of h11: strings and bytes in, frozen records out, and back. The caller owns the
HTTP, the clock (``t``) and the randomness (the et=3 ``nonce``). Every decoder here (:func:`parse_query`,
:func:`parse_request`, :func:`decrypt_body`, :func:`decode_response`, the ``from_json`` of every record)
either returns a value or raises :class:`~harness.protocol.errors.ProtocolError`, whatever it is fed.

Two subclasses of :class:`RemoteProtocolError` let a cloud tell its errorCodes apart without parsing
messages: :class:`SignatureMismatch` (the sign is well formed but wrong) and :class:`DecryptionFailed`
(the ciphertext does not open under the key).

:mod:`~harness.protocol.atop.exchange` holds the exchange (sign, encryption, query, request, response),
:mod:`~harness.protocol.atop.records` the activation body and result; both are re-exported here.
"""

from harness.protocol.iotdns import (  # re-exported as before: the url_config lookup that precedes activation
    ATOP_PATH,
    DEFAULT_URL_CONFIG_KEYS,
    UrlConfigKey,
    UrlConfigRequest,
    UrlConfigResponse,
    UrlEntry,
    plain_url_config_response,
    self_url_config_response,
)

from .exchange import (
    ACTIVE_API_ET,
    API_ACTIVE_V44,
    API_OPENSDK_ACTIVE,
    API_RESET,
    ET_ECB,
    ET_GCM,
    GCM_NONCE_LEN,
    RECOMMENDED_HEADERS,
    SIGN_ORDER,
    SUPPORTED_ET,
    AtopQuery,
    AtopRequest,
    AtopResponse,
    DecryptionFailed,
    SignatureMismatch,
    build_request,
    decode_response,
    decrypt_body,
    encode_plain_error,
    encode_response,
    encrypt_body,
    error_payload,
    parse_form_body,
    parse_query,
    parse_request,
    response_sign,
    sign,
    sign_input,
    success_payload,
    verify_sign,
)
from .records import (
    ACTIVATION_FIELDS,
    ACTIVATION_ORDER_CC,
    ACTIVATION_ORDER_TO,
    RESULT_FIELDS,
    ActivationRequest,
    ActivationResult,
)

__all__ = [
    "ACTIVATION_FIELDS", "ACTIVATION_ORDER_CC", "ACTIVATION_ORDER_TO", "ACTIVE_API_ET", "API_ACTIVE_V44",
    "API_OPENSDK_ACTIVE", "API_RESET", "ATOP_PATH", "DEFAULT_URL_CONFIG_KEYS", "ET_ECB", "ET_GCM", "GCM_NONCE_LEN",
    "RECOMMENDED_HEADERS", "RESULT_FIELDS", "SIGN_ORDER", "SUPPORTED_ET", "ActivationRequest", "ActivationResult",
    "AtopQuery", "AtopRequest", "AtopResponse", "DecryptionFailed", "SignatureMismatch", "UrlConfigKey",
    "UrlConfigRequest", "UrlConfigResponse", "UrlEntry", "build_request", "decode_response", "decrypt_body",
    "encode_plain_error", "encode_response", "encrypt_body", "error_payload", "parse_form_body", "parse_query",
    "parse_request", "plain_url_config_response", "response_sign", "self_url_config_response", "sign", "sign_input",
    "success_payload", "verify_sign"
]
