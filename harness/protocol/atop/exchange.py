"""One ATOP exchange (PROTOCOL.md §4.2): the sign over the query, the body's encryption selected by ``et``, the query
parameters, the request and the response envelope. Nonces and times are parameters."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast
from urllib.parse import parse_qsl, quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.protocol.errors import LocalProtocolError, RemoteProtocolError
from harness.protocol.strictjson import MAX_JSON_BYTES, dumps_compact, loads_json

S_REQ: Final = "§4.2"
S_RESP: Final = "§4.3"

# §4.2: "Headers: Content-Type: application/x-www-form-urlencoded;charset=UTF-8, User-Agent: TUYA_IOT_SDK".
RECOMMENDED_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "User-Agent": "TUYA_IOT_SDK"}
)

# §4.2 "Activation API name and version".
API_ACTIVE_V44: Final = ("tuya.device.active", "4.4")
API_OPENSDK_ACTIVE: Final = ("thing.device.opensdk.active", "1.0")
# §6 "TO tuya_iot_reset() sends MQTT-ATOP tuya.device.reset v4.0".
API_RESET: Final = ("tuya.device.reset", "4.0")

# §4.2 "Body encryption, selected by et": 1 = AES-128-ECB/PKCS#7, 3 = AES-128-GCM nonce‖ct‖tag.
ET_ECB: Final = 1
ET_GCM: Final = 3
SUPPORTED_ET: Final = frozenset({ET_ECB, ET_GCM})
# The default et of each activation API: CK/CC speak et=1 with v4.4, TO/AK et=3 with opensdk v1.0.
ACTIVE_API_ET: Final[Mapping[tuple[str, str], int]] = MappingProxyType(
    {API_ACTIVE_V44: ET_ECB, API_OPENSDK_ACTIVE: ET_GCM}
)

GCM_NONCE_LEN: Final = 12
GCM_TAG_LEN: Final = 16
AES_BLOCK: Final = 16
MAX_BODY_BYTES: Final = MAX_JSON_BYTES // 4  # generous: an activation body is well under 1 KiB

# §4.2: "Query parameters, in this order (it is also alphabetical): a, devId, et, t, uuid, v".
SIGN_ORDER: Final = ("a", "devId", "et", "t", "uuid", "v")


class SignatureMismatch(RemoteProtocolError):
    """A well-formed ``sign`` that does not match the parameters under the key (§4.2, §4.3)."""


class DecryptionFailed(RemoteProtocolError):
    """Ciphertext that does not open under the key: bad GCM tag or bad PKCS#7 padding (§4.2, §4.3)."""


# ---------------------------------------------------------------------------------------------- signing


def sign_input(params: Mapping[str, str | int], key: str) -> str:
    """The string that is MD5-hashed: ``"a=..||[devId=..||]et=..||t=..||[uuid=..||]v=..||" + key`` (§4.2)."""
    return "".join(f"{name}={params[name]}||" for name in SIGN_ORDER if name in params) + key


def sign(params: Mapping[str, str | int], key: str) -> str:
    """§4.2: "sign = lower-case hex MD5" of :func:`sign_input`; parameters outside SIGN_ORDER are not signed."""
    return hashlib.md5(sign_input(params, key).encode("utf-8")).hexdigest()


def response_sign(result_b64: str, t: int, key: str) -> str:
    """§4.3: "sign = MD5("result=<b64>||t=<t>||" + KEY) hex characters [8:24]"."""
    return hashlib.md5(f"result={result_b64}||t={t}||{key}".encode()).hexdigest()[8:24]


# ----------------------------------------------------------------------------------------- encryption


def _aes_key(key: str) -> bytes:
    # §4.2: "key = first 16 bytes of authKey (or secKey)". A short key is the caller's mistake.
    raw = key.encode("utf-8")[:AES_BLOCK]
    if len(raw) != AES_BLOCK:
        raise LocalProtocolError(f"an ATOP key needs at least 16 bytes, got {len(raw)}", section=S_REQ)
    return raw


