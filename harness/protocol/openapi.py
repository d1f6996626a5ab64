"""Tuya's OpenAPI, sans-IO: request signing, the answer envelope, error codes and the pairing results (PROTOCOL.md §10).

Used by both sides: the ``openapi`` cloud adapter signs what it sends and parses what it gets back; the emulated
cloud's OpenAPI checks the same signature and builds the same envelopes. Clocks and nonces are parameters, as
everywhere in :mod:`harness.protocol`.

The sign (§10.5.2, "new" algorithm): ``stringToSign`` is the method, the hex SHA-256 of the exact body bytes, the
signed headers (``name:value\\n`` each) and the Url (path, then ``?`` and the decoded query sorted by key), joined by
``\\n``; the HMAC-SHA256 message is ``client_id + t + nonce + stringToSign`` for the two token calls and
``client_id + access_token + t + nonce + stringToSign`` for every other call; the sign is its upper-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from .errors import LocalProtocolError, RemoteProtocolError
from .strictjson import loads_json
from .token import PairingToken

S_SIGN: Final = "§10.5"
S_ENVELOPE: Final = "§10.3"
S_TOKEN: Final = "§10.4"
S_PAIRING: Final = "§10.6"
S_TOKEN_DEVICES: Final = "§10.7"

SIGN_METHOD: Final = "HMAC-SHA256"
# §10.5.2: "An empty body gives e3b0...b855".
EMPTY_BODY_SHA256: Final = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TOKEN_PATH: Final = "/v1.0/token"
# §10.4: grant_type=1 is "simple mode"; refresh is GET /v1.0/token/{refresh_token}.
GRANT_TYPE_SIMPLE: Final = "1"
MAX_ANSWER_BYTES: Final = 256 * 1024


class OpenApiCode(IntEnum):
    """The envelope's integer ``code`` (§10.4 and §10.10)."""

    SYSTEM_ERROR = 500
    DATA_NOT_EXIST = 1000
    SECRET_INVALID = 1001
    ACCESS_TOKEN_NULL = 1002
    GRANT_TYPE_INVALID = 1003
    SIGN_INVALID = 1004
    CLIENT_ID_INVALID = 1005
    TOKEN_EXPIRED = 1010
    TOKEN_INVALID = 1011
    TOKEN_STATUS_INVALID = 1012
    REQUEST_TIME_INVALID = 1013
    PARAM_EMPTY = 1100
    PARAM_RANGE_INVALID = 1101
    PARAM_NULL = 1102
    COMMANDS_ISSUE_ERROR = 1103
    TYPE_INCORRECT = 1104
    MISSING_HEADER = 1105
    PERMISSION_DENY = 1106
    CODE_INVALID = 1107
    URI_PATH_INVALID = 1108
    PARAM_ILLEGAL = 1109
    CONCURRENT_OVER_LIMIT = 1110
    SYSTEM_BUSY = 1111
    WRONG_CONFIGURATION = 1114
    TOO_FREQUENT = 1199
    DEVICE_OFFLINE = 2001
    USER_HAS_NO_DEVICES = 2002
    FUNCTION_NOT_SUPPORTED = 2003
    PRODUCT_NOT_EXIST = 2005
    USER_NOT_EXIST = 2006
    DEVICE_TOKEN_EXPIRED = 2007
    COMMAND_NOT_SUPPORTED = 2008
    DEVICE_NOT_SUPPORTED = 2009
    DEVICE_NOT_EXIST = 2010
    SKILL_ID_INVALID = 2406
    SUBSCRIPTION_EXPIRED = 28841002
    API_NOT_SUBSCRIBED = 28841101
    API_NOT_AUTHORISED = 28841105


