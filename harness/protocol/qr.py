"""QR pairing payload: the JSON text the app shows and the device scans (PROTOCOL.md §1).

Sans-IO, like the rest of :mod:`harness.protocol`: text in, :class:`QrPayload` out (:func:`parse_qr_text`),
and back (:meth:`QrPayload.to_text`). Turning the text into an image and back is :mod:`harness.qrimage`'s
job: images are not text and bytes, so they stay out of the sans-IO layer.

Unknown members: §1.2 found no extra keys in public sources, but device parsers look the three keys up by
name (cJSON) and ignore anything else, so :func:`parse_qr_text` accepts unknown members and keeps them, in
document order, in :attr:`QrPayload.extras` as compact JSON text; :meth:`QrPayload.to_text` writes them back
after ``s``, ``p`` and ``t``. Suites decide whether a device must tolerate them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NoReturn

from .errors import LocalProtocolError, RemoteProtocolError
from .token import TOKEN_STRING_LEN, PairingToken

SSID_MAX_BYTES = 32
PASSWORD_MAX_CHARS = 64
MEMBERS = ("s", "p", "t")
DEFAULT_KEY_ORDER = "spt"

_PAYLOAD = "§1.1"  # what the object must hold
_ENCODING = "§1.2"  # how it is encoded and escaped



class _Object(list[tuple[str, object]]):
    """A JSON object as parsed: its members in document order."""


class _Number(str):
    """A JSON number kept as its literal, so that nothing is lost to float or int conversion."""


def _unique_members(pairs: list[tuple[str, object]]) -> _Object:
    # Duplicates are ambiguous: cJSON's lookup finds the first, Python's dict keeps the last.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RemoteProtocolError(f"QR text has a duplicate member {key!r}", section=_PAYLOAD)
        seen.add(key)
    return _Object(pairs)


def _no_constant(name: str) -> NoReturn:
    raise RemoteProtocolError(f"QR text is not valid JSON: {name} is not a JSON value", section=_ENCODING)


def _loads(text: str) -> object:
    """Strict RFC 8259 parse: no NaN/Infinity, no duplicate members, numbers kept as literals."""
    try:
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant,
                          parse_int=_Number, parse_float=_Number)
    except RecursionError:
        raise RemoteProtocolError("QR text is JSON nested too deeply to parse", section=_ENCODING) from None
    except json.JSONDecodeError as exc:
        raise RemoteProtocolError(f"QR text is not valid JSON: {exc.msg} at character {exc.pos}",
                                  section=_ENCODING) from None


def _dump_string(value: str, *, ascii_only: bool, escape_slash: bool) -> str:
    # §1.2: UTF-8 written raw (NSJSONSerialization does not \u-escape), `"` and `\` escaped as in standard
    # JSON; Apple escapes `/` as `\/` unless told otherwise. json.dumps never emits `/` inside an escape.
    out = json.dumps(value, ensure_ascii=ascii_only)
    return out.replace("/", "\\/") if escape_slash else out


def _dump(value: object, *, ascii_only: bool, escape_slash: bool) -> str:
    """Compact JSON text of a value as :func:`_loads` returns it."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        return _dump_string(value, ascii_only=ascii_only, escape_slash=escape_slash)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, _Object):
        return "{" + ",".join(_dump(k, ascii_only=ascii_only, escape_slash=escape_slash) + ":"
                              + _dump(v, ascii_only=ascii_only, escape_slash=escape_slash) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v, ascii_only=ascii_only, escape_slash=escape_slash) for v in value) + "]"
    raise LocalProtocolError(f"not a JSON value: {type(value).__name__}")  # pragma: no cover - _loads never