@functools.lru_cache(maxsize=1024)
def _ecb(aes_key: bytes) -> Cipher[modes.ECB]:
    """The AES-128-ECB cipher of a key (each request gets its own encryptor or decryptor from it): a cloud sees
    the same licence and device keys again and again."""
    return Cipher(algorithms.AES(aes_key), modes.ECB())


def _check_et_local(et: int) -> None:
    if type(et) is not int or et not in SUPPORTED_ET:
        raise LocalProtocolError(f"et must be one of {sorted(SUPPORTED_ET)}, got {et!r}", section=S_REQ)


def _encrypt(plaintext: bytes, key: str, et: int, nonce: bytes | None) -> bytes:
    _check_et_local(et)
    aes_key = _aes_key(key)
    if et == ET_ECB:
        # §4.2 "et=1: AES-128-ECB, PKCS#7". The nonce, if any, is unused.
        pad = AES_BLOCK - len(plaintext) % AES_BLOCK
        enc = _ecb(aes_key).encryptor()
        return enc.update(plaintext + bytes([pad]) * pad) + enc.finalize()
    # §4.2 "et=3: AES-128-GCM, body = 12-byte random nonce ‖ ciphertext ‖ 16-byte tag (no AAD)".
    if nonce is None:
        raise LocalProtocolError("et=3 needs a nonce: this package draws no randomness", section=S_REQ)
    if len(nonce) != GCM_NONCE_LEN:
        raise LocalProtocolError(f"the et=3 nonce is 12 bytes, got {len(nonce)}", section=S_REQ)
    return bytes(nonce) + AESGCM(aes_key).encrypt(bytes(nonce), plaintext, None)


def _decrypt(blob: bytes, key: str, et: int, section: str) -> bytes:
    if type(et) is not int or et not in SUPPORTED_ET:
        raise RemoteProtocolError(f"et must be one of {sorted(SUPPORTED_ET)}, got {et!r}", section=section)
    aes_key = _aes_key(key)
    if et == ET_ECB:
        if not blob or len(blob) % AES_BLOCK:
            raise RemoteProtocolError(
                f"et=1 ciphertext must be a non-empty multiple of 16 bytes, got {len(blob)}", section=section
            )
        dec = _ecb(aes_key).decryptor()
        padded = dec.update(blob) + dec.finalize()
        pad = padded[-1]
        if not 1 <= pad <= AES_BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise DecryptionFailed("bad PKCS#7 padding: wrong key or corrupt ciphertext", section=section)
        return padded[:-pad]
    if len(blob) < GCM_NONCE_LEN + GCM_TAG_LEN:
        raise RemoteProtocolError(f"et=3 ciphertext needs nonce and tag (28 bytes), got {len(blob)}", section=section)
    try:
        return AESGCM(aes_key).decrypt(blob[:GCM_NONCE_LEN], blob[GCM_NONCE_LEN:], None)
    except InvalidTag:
        raise DecryptionFailed("GCM tag does not verify: wrong key or corrupt ciphertext", section=section) from None


def encrypt_body(plaintext: bytes, key: str, et: int, *, nonce: bytes | None = None) -> str:
    """The UPPERCASE hex that follows ``data=`` in a request body (§4.2)."""
    return _encrypt(plaintext, key, et, nonce).hex().upper()




def decrypt_body(hex_text: str, key: str, et: int) -> bytes:
    """Open the hex after ``data=`` (§4.2). Lower-case hex is accepted; the spec writes UPPERCASE."""
    if not isinstance(hex_text, str):
        raise RemoteProtocolError("request body data is not an even-length hex string", section=S_REQ)
    if len(hex_text) > 2 * MAX_BODY_BYTES:
        raise RemoteProtocolError(f"request body over {MAX_BODY_BYTES} bytes", section=S_REQ)
    try:
        blob = binascii.unhexlify(hex_text)  # hex digits only: no whitespace, unlike bytes.fromhex
    except ValueError:  # binascii.Error, and non-ASCII text
        raise RemoteProtocolError("request body data is not an even-length hex string", section=S_REQ) from None
    return _decrypt(blob, key, et, S_REQ)


# ---------------------------------------------------------------------------------------------- query