# The messages the docs give (§10.4, §10.10); the emulated cloud answers with these.
MESSAGES: Final[Mapping[int, str]] = {
    OpenApiCode.SYSTEM_ERROR: "system error, please contact the admin",
    OpenApiCode.DATA_NOT_EXIST: "data not exist",
    OpenApiCode.SECRET_INVALID: "secret invalid",
    OpenApiCode.ACCESS_TOKEN_NULL: "access_token is null",
    OpenApiCode.GRANT_TYPE_INVALID: "grant type invalid",
    OpenApiCode.SIGN_INVALID: "sign invalid",
    OpenApiCode.CLIENT_ID_INVALID: "clientId invalid",
    OpenApiCode.TOKEN_EXPIRED: "token is expired",
    OpenApiCode.TOKEN_INVALID: "token invalid",
    OpenApiCode.TOKEN_STATUS_INVALID: "token status is invalid",
    OpenApiCode.REQUEST_TIME_INVALID: "request time is invalid",
    OpenApiCode.PARAM_EMPTY: "param is empty",
    OpenApiCode.PARAM_RANGE_INVALID: "params range invalid",
    OpenApiCode.PARAM_NULL: "param is null",
    OpenApiCode.COMMANDS_ISSUE_ERROR: "commands issue error",
    OpenApiCode.TYPE_INCORRECT: "type is incorrect",
    OpenApiCode.MISSING_HEADER: "missing the header",
    OpenApiCode.PERMISSION_DENY: "permission deny",
    OpenApiCode.CODE_INVALID: "code invalid",
    OpenApiCode.URI_PATH_INVALID: "uri path invalid",
    OpenApiCode.PARAM_ILLEGAL: "param is illegal",
    OpenApiCode.CONCURRENT_OVER_LIMIT: "concurrent request over limit",
    OpenApiCode.SYSTEM_BUSY: "system is busy, please retry later",
    OpenApiCode.TOO_FREQUENT: "your requests are too frequent",
    OpenApiCode.DEVICE_OFFLINE: "device is offline",
    OpenApiCode.USER_HAS_NO_DEVICES: "this user does not have any devices",
    OpenApiCode.FUNCTION_NOT_SUPPORTED: "function not support",
    OpenApiCode.PRODUCT_NOT_EXIST: "product not exist",
    OpenApiCode.USER_NOT_EXIST: "user not exist",
    OpenApiCode.DEVICE_TOKEN_EXPIRED: "device token expired",
    OpenApiCode.COMMAND_NOT_SUPPORTED: "command or value not support",
    OpenApiCode.DEVICE_NOT_SUPPORTED: "not support this device",
    OpenApiCode.DEVICE_NOT_EXIST: "device not exist",
}

# §10.4: what a client does about a failed call. Token trouble is cured by one new login, a clock off by one
# resynchronisation from the answer's ``t``, a rate limit by one back-off; nothing else by retrying.
RELOGIN_CODES: Final = frozenset({OpenApiCode.TOKEN_EXPIRED, OpenApiCode.TOKEN_INVALID,
                                  OpenApiCode.TOKEN_STATUS_INVALID, OpenApiCode.ACCESS_TOKEN_NULL})
CLOCK_CODES: Final = frozenset({OpenApiCode.REQUEST_TIME_INVALID})
BACK_OFF_CODES: Final = frozenset({OpenApiCode.CONCURRENT_OVER_LIMIT, OpenApiCode.SYSTEM_BUSY,
                                   OpenApiCode.TOO_FREQUENT})


def message_for(code: int) -> str:
    """The documented message of ``code`` (a generic one for codes the docs do not list)."""
    return MESSAGES.get(code, f"error {code}")


# ------------------------------------------------------------------------------------------------- signing


def content_sha256(body: bytes) -> str:
    """§10.5.2 Content-SHA256: lower-case hex SHA-256 of the exact body bytes."""
    return hashlib.sha256(body).hexdigest()


def canonical_url(path: str, query: Iterable[tuple[str, str]] = ()) -> str:
    """§10.5.2 Url: the path, then ``?`` and ``key=value`` pairs sorted by key, joined by ``&``, values decoded.

    Pairs with the same key keep their order (TCN's ``key[0]``/``key[1]`` arrays are distinct keys anyway).
    """
    pairs = sorted(((str(k), str(v)) for k, v in query), key=lambda kv: kv[0])
    if not pairs:
        return path
    return path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def signature_header_names(value: str | None) -> list[str]:
    """The names listed in a ``Signature-Headers`` header (§10.5.1): split on ``:``, empty parts dropped."""
    if not value:
        return []
    return [name.strip() for name in value.split(":") if name.strip()]