def _json_type(value: object) -> str:
    if isinstance(value, _Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else type(value).__name__


def _lone_surrogate(text: str) -> int | None:
    """Index of the first character UTF-8 cannot encode (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def utf8_bytes(text: str | bytes, what: str) -> bytes:
    """The UTF-8 bytes of caller-supplied text; text UTF-8 cannot encode is the caller's mistake."""
    if isinstance(text, bytes | bytearray | memoryview):
        return bytes(text)
    if not isinstance(text, str):
        raise LocalProtocolError(f"{what} must be str or bytes, not {type(text).__name__}")
    where = _lone_surrogate(text)
    if where is not None:
        raise LocalProtocolError(f"{what} has a lone surrogate U+{ord(text[where]):04X} at index {where}")
    return text.encode("utf-8")


def _canonical_extra(key: str, value: str) -> str:
    try:
        parsed = _loads(value)
        canonical = _dump(parsed, ascii_only=False, escape_slash=False)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"QR extra member {key!r} is not JSON text: {exc.message}") from None
    except RecursionError:
        raise LocalProtocolError(f"QR extra member {key!r} is nested too deeply") from None
    if _lone_surrogate(canonical) is not None:
        raise LocalProtocolError(f"QR extra member {key!r} has a string with a lone surrogate")
    return canonical