# Forms of the query values. Values are signed as received, so only canonical forms are accepted:
# a "t" of "017" would sign differently from the t=17 we hold.
_API = re.compile(r"[A-Za-z0-9_.]{1,128}")
_VERSION = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4}){0,3}")
_ET = re.compile(r"[13]")
_T = re.compile(r"0|[1-9][0-9]{0,11}")
# §8 "UUID is 16 or 20 characters in the wild, with buffers up to 25"; §4.3 "devId ... TO allows 25".
_IDENT = re.compile(r"[A-Za-z0-9_.\-]{1,25}")
_SIGN = re.compile(r"[0-9a-f]{32}")

_FORMS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = MappingProxyType(
    {
        "a": (_API, "an API name of letters, digits, '.' and '_'"),
        "v": (_VERSION, "a dotted version such as 4.4"),
        "et": (_ET, "1 or 3"),
        "t": (_T, "unix seconds as a canonical decimal integer"),
        "uuid": (_IDENT, "1 to 25 of [A-Za-z0-9_.-]"),
        "devId": (_IDENT, "1 to 25 of [A-Za-z0-9_.-]"),
        "sign": (_SIGN, "32 lower-case hex digits"),
    }
)


# The query as CK/TO and build_request write it (§4.2 order, sign last, nothing escaped), every value in its form:
# what :func:`parse_query` accepts through its general path, matched at once. Anything else takes that path.
_CANONICAL_QUERY = re.compile(
    rf"a=({_API.pattern})(?:&devId=({_IDENT.pattern}))?&et=({_ET.pattern})&t=({_T.pattern})"
    rf"(?:&uuid=({_IDENT.pattern}))?&v=({_VERSION.pattern})&sign=({_SIGN.pattern})"
)

R = TypeVar("R")
_MISSING = dataclasses.MISSING


def _checked(cls: type[R], kwargs: Mapping[str, Any]) -> R:
    """An instance of the frozen record dataclass ``cls`` from members a decoder has just checked (the record's
    fields, its extras, the query's forms): its ``__post_init__`` would check them all again, which for a cloud
    answering thousands of activations a second is a third of the decoding."""
    record = object.__new__(cls)
    for name, default, factory in _defaults(cast(Any, cls)):
        if name in kwargs:
            value = kwargs[name]
        elif factory is not None:
            value = factory()
        elif default is not _MISSING:
            value = default
        else:
            raise TypeError(f"{cls.__name__} needs {name}")
        object.__setattr__(record, name, value)
    return record


@functools.cache
def _defaults(cls: Any) -> tuple[tuple[str, Any, Any], ...]:
    """Each field of a dataclass: its name, default (or MISSING) and default factory (or None)."""
    return tuple((f.name, f.default, None if f.default_factory is _MISSING else f.default_factory)
                 for f in dataclasses.fields(cls))