def string_to_sign(method: str, body: bytes, url: str, headers: Sequence[tuple[str, str]] = ()) -> str:
    """§10.5.2 stringToSign: method, Content-SHA256, the signed headers (``name:value\\n`` each), Url."""
    signed = "".join(f"{name}:{value}\n" for name, value in headers)
    return "\n".join((method.upper(), content_sha256(body), signed, url))


def is_token_call(method: str, path: str) -> bool:
    """§10.5.2: exactly ``GET /v1.0/token`` and ``GET /v1.0/token/{refresh}`` are signed without a token."""
    if method.upper() != "GET":
        return False
    return path == TOKEN_PATH or (path.startswith(TOKEN_PATH + "/") and "/" not in path[len(TOKEN_PATH) + 1:])


def _hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def sign(secret: str, *, client_id: str, t: int | str, string_to_sign: str, access_token: str = "",
         nonce: str = "") -> str:
    """§10.5.2 sign (new algorithm). ``access_token`` empty for the token calls; an absent nonce is ``""``."""
    return _hmac_hex(secret, f"{client_id}{access_token}{t}{nonce}{string_to_sign}")


def sign_old(secret: str, *, client_id: str, t: int | str, access_token: str = "") -> str:
    """§10.5.2 old algorithm: ``HMAC(client_id + t)`` for token calls, ``HMAC(client_id + access_token + t)``."""
    return _hmac_hex(secret, f"{client_id}{access_token}{t}")


@dataclass(frozen=True)
class SignedRequest:
    """What a client needs to sign one call (§10.5): everything but the secret, time and nonce passed in."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    access_token: str = field(default="", repr=False)
    signed_headers: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return canonical_url(self.path, self.query)

    def string_to_sign(self) -> str:
        return string_to_sign(self.method, self.body, self.url, self.signed_headers)

    def headers(self, *, client_id: str, secret: str, t_ms: int, nonce: str = "", lang: str = "en") -> dict[str, str]:
        """The §10.5.1 headers of this call: ``client_id``, ``t``, ``sign_method``, ``sign``, ``access_token``."""
        token = "" if is_token_call(self.method, self.path) else self.access_token
        if not token and not is_token_call(self.method, self.path):
            raise LocalProtocolError(f"{self.method} {self.path} is a business call: it needs an access token",
                                     section=S_SIGN)
        out = {"client_id": client_id, "t": str(t_ms), "sign_method": SIGN_METHOD, "lang": lang,
               "sign": sign(secret, client_id=client_id, t=t_ms, string_to_sign=self.string_to_sign(),
                            access_token=token, nonce=nonce)}
        if token:
            out["access_token"] = token
        if nonce:
            out["nonce"] = nonce
        if self.signed_headers:
            out["Signature-Headers"] = ":".join(name for name, _ in self.signed_headers)
            out.update(dict(self.signed_headers))
        return out


def verify_sign(secret: str, given: str, *, client_id: str, t: str, string_to_sign: str, access_token: str = "",
                nonce: str = "") -> bool:
    """Whether ``given`` is the sign of this call (constant-time; hex case ignored, as the docs show upper case)."""
    expected = sign(secret, client_id=client_id, t=t, string_to_sign=string_to_sign, access_token=access_token,
                    nonce=nonce)
    return hmac.compare_digest(expected.encode("ascii"), given.strip().upper().encode("utf-8", "replace"))


def body_hashes(method: str, body: bytes) -> tuple[bytes, ...]:
    """The bodies a server hashes for a received body (§10.13 rule 3): the raw bytes, never re-serialised, and
    also ``b""`` when the body is exactly ``{}`` (TCP and TIOT sign ``""`` for ``post(path, {})``)."""
    return (body, b"") if body.strip() == b"{}" else (body,)


# ------------------------------------------------------------------------------------------------- envelope


@dataclass(frozen=True)
class Envelope:
    """One answer (§10.3): ``{"success": true, "result", "t", "tid"}`` or ``{"success": false, "code", "msg"}``."""

    success: bool
    result: Any = None
    code: int | None = None
    msg: str = ""
    t: int = 0
    tid: str = ""

    def __post_init__(self) -> None:
        if self.success == (self.code is not None):
            raise LocalProtocolError("a successful answer has no code and a failed one has one", section=S_ENVELOPE)

    def to_bytes(self) -> bytes:
        """The answer's JSON (compact, UTF-8), members in the order the wire logs show them."""
        if self.success:
            body: dict[str, Any] = {"result": self.result, "success": True, "t": self.t, "tid": self.tid}
        else:
            body = {"code": self.code, "msg": self.msg, "success": False, "t": self.t, "tid": self.tid}
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise LocalProtocolError(f"the answer cannot be encoded as JSON: {exc}", section=S_ENVELOPE) from None