@dataclass(frozen=True)
class QrPayload:
    """What a pairing QR code carries (§1.1): SSID, Wi-Fi password, and the 14-character token string.

    The codec is deliberately permissive so that fuzzers can reach the device with odd but encodable
    payloads: the SSID is 1..32 UTF-8 bytes (any characters, controls included), the password 0..64
    characters (WPA's 8..63 printable or 64 hex is for strategies to narrow), the token any string
    (:attr:`pairing_token` checks it). ``extras`` are unknown members as ``(key, JSON text)`` pairs.
    """

    ssid: str
    password: str
    token: str
    extras: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        for name in ("ssid", "password", "token"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise LocalProtocolError(f"QR payload {name} must be a str, got {type(value).__name__}")
            where = _lone_surrogate(value)
            if where is not None:
                raise LocalProtocolError(f"QR payload {name} cannot be UTF-8 encoded: lone surrogate "
                                         f"U+{ord(value[where]):04X} at index {where} (§1.2)")
        ssid_bytes = len(self.ssid.encode("utf-8"))
        if not 1 <= ssid_bytes <= SSID_MAX_BYTES:
            raise LocalProtocolError(
                f"QR payload SSID must be 1..{SSID_MAX_BYTES} UTF-8 bytes, got {ssid_bytes} (§1.1)")
        if len(self.password) > PASSWORD_MAX_CHARS:
            raise LocalProtocolError(
                f"QR payload password must be at most {PASSWORD_MAX_CHARS} characters, got {len(self.password)} (§1.1)")
        object.__setattr__(self, "extras", self._checked_extras(self.extras))

    @staticmethod
    def _checked_extras(extras: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(extras, tuple):
            raise LocalProtocolError(f"QR payload extras must be a tuple of (key, JSON text) pairs, "
                                     f"got {type(extras).__name__}")
        checked: list[tuple[str, str]] = []
        seen: set[str] = set(MEMBERS)
        for pair in extras:
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise LocalProtocolError(f"QR extra member must be a (key, JSON text) pair of str, got {pair!r}")
            key, value = pair
            if key in seen:
                raise LocalProtocolError(f"QR extra member {key!r} duplicates another member")
            if _lone_surrogate(key) is not None:
                raise LocalProtocolError(f"QR extra member name {key!r} has a lone surrogate")
            seen.add(key)
            checked.append((key, _canonical_extra(key, value)))
        return tuple(checked)

    @property
    def pairing_token(self) -> PairingToken:
        """The token string parsed (§1.3); raises :class:`RemoteProtocolError` if it is malformed."""
        return PairingToken.parse(self.token)

    def to_text(self, key_order: str = DEFAULT_KEY_ORDER, escape_slash: bool = False,
                ascii_only: bool = False) -> str:
        """Compact JSON text, no spaces (§1.1), as the app serializes it.

        ``key_order`` is any permutation of ``"spt"`` (§1.2: docs use s,p,t, IPC SDK examples p,s,t);
        ``escape_slash`` writes ``/`` as ``\\/`` like Apple's serializer; ``ascii_only`` writes non-ASCII as
        ``\\uXXXX`` (surrogate pairs beyond the BMP). Extras follow the three members.
        """
        if not isinstance(key_order, str) or sorted(key_order) != sorted(MEMBERS):
            raise LocalProtocolError(f"key_order must be a permutation of 'spt', got {key_order!r}")
        values = {"s": self.ssid, "p": self.password, "t": self.token}
        members = [(key, _dump_string(values[key], ascii_only=ascii_only, escape_slash=escape_slash))
                   for key in key_order]
        members += [(key, _dump(_loads(text), ascii_only=ascii_only, escape_slash=escape_slash))
                    for key, text in self.extras]
        return "{" + ",".join(_dump_string(key, ascii_only=ascii_only, escape_slash=escape_slash) + ":" + value
                              for key, value in members) + "}"

    def to_bytes(self, key_order: str = DEFAULT_KEY_ORDER, escape_slash: bool = False,
                 ascii_only: bool = False) -> bytes:
        """:meth:`to_text` as the UTF-8 bytes a QR code carries in byte mode (§1.2)."""
        return self.to_text(key_order, escape_slash, ascii_only).encode("utf-8")


def _qr_str(text: str | bytes) -> str:
    """The QR text as a str: bytes decoded as UTF-8 (§1.2), a str checked for lone surrogates UTF-8 cannot carry."""
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"QR text is not valid UTF-8: {exc.reason} at byte {exc.start} "
                                      f"(0x{raw[exc.start]:02x})", section=_ENCODING) from None
    if not isinstance(text, str):
        raise LocalProtocolError(f"parse_qr_text takes str or bytes, not {type(text).__name__}")
    where = _lone_surrogate(text)
    if where is not None:
        raise RemoteProtocolError(f"QR text has a lone surrogate U+{ord(text[where]):04X} at index {where}, "
                                  f"which UTF-8 cannot carry", section=_ENCODING)
    return text


def _extra(key: str, value: object) -> tuple[str, str]:
    """An unknown member kept as ``(key, compact JSON of its value)``."""
    try:
        dumped = _dump(value, ascii_only=False, escape_slash=False)
    except RecursionError:
        raise RemoteProtocolError(f"QR member {key!r} is nested too deeply", section=_ENCODING) from None
    if _lone_surrogate(key) is not None or _lone_surrogate(dumped) is not None:
        raise RemoteProtocolError(f"QR member {key!r} has a lone surrogate", section=_ENCODING)
    return key, dumped


def parse_qr_text(text: str | bytes) -> QrPayload:
    """Parse QR text as a device should (§1.1, §1.2), or raise :class:`RemoteProtocolError` saying why.

    Any key order, ``\\/``, ``\\uXXXX`` (surrogate pairs included) and the standard escapes are accepted,
    as is insignificant whitespace between tokens. Rejected: bytes that are not UTF-8, text that is not one
    strict JSON object, duplicate members, a missing or non-string ``s``/``p``/``t``, lone surrogates, an
    SSID of 0 or more than 32 UTF-8 bytes, a password of more than 64 characters. Unknown members are kept
    in ``extras``. Whatever the input, nothing but a ProtocolError escapes.
    """
    document = _loads(_qr_str(text))
    if not isinstance(document, _Object):
        raise RemoteProtocolError(f"QR text must be a JSON object, got {_json_type(document)}", section=_PAYLOAD)
    members = dict(document)
    for key in MEMBERS:
        if key not in members:
            raise RemoteProtocolError(f"QR text has no member {key!r}", section=_PAYLOAD)
        value = members[key]
        if not isinstance(value, str) or isinstance(value, _Number):
            raise RemoteProtocolError(f"QR member {key!r} must be a JSON string, got {_json_type(value)}",
                                      section=_PAYLOAD)
        where = _lone_surrogate(value)
        if where is not None:
            raise RemoteProtocolError(f"QR member {key!r} has a lone surrogate U+{ord(value[where]):04X} at "
                                      f"index {where}", section=_ENCODING)
    ssid, password, token = (str(members[key]) for key in MEMBERS)
    ssid_bytes = len(ssid.encode("utf-8"))
    if not 1 <= ssid_bytes <= SSID_MAX_BYTES:
        raise RemoteProtocolError(f"QR SSID must be 1..{SSID_MAX_BYTES} UTF-8 bytes, got {ssid_bytes}",
                                  section=_PAYLOAD)
    if len(password) > PASSWORD_MAX_CHARS:
        raise RemoteProtocolError(f"QR password must be at most {PASSWORD_MAX_CHARS} characters, got {len(password)}",
                                  section=_PAYLOAD)
    extras = tuple(_extra(key, value) for key, value in document if key not in MEMBERS)
    try:
        return QrPayload(ssid, password, token, extras=extras)
    except (LocalProtocolError, RecursionError) as exc:  # defensive: the checks above should make this unreachable
        raise RemoteProtocolError(f"QR text is not a valid payload: {exc}", section=_PAYLOAD) from None


# -- checking what an app rendered, and what a device must refuse -------------------------------------------


def _whitespace_outside_strings(text: str) -> int | None:
    """Index of the first JSON whitespace character between tokens (compact JSON has none), or None."""
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in " \t\n\r":
            return index
    return None


def _members_problem(names: list[str]) -> str | None:
    if sorted(names) == sorted(MEMBERS):
        return None
    missing = [name for name in MEMBERS if name not in names]
    others = [name for name in names if name not in MEMBERS]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return (f"it does not have exactly the members s, p and t: members {names}"
            + (f", missing {missing}" if missing else "") + (f", extra {others}" if others else "")
            + (f", duplicated {duplicates}" if duplicates else ""))


def rendering_problem(data: bytes, meant: QrPayload) -> str | None:
    """What keeps ``data`` (the bytes a QR code holds) from being the §1.1 payload of ``meant``, or None: compact
    JSON (no whitespace outside strings; any key order and any legal escape, §1.2), one object with exactly the
    string members s, p and t, holding exactly ``meant``'s SSID, password and 14-character token. Duplicate
    members are reported, not resolved."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 ({exc.reason} at byte {exc.start})"
    where = _whitespace_outside_strings(text)
    if where is not None:
        return f"it is not compact JSON: whitespace {text[where]!r} outside a string at character {where}"
    try:
        document = json.loads(text, object_pairs_hook=_Object)
    except json.JSONDecodeError as exc:
        return f"it is not JSON: {exc.msg} at character {exc.pos}"
    except RecursionError:
        return "it is JSON nested too deeply to read"
    if not isinstance(document, _Object):
        return f"it is not a JSON object but a {type(document).__name__}"
    problem = _members_problem([name for name, _ in document])
    if problem is not None:
        return problem
    members = dict(document)
    not_strings = [name for name in MEMBERS if not isinstance(members[name], str)]
    if not_strings:
        return f"members {not_strings} are not JSON strings"
    expected = {"s": ("the SSID", meant.ssid), "p": ("the Wi-Fi password", meant.password),
                "t": ("the token", meant.token)}
    wrong = [f"{name} is not {what} used" for name, (what, value) in expected.items() if members[name] != value]
    if wrong:
        return "; ".join(wrong)
    if len(meant.token) != TOKEN_STRING_LEN:
        return f"the token t has {len(meant.token)} characters, not {TOKEN_STRING_LEN}"
    return None


def illegal_qr_texts(token: str) -> dict[str, str]:
    """QR texts a device must refuse (§1.1 members, §1.2 JSON and its duplicates, §1.3 SSID length, §1.4 token
    shape), by name, each
    built around ``token`` (one the cloud really issued, so that only the defect stands in the way)."""
    def text(ssid: str = "lab-net", token_text: str = token, *, drop: str = "", close: str = "}") -> str:
        members = {"s": ssid, "p": "pw123456", "t": token_text}
        return "{" + ",".join(f'"{k}":"{v}"' for k, v in members.items() if k != drop) + close

    return {
        "missing-password": text(drop="p"),
        "missing-token": text(drop="t"),
        "not-json": text(close=""),
        "ssid-over-32-bytes": text(ssid="x" * 40),
        "malformed-token": text(token_text=token[:9]),
        # §1.2: strict JSON, one member per name; which "s" would count is exactly what a device must not guess
        "duplicate-ssid": text()[:-1] + ',"s":"other-net"}',
    }


__all__ = [
    "DEFAULT_KEY_ORDER",
    "MEMBERS",
    "PASSWORD_MAX_CHARS",
    "SSID_MAX_BYTES",
    "QrPayload",
    "illegal_qr_texts",
    "parse_qr_text",
    "rendering_problem",
    "utf8_bytes",
]