def _form_problem(name: str, value: object) -> str | None:
    pattern, wanted = _FORMS[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return f"query parameter {name}={value!r} is not {wanted}"
    return None


@dataclass(frozen=True)
class AtopQuery:
    """The parsed query string of an ATOP call (§4.2). ``uuid`` before activation, ``dev_id`` after."""

    a: str
    v: str
    et: int
    t: int
    uuid: str | None
    dev_id: str | None
    sign: str

    def __post_init__(self) -> None:
        for name, value in self._wire_items():
            problem = _form_problem(name, value)
            if problem:
                raise LocalProtocolError(problem, section=S_REQ)
        if self.uuid is None and self.dev_id is None:
            raise LocalProtocolError("an ATOP query names a uuid or a devId", section=S_REQ)

    def _wire_items(self) -> list[tuple[str, str]]:
        items = [("a", self.a), ("devId", self.dev_id), ("et", str(self.et)), ("t", str(self.t))]
        items += [("uuid", self.uuid), ("v", self.v), ("sign", self.sign)]
        return [(name, value) for name, value in items if value is not None]

    def sign_params(self) -> dict[str, str]:
        """The signed parameters, as strings, in SIGN_ORDER."""
        return {name: value for name, value in self._wire_items() if name != "sign"}

    def to_query_string(self) -> str:
        """``a=..&[devId=..&]et=..&t=..&[uuid=..&]v=..&sign=..``: CK/TO order, sign last (§4.2)."""
        return "&".join(f"{name}={quote(value, safe='.')}" for name, value in self._wire_items())


def _plain_pairs(text: str) -> list[tuple[str, str]] | None:
    """The pairs of a query with nothing to unescape (what devices send), as ``parse_qsl`` would find them, or
    None when it has escapes, ``+`` or a field without ``=``: those go through ``parse_qsl`` and its errors."""
    if not text or "%" in text or "+" in text:
        return None
    pairs: list[tuple[str, str]] = []
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not eq:
            return None
        pairs.append((name, value))
    return pairs


def _query_pairs(query: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(query, Mapping):
        pairs = list(query.items())
    elif isinstance(query, str):
        text = query.split("?", 1)[1] if "?" in query else query
        if len(text) > 4096:
            raise RemoteProtocolError("query string over 4096 characters", section=S_REQ)
        plain = _plain_pairs(text)
        if plain is not None:
            pairs = plain
        else:
            try:
                pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
            except ValueError as exc:  # includes UnicodeDecodeError from bad %-escapes
                raise RemoteProtocolError(f"malformed query string: {exc}", section=S_REQ) from None
    else:
        raise RemoteProtocolError(f"a query is a string or a mapping, not {type(query).__name__}", section=S_REQ)
    found: dict[str, str] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise RemoteProtocolError(f"query parameter {name!r} is not text", section=S_REQ)
        if name in found:
            raise RemoteProtocolError(f"query parameter {name} given twice", section=S_REQ)
        found[name] = value
    return found


def parse_query(query: str | Mapping[str, str]) -> AtopQuery:
    """Parse and validate an ATOP query (a string, with or without ``path?``, or a mapping).

    The server reads ``uuid``/``devId`` from here before it knows which key checks the sign (§4.2:
    "KEY is the full authKey string ... before activation, and the secKey after"). Parameters outside
    §4.2's list are ignored: they are not covered by the sign.
    """
    if isinstance(query, str):
        canonical = _CANONICAL_QUERY.fullmatch(query.split("?", 1)[1] if "?" in query else query)
        if canonical is not None and (canonical[2] or canonical[5]):  # every form checked by the one pattern
            a, dev_id, et, t, uuid, v, sign_ = canonical.groups()
            return _checked(AtopQuery, {"a": a, "v": v, "et": int(et), "t": int(t), "uuid": uuid, "dev_id": dev_id,
                                        "sign": sign_})
    found = _query_pairs(query)
    for name in ("a", "et", "t", "v", "sign"):
        if name not in found:
            raise RemoteProtocolError(f"query parameter {name} is missing", section=S_REQ)
    for name in _FORMS:
        if name in found:
            problem = _form_problem(name, found[name])
            if problem:
                raise RemoteProtocolError(problem, section=S_REQ)
    if "uuid" not in found and "devId" not in found:
        raise RemoteProtocolError("query names neither uuid nor devId: no key to check it with", section=S_REQ)
    # every form is checked above: AtopQuery's own check would repeat it
    return _checked(AtopQuery, {"a": found["a"], "v": found["v"], "et": int(found["et"]), "t": int(found["t"]),
                                "uuid": found.get("uuid"), "dev_id": found.get("devId"), "sign": found["sign"]})


def verify_sign(query: AtopQuery, key: str) -> bool:
    """True when ``query.sign`` is the §4.2 sign of its parameters under ``key`` (constant-time compare)."""
    return hmac.compare_digest(sign(query.sign_params(), key), query.sign)


# -------------------------------------------------------------------------------------------- request


@dataclass(frozen=True)
class AtopRequest:
    """One ATOP call: which API, the query's et/t/uuid/devId, and the decrypted body (§4.2)."""

    api: str
    version: str
    et: int
    t: int
    uuid: str | None
    dev_id: str | None
    body: bytes

    def __post_init__(self) -> None:
        # Building the query validates every field against the same forms parse_query enforces.
        self._query(sign="0" * 32)
        if not isinstance(self.body, bytes):
            raise LocalProtocolError("an ATOP request body is bytes", section=S_REQ)

    def _query(self, *, sign: str) -> AtopQuery:
        return AtopQuery(
            a=self.api, v=self.version, et=self.et, t=self.t, uuid=self.uuid, dev_id=self.dev_id, sign=sign
        )

    def signed_query(self, key: str) -> AtopQuery:
        """The query of this request, signed with ``key``."""
        unsigned = self._query(sign="0" * 32)
        return self._query(sign=sign(unsigned.sign_params(), key))


def build_request(req: AtopRequest, key: str, *, nonce: bytes | None = None) -> tuple[str, bytes]:
    """(query string ending in ``&sign=..``, form body ``data=<HEX>``) for ``POST /d.json?<query>`` (§4.2)."""
    query = req.signed_query(key).to_query_string()
    return query, b"data=" + encrypt_body(req.body, key, req.et, nonce=nonce).encode("ascii")


def parse_form_body(body: bytes) -> str:
    """The hex text of a form body ``data=<HEX>`` (§4.2), without decrypting it."""
    if not isinstance(body, bytes | bytearray):
        raise RemoteProtocolError("a request body is bytes", section=S_REQ)
    if len(body) > 2 * MAX_BODY_BYTES + 16:
        raise RemoteProtocolError(f"request body over {MAX_BODY_BYTES} bytes", section=S_REQ)
    try:
        text = bytes(body).decode("ascii")
        plain = _plain_pairs(text)
        pairs = plain if plain is not None else parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise RemoteProtocolError("request body is not a form 'data=<HEX>'", section=S_REQ) from None
    if len(pairs) != 1 or pairs[0][0] != "data":
        raise RemoteProtocolError("request body must hold exactly one field, data", section=S_REQ)
    return pairs[0][1]


def parse_request(query: str | Mapping[str, str], body: bytes, key: str) -> AtopRequest:
    """Check the sign, decode the ``data=`` form body and decrypt it (§4.2).

    Raises :class:`SignatureMismatch` for a wrong sign and :class:`DecryptionFailed` for a body that
    does not open, so a cloud can answer with distinct errorCodes.
    """
    parsed = parse_query(query)
    if not verify_sign(parsed, key):
        raise SignatureMismatch("sign does not match the query under this key", section=S_REQ)
    plaintext = decrypt_body(parse_form_body(body), key, parsed.et)
    return AtopRequest(
        api=parsed.a, version=parsed.v, et=parsed.et, t=parsed.t, uuid=parsed.uuid, dev_id=parsed.dev_id,
        body=plaintext,
    )


# -------------------------------------------------------------------------------------------- response


def success_payload(result: Any, *, t: int) -> dict[str, Any]:
    """The decrypted success form ``{"result":{...},"t":..,"success":true}`` (§4.3)."""
    return {"result": result, "t": t, "success": True}


def error_payload(error_code: str, error_msg: str, *, t: int | None = None) -> dict[str, Any]:
    """The decrypted failure form ``{"success":false,"errorCode":..,"errorMsg":..}`` (§4.3), optionally with t."""
    payload: dict[str, Any] = {"success": False, "errorCode": error_code, "errorMsg": error_msg}
    if t is not None:
        payload["t"] = t
    return payload


def encode_response(
    payload: Mapping[str, Any], key: str, et: int, *, t: int, nonce: bytes | None = None
) -> bytes:
    """Wire JSON ``{"result":"<b64>","t":..,"sign":"<16 hex>"}`` carrying the encrypted ``payload`` (§4.3)."""
    if type(t) is not int:
        raise LocalProtocolError(f"t is an integer, got {t!r}", section=S_RESP)
    try:
        plaintext = dumps_compact(dict(payload)).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"response payload is not JSON-serialisable: {exc}", section=S_RESP) from None
    b64 = base64.b64encode(_encrypt(plaintext, key, et, nonce)).decode("ascii")
    # what dumps_compact writes for these three members (base64, an int and hex need no escaping)
    return f'{{"result":"{b64}","t":{t},"sign":"{response_sign(b64, t, key)}"}}'.encode("ascii")


def encode_plain_error(error_code: str, error_msg: str, *, t: int | None = None) -> bytes:
    """An unencrypted error reply, for when the server cannot know the key (e.g. an unknown licence).

    §4.3: "TO first tries to decrypt; if that fails it parses the raw body as plaintext JSON".
    """
    return dumps_compact(error_payload(error_code, error_msg, t=t)).encode("utf-8")


@dataclass(frozen=True)
class AtopResponse:
    """A decoded ATOP reply (§4.3). ``payload`` is the whole decrypted (or plaintext) object."""

    success: bool
    result: dict[str, Any] | None
    error_code: str | None
    error_msg: str | None
    t: int | None
    encrypted: bool = True
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


_SIGN16 = re.compile(r"[0-9a-f]{16}")


def _interpret(obj: Any, *, encrypted: bool, outer_t: int | None) -> AtopResponse:
    if not isinstance(obj, dict):
        raise RemoteProtocolError("ATOP reply is not a JSON object", section=S_RESP)
    success = obj.get("success")
    if not isinstance(success, bool):
        raise RemoteProtocolError("ATOP reply lacks a boolean 'success'", section=S_RESP)
    t = obj.get("t", outer_t)
    if t is not None and type(t) is not int:
        raise RemoteProtocolError(f"ATOP reply t is not an integer: {t!r}", section=S_RESP)
    if success:
        result = obj.get("result")
        return AtopResponse(
            success=True, result=result if isinstance(result, dict) else None, error_code=None, error_msg=None,
            t=t, encrypted=encrypted, payload=obj,
        )
    code, msg = obj.get("errorCode"), obj.get("errorMsg")
    if not isinstance(code, str):
        raise RemoteProtocolError("a failed ATOP reply carries a string errorCode", section=S_RESP)
    if msg is not None and not isinstance(msg, str):
        raise RemoteProtocolError("ATOP errorMsg is not a string", section=S_RESP)
    return AtopResponse(
        success=False, result=None, error_code=code, error_msg=msg, t=t, encrypted=encrypted, payload=obj
    )


def decode_response(wire: bytes, key: str, et: int) -> AtopResponse:
    """Verify the 16-character sign, decrypt and interpret an ATOP reply (§4.3).

    A reply without the ``result``-string-plus-``sign`` shape is read as plaintext JSON, as TO does.
    A reply with that shape whose sign or ciphertext is wrong is an error, not plaintext.
    """
    outer = loads_json(wire, section=S_RESP, what="ATOP reply")
    if isinstance(outer, dict) and isinstance(outer.get("result"), str) and "sign" in outer:
        b64, t, given = outer["result"], outer.get("t"), outer["sign"]
        if type(t) is not int:
            raise RemoteProtocolError(f"encrypted ATOP reply t is not an integer: {t!r}", section=S_RESP)
        if not isinstance(given, str) or not _SIGN16.fullmatch(given):
            raise RemoteProtocolError("ATOP reply sign is not 16 lower-case hex digits", section=S_RESP)
        if not hmac.compare_digest(response_sign(b64, t, key), given):
            raise SignatureMismatch("ATOP reply sign does not match under this key", section=S_RESP)
        try:
            blob = base64.b64decode(b64.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            raise RemoteProtocolError("ATOP reply result is not base64", section=S_RESP) from None
        inner = loads_json(_decrypt(blob, key, et, S_RESP), section=S_RESP, what="decrypted ATOP reply")
        return _interpret(inner, encrypted=True, outer_t=t)
    return _interpret(outer, encrypted=False, outer_t=None)


__all__ = [
    "ACTIVE_API_ET", "API_ACTIVE_V44", "API_OPENSDK_ACTIVE", "API_RESET", "ET_ECB", "ET_GCM", "GCM_NONCE_LEN",
    "RECOMMENDED_HEADERS", "SIGN_ORDER", "SUPPORTED_ET", "AtopQuery", "AtopRequest", "AtopResponse", "DecryptionFailed",
    "SignatureMismatch", "build_request", "decode_response", "decrypt_body", "encode_plain_error", "encode_response",
    "encrypt_body", "error_payload", "parse_form_body", "parse_query", "parse_request", "response_sign", "sign",
    "sign_input", "success_payload", "verify_sign"
]