def success(result: Any, *, t_ms: int, tid: str) -> Envelope:
    return Envelope(True, result=result, t=t_ms, tid=tid)


def failure(code: int, *, t_ms: int, tid: str, msg: str | None = None) -> Envelope:
    return Envelope(False, code=int(code), msg=message_for(code) if msg is None else msg, t=t_ms, tid=tid)


def parse_envelope(raw: bytes) -> Envelope:
    """An answer's envelope; anything else is :class:`RemoteProtocolError` (§10.3)."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise RemoteProtocolError(f"an OpenAPI answer over {MAX_ANSWER_BYTES} bytes", section=S_ENVELOPE)
    value = loads_json(raw, section=S_ENVELOPE, what="an OpenAPI answer")
    if not isinstance(value, dict):
        raise RemoteProtocolError("an OpenAPI answer must be a JSON object", section=S_ENVELOPE)
    ok = value.get("success")
    if not isinstance(ok, bool):
        raise RemoteProtocolError("an OpenAPI answer has a boolean 'success'", section=S_ENVELOPE)
    t = value.get("t", 0)
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise RemoteProtocolError(f"'t' must be a time in milliseconds, got {t!r}", section=S_ENVELOPE)
    tid = value.get("tid", "")
    if ok:
        return Envelope(True, result=value.get("result"), t=t, tid=str(tid))
    code = value.get("code")
    if isinstance(code, str) and code.isdigit() and len(code) < 12:
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        raise RemoteProtocolError(f"a failed OpenAPI answer has an integer 'code', got {code!r}", section=S_ENVELOPE)
    return Envelope(False, code=code, msg=str(value.get("msg", "")), t=t, tid=str(tid))


# ------------------------------------------------------------------------------------------------- results


def _obj(result: Any, what: str, section: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise RemoteProtocolError(f"{what} must be a JSON object, got {type(result).__name__}", section=section)
    return result


def _text(raw: dict[str, Any], key: str, what: str, section: str, *, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RemoteProtocolError(f"{what} has no text {key!r}: {value!r}", section=section)
    return str(value)


def _seconds(raw: dict[str, Any], keys: Sequence[str], what: str, section: str) -> int:
    for key in keys:
        value = raw.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RemoteProtocolError(f"{what}'s {key!r} must be whole seconds, got {value!r}", section=section)
            return value
    raise RemoteProtocolError(f"{what} has no lifetime ({' or '.join(keys)})", section=section)


@dataclass(frozen=True)
class AccessToken:
    """A token answer's result (§10.4): the access and refresh tokens (secrets), their lifetime and ``uid``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expire_time: int
    uid: str = ""

    @classmethod
    def from_result(cls, result: Any) -> AccessToken:
        raw = _obj(result, "a token result", S_TOKEN)
        access = _text(raw, "access_token", "a token result", S_TOKEN)
        refresh = _text(raw, "refresh_token", "a token result", S_TOKEN)
        if not access or not refresh:
            raise RemoteProtocolError("a token result has empty tokens", section=S_TOKEN)
        # §10.4: "One old doc names the lifetime field expire. TCP and TIOT read expire first, then expire_time."
        expire = _seconds(raw, ("expire_time", "expire"), "a token result", S_TOKEN)
        return cls(access, refresh, expire, _text(raw, "uid", "a token result", S_TOKEN, required=False))

    def to_result(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "expire_time": self.expire_time,
                "refresh_token": self.refresh_token, "uid": self.uid}


@dataclass(frozen=True)
class PairingTokenResult:
    """``POST /v1.0/device/paring/token``'s result (§10.6.2): region, 8-character token, secret, lifetime (s)."""

    region: str
    token: str
    secret: str
    expire_time: int

    def __post_init__(self) -> None:
        PairingToken(self.region, self.token, self.secret)  # LocalProtocolError when it cannot be a token (§1.3)

    @property
    def pairing_token(self) -> str:
        """§10.6.2: "The 14-character string is region + token + secret"."""
        return str(PairingToken(self.region, self.token, self.secret))

    @classmethod
    def from_result(cls, result: Any) -> PairingTokenResult:
        raw = _obj(result, "a pairing-token result", S_PAIRING)
        region, token, secret = (_text(raw, key, "a pairing-token result", S_PAIRING)
                                 for key in ("region", "token", "secret"))
        expire = _seconds(raw, ("expire_time",), "a pairing-token result", S_PAIRING)
        try:
            parsed = PairingToken.parse(region + token + secret)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"the pairing token's parts do not make a token: {exc.message}",
                                      section=S_PAIRING) from None
        if (parsed.region, parsed.token, parsed.secret) != (region, token, secret):
            raise RemoteProtocolError(f"the pairing token's parts have the wrong lengths: {region!r} + {token!r} + "
                                      f"{secret!r}", section=S_PAIRING)
        return cls(region, token, secret, expire)

    def to_result(self) -> dict[str, Any]:
        return {"expire_time": self.expire_time, "region": self.region, "secret": self.secret, "token": self.token}


@dataclass(frozen=True)
class PairedDevice:
    """One entry of a token query (§10.7): a device in the ``success`` list, or in ``failed`` with a code."""

    device_id: str
    name: str = ""
    product_id: str = ""
    code: str | None = None
    msg: str | None = None

    @property
    def failed(self) -> bool:
        return self.code is not None


@dataclass(frozen=True)
class TokenDevices:
    """``GET /v1.0/device/paring/tokens/{token}``'s result (§10.7): the success and failed lists, in order."""

    success: tuple[PairedDevice, ...]
    failed: tuple[PairedDevice, ...]

    @classmethod
    def from_result(cls, result: Any) -> TokenDevices:
        raw = _obj(result, "a token query result", S_TOKEN_DEVICES)
        return cls(_entries(raw.get("success"), failed=False), _entries(raw.get("failed"), failed=True))

    def to_result(self) -> dict[str, Any]:
        return {"success": [{"device_id": d.device_id, "name": d.name, "product_id": d.product_id}
                            for d in self.success],
                "failed": [{"device_id": d.device_id, "name": d.name, "code": d.code, "msg": d.msg}
                           for d in self.failed]}


def _entries(raw: Any, *, failed: bool) -> tuple[PairedDevice, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RemoteProtocolError(f"a token query's list is not a list: {raw!r}", section=S_TOKEN_DEVICES)
    out: list[PairedDevice] = []
    for item in raw:
        entry = _obj(item, "a token query entry", S_TOKEN_DEVICES)
        device_id = _text(entry, "device_id", "a token query entry", S_TOKEN_DEVICES)
        name = _text(entry, "name", "a token query entry", S_TOKEN_DEVICES, required=False)
        if failed:
            # §10.3: "Error-list codes are strings ("2001")"; a number is taken as its digits.
            code = _text(entry, "code", "a failed entry", S_TOKEN_DEVICES)
            msg = _text(entry, "msg", "a failed entry", S_TOKEN_DEVICES, required=False)
            out.append(PairedDevice(device_id, name, code=code, msg=msg))
        else:
            product = _text(entry, "product_id", "a success entry", S_TOKEN_DEVICES, required=False)
            out.append(PairedDevice(device_id, name, product_id=product))
    return tuple(out)


__all__ = [
    "BACK_OFF_CODES", "CLOCK_CODES", "EMPTY_BODY_SHA256", "GRANT_TYPE_SIMPLE", "MESSAGES", "RELOGIN_CODES",
    "SIGN_METHOD", "TOKEN_PATH", "AccessToken", "Envelope", "OpenApiCode", "PairedDevice", "PairingTokenResult",
    "SignedRequest", "TokenDevices", "body_hashes", "canonical_url", "content_sha256", "failure", "is_token_call",
    "message_for", "parse_envelope", "sign", "sign_old", "signature_header_names", "string_to_sign", "success",
    "verify_sign",
]
