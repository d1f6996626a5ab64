"""AP (SoftAP) pairing frames: legacy 55AA "AP 3.x" (PROTOCOL.md §3.1) and LPV3.5 6699 (§3.2).

Sans-IO in the h11 manner: whole-frame ``encode_*``/``decode_*`` functions, and for byte streams the
:class:`ApFrameBuffer` / :class:`Lpv35FrameBuffer` pair with ``receive_data(bytes)`` and
``next_frame()``. Nonces are parameters: nothing here draws randomness or reads a clock.

Errors: a :class:`FrameError` (a :class:`RemoteProtocolError`) names in ``reason`` which framing check
failed (prefix, suffix, length, CRC, tag, reserved); payload errors are plain RemoteProtocolErrors. Asking
to build something the specification forbids (a 33-byte SSID, a 13-byte nonce) is a LocalProtocolError.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._json import dump_json, load_json_object
from .errors import LocalProtocolError, RemoteProtocolError
from .framing import MAX_FRAME_LEN, FrameBuffer, FrameError, FrameFault, check_prefix

LEGACY = "§3.1"
LPV35 = "§3.2"
U32_MAX = 0xFFFF_FFFF


def _u32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise LocalProtocolError(f"{what} must be an unsigned 32-bit integer, got {value!r}")
    return value


@contextmanager
def _their_fault(section: str) -> Iterator[None]:
    """Inside a parser, a value the records refuse came from the peer: re-raise it as theirs."""
    try:
        yield
    except LocalProtocolError as exc:
        raise RemoteProtocolError(exc.message, section=section) from None


def _utf8_len(text: str, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{what} is not encodable as UTF-8 (lone surrogate)") from None


# --------------------------------------------------------------------------------------------------
# §3.1 legacy 55AA frame

AP_PREFIX = b"\x00\x00\x55\xaa"
AP_SUFFIX = b"\x00\x00\xaa\x55"
#: §3.1: "cmd = 0x00000001", TT's ``AP_CONFIG`` ("FRM_TP_CFG_WF ... only used for ap 3.0 network config").
AP_CONFIG_CMD = 1
#: §3.1: "CC caps the payload at 0xE8 = 232 bytes" (a sender's choice; the decoder does not enforce it).
CLOUDCUTTER_MAX_PAYLOAD = 0xE8
_AP_HEADER = struct.Struct(">4sIII")  # prefix, seq, cmd, len
_AP_OVERHEAD = _AP_HEADER.size + 8  # + CRC-32 + suffix


@dataclass(frozen=True)
class ApFrame:
    """A legacy 55AA frame (§3.1): all integers big-endian, payload as carried."""

    seq: int
    cmd: int
    payload: bytes

    def __post_init__(self) -> None:
        _u32(self.seq, "seq")
        _u32(self.cmd, "cmd")
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("payload must be bytes")
        if len(self.payload) + _AP_OVERHEAD > MAX_FRAME_LEN:
            raise LocalProtocolError(f"payload of {len(self.payload)} bytes exceeds the frame limit {MAX_FRAME_LEN}")


def encode_ap_frame(payload: bytes, *, seq: int = 0, cmd: int = AP_CONFIG_CMD) -> bytes:
    """Frame ``payload`` as §3.1: prefix | seq | cmd | len(payload)+8 | payload | CRC-32 | suffix."""
    frame = ApFrame(seq=seq, cmd=cmd, payload=payload)
    # §3.1: "The CRC is standard CRC-32 over every byte from the prefix up to the end of the payload."
    body = _AP_HEADER.pack(AP_PREFIX, frame.seq, frame.cmd, len(frame.payload) + 8) + frame.payload
    return body + struct.pack(">I", zlib.crc32(body)) + AP_SUFFIX


def _ap_frame_len(header: bytes) -> int:
    length: int = _AP_HEADER.unpack(header)[3]
    if length < 8 or _AP_HEADER.size + length > MAX_FRAME_LEN:
        raise FrameError(f"declared length {length} is not between 8 and {MAX_FRAME_LEN - _AP_HEADER.size}",
                         reason=FrameFault.LENGTH, section=LEGACY)
    return _AP_HEADER.size + length


def decode_ap_frame(data: bytes, *, check_crc: bool = True) -> ApFrame:
    """Decode one whole legacy frame, saying which check failed.

    ``check_crc=False`` models the firmware CC disassembled, which "does not check seq or the CRC" (§3.1).
    """
    check_prefix(data, AP_PREFIX, LEGACY)
    if len(data) < _AP_OVERHEAD:
        raise FrameError(f"frame of {len(data)} bytes is shorter than the {_AP_OVERHEAD}-byte minimum",
                         reason=FrameFault.LENGTH, section=LEGACY)
    if _ap_frame_len(data[: _AP_HEADER.size]) != len(data):
        raise FrameError(f"declared length {_AP_HEADER.unpack(data[:16])[3]} does not match the "
                         f"{len(data) - _AP_HEADER.size} bytes that follow it", reason=FrameFault.LENGTH,
                         section=LEGACY)
    if data[-4:] != AP_SUFFIX:
        raise FrameError(f"frame does not end with 0000AA55 (got {data[-4:].hex()})",
                         reason=FrameFault.SUFFIX, section=LEGACY)
    (crc,) = struct.unpack(">I", data[-8:-4])
    if check_crc and crc != zlib.crc32(data[:-8]):
        raise FrameError(f"CRC-32 {crc:08x} does not match the computed {zlib.crc32(data[:-8]):08x}",
                         reason=FrameFault.CRC, section=LEGACY)
    _, seq, cmd, _ = _AP_HEADER.unpack(data[: _AP_HEADER.size])
    return ApFrame(seq=seq, cmd=cmd, payload=bytes(data[_AP_HEADER.size : -8]))


class ApFrameBuffer(FrameBuffer[ApFrame]):
    """Legacy 55AA frames from a byte stream (one datagram per frame on the air, §3.1)."""

    _prefix = AP_PREFIX
    _header_len = _AP_HEADER.size

    def __init__(self, *, check_crc: bool = True) -> None:
        super().__init__()
        self._check_crc = check_crc

    def _frame_len(self, header: bytes) -> int:
        return _ap_frame_len(header)

    def _decode(self, frame: bytes) -> ApFrame:
        return decode_ap_frame(frame, check_crc=self._check_crc)


# --------------------------------------------------------------------------------------------------
# §3.1 / §3.2 configuration JSON

PayloadStyle = Literal["compact", "ascii-escaped", "spaced"]
PAYLOAD_STYLES: tuple[PayloadStyle, ...] = ("compact", "ascii-escaped", "spaced")

MAX_SSID_BYTES = 32  # 802.11; §3.2: TO copies at most 32 bytes into a 33-byte field
MAX_PASSWORD_BYTES = 64  # §3.2: 64 bytes into a 65-byte field

#: Extra keys "that at least some firmware parse" (§3.1, CC exploit payload) and ``reg`` (§3.2), with the
#: JSON type each must have. Unknown keys are kept in ``extras`` with any JSON value.
KNOWN_EXTRAS: Mapping[str, type] = MappingProxyType(
    {"auzkey": str, "uuid": str, "pskKey": str, "prod_test": bool, "ap_ssid": str, "reg": dict}
)
_CORE_KEYS = frozenset({"ssid", "passwd", "token"})


@dataclass(frozen=True)
class ApConfig:
    """The Wi-Fi configuration the app hands the device in AP mode (§3.1 payload, §3.2 type 0x14).

    ``token`` is None when the key is absent (optional in §3.2); ``password`` is "" when absent (§3.1:
    ``passwd`` "omitted when empty").
    """

    ssid: str
    password: str = ""
    token: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.ssid, str):
            raise LocalProtocolError(f"ssid must be a string, got {type(self.ssid).__name__}")
        if not 1 <= _utf8_len(self.ssid, "ssid") <= MAX_SSID_BYTES:
            raise LocalProtocolError(f"ssid must be 1 to {MAX_SSID_BYTES} UTF-8 bytes, "
                                     f"got {_utf8_len(self.ssid, 'ssid')}")
        if not isinstance(self.password, str):
            raise LocalProtocolError(f"passwd must be a string, got {type(self.password).__name__}")
        if _utf8_len(self.password, "passwd") > MAX_PASSWORD_BYTES:
            raise LocalProtocolError(f"passwd must be at most {MAX_PASSWORD_BYTES} UTF-8 bytes, "
                                     f"got {_utf8_len(self.password, 'passwd')}")
        if self.token is not None:
            if not isinstance(self.token, str):
                raise LocalProtocolError(f"token must be a string, got {type(self.token).__name__}")
            if not self.token:
                raise LocalProtocolError("token must not be empty")
            _utf8_len(self.token, "token")
        if not isinstance(self.extras, Mapping):
            raise LocalProtocolError("extras must be a mapping")
        for key, value in self.extras.items():
            if key in _CORE_KEYS or not isinstance(key, str):
                raise LocalProtocolError(f"extras may not carry {key!r}")
            expected = KNOWN_EXTRAS.get(key)
            if expected is not None and not isinstance(value, expected):
                raise LocalProtocolError(f"{key} must be a JSON {_json_type_name(expected)}, "
                                         f"got {type(value).__name__}")
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))


def _json_type_name(kind: type) -> str:
    return {str: "string", bool: "boolean", dict: "object"}.get(kind, kind.__name__)


def ap_config_payload(ssid: str, password: str, token: str, *, style: PayloadStyle = "compact",
                      extras: Mapping[str, Any] | None = None) -> bytes:
    """The §3.1 JSON payload, in one of the encodings seen in the wild.

    - ``compact``: ``{"ssid":…,"passwd":…,"token":…}``, UTF-8 as is (the app's form; also the §3.2 0x14 body);
    - ``ascii-escaped``: the same with non-ASCII as ``\\uXXXX``;
    - ``spaced``: CC's ``configure_wifi``: ``json.dumps`` defaults, ``", "``/``": "`` separators,
      ASCII-escaped, key order ``ssid, token, passwd``.

    ``passwd`` is omitted when empty (§3.1); extras follow the core keys in the order given.
    """
    if not isinstance(token, str):
        raise LocalProtocolError("token must be a string")
    config = ApConfig(ssid=ssid, password=password, token=token, extras=extras or {})
    return _config_json(config, style)


def _config_json(config: ApConfig, style: PayloadStyle) -> bytes:
    core: dict[str, Any] = {"ssid": config.ssid}
    order = ("token", "passwd") if style == "spaced" else ("passwd", "token")
    for key in order:
        if key == "passwd" and config.password:
            core["passwd"] = config.password
        elif key == "token" and config.token is not None:
            core["token"] = config.token
    core.update(config.extras)
    if style == "compact":
        return dump_json(core, what="AP config")
    if style == "ascii-escaped":
        return dump_json(core, what="AP config", ensure_ascii=True)
    if style == "spaced":
        return dump_json(core, what="AP config", ensure_ascii=True, separators=(", ", ": "))
    raise LocalProtocolError(f"unknown payload style {style!r}; expected one of {PAYLOAD_STYLES}")


def _parse_config(data: bytes, section: str) -> ApConfig:
    obj = load_json_object(data, what="AP config payload", section=section)
    if "ssid" not in obj:
        raise RemoteProtocolError("AP config payload has no ssid", section=section)
    for key in _CORE_KEYS & obj.keys():
        if not isinstance(obj[key], str):
            raise RemoteProtocolError(f"{key} must be a JSON string, got {type(obj[key]).__name__}",
                                      section=section)
    extras = {k: v for k, v in obj.items() if k not in _CORE_KEYS}
    with _their_fault(section):
        return ApConfig(ssid=obj["ssid"], password=obj.get("passwd", ""), token=obj.get("token"), extras=extras)


def parse_ap_config_payload(data: bytes) -> ApConfig:
    """Parse a §3.1 payload: a JSON object with a non-empty string ``ssid``; ``passwd``/``token`` strings."""
    return _parse_config(data, LEGACY)


def encode_ap_config(ssid: str, password: str, token: str, *, style: PayloadStyle = "compact", seq: int = 0,
                     extras: Mapping[str, Any] | None = None) -> bytes:
    """The whole §3.1 datagram: the config payload in a cmd-1 frame."""
    return encode_ap_frame(ap_config_payload(ssid, password, token, style=style, extras=extras), seq=seq)


def decode_ap_config(data: bytes, *, check_crc: bool = True) -> ApConfig:
    """Decode a §3.1 datagram and its payload; a frame whose cmd is not 1 is refused."""
    frame = decode_ap_frame(data, check_crc=check_crc)
    if frame.cmd != AP_CONFIG_CMD:
        raise RemoteProtocolError(f"cmd {frame.cmd} is not AP_CONFIG ({AP_CONFIG_CMD})", section=LEGACY)
    return parse_ap_config_payload(frame.payload)


# --------------------------------------------------------------------------------------------------
# §3.2 LPV3.5 6699 frame

#: §3.2: "The key is the fixed app key MD5("OXLvslCvUxcTPLGO")".
LPV35_APP_KEY = hashlib.md5(b"OXLvslCvUxcTPLGO").digest()
LPV35_PREFIX = b"\x00\x00\x66\x99"
LPV35_SUFFIX = b"\x00\x00\x99\x66"
NONCE_LEN = 12
TAG_LEN = 16
_LPV35_HEADER = struct.Struct(">4sBBIII")  # prefix, version/reserved, reserved, seq, type, length
_LPV35_OVERHEAD = _LPV35_HEADER.size + NONCE_LEN + TAG_LEN + len(LPV35_SUFFIX)


class Lpv35Type(enum.IntEnum):
    """Frame types of §3.2 (TO's constants); the decoder accepts any u32."""

    AP_ENCRYPTION = 0x11  # the discovery beacon
    LAN_ENCRYPTION = 0x13
    AP_CFG_WF_V40 = 0x14  # config request, and the device's ret_code reply
    GET_DEV_INFO = 0x16
    SET_SCHEMA = 0x17
    SET_TIME = 0x18
    SET_ACTIVE_INFO = 0x19
    LAN_OTA_1A = 0x1A  # §3.2 names 0x1A-0x1C only as "LAN OTA"
    LAN_OTA_1B = 0x1B
    LAN_OTA_1C = 0x1C
    LAN_RESET = 0x1D
    EXT_CMD = 0x1E


@dataclass(frozen=True)
class Lpv35Frame:
    """A decrypted LPV3.5 frame; ``nonce`` is the one it was sealed with (for nonce-reuse checks)."""

    seq: int
    type: int
    data: bytes
    nonce: bytes

    def __post_init__(self) -> None:
        _u32(self.seq, "seq")
        _u32(self.type, "type")
        if not isinstance(self.data, bytes):
            raise LocalProtocolError("data must be bytes")
        if len(self.data) + _LPV35_OVERHEAD > MAX_FRAME_LEN:
            raise LocalProtocolError(f"data of {len(self.data)} bytes exceeds the frame limit {MAX_FRAME_LEN}")
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_LEN:
            raise LocalProtocolError(f"nonce must be {NONCE_LEN} bytes")


def _aes128(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != 16:
        raise LocalProtocolError("key must be 16 bytes (AES-128)")
    return AESGCM(key)


def encode_lpv35_frame(type: int, data: bytes, *, seq: int, key: bytes, nonce: bytes) -> bytes:
    """Seal ``data`` in a §3.2 frame: prefix | 14-byte header (the GCM AAD) | nonce | ciphertext | tag | suffix."""
    frame = Lpv35Frame(seq=seq, type=type, data=data, nonce=nonce)
    aesgcm = _aes128(key)
    # §3.2: "u8 version/reserved (0), u8 reserved (0), u32 seq, u32 type, u32 length (= 12 + len(data) + 16)"
    header = _LPV35_HEADER.pack(LPV35_PREFIX, 0, 0, frame.seq, frame.type, NONCE_LEN + len(data) + TAG_LEN)
    sealed = aesgcm.encrypt(frame.nonce, frame.data, header[4:])
    return header + frame.nonce + sealed + LPV35_SUFFIX


def _lpv35_frame_len(header: bytes) -> int:
    length: int = _LPV35_HEADER.unpack(header)[5]
    if length < NONCE_LEN + TAG_LEN or _LPV35_HEADER.size + length + len(LPV35_SUFFIX) > MAX_FRAME_LEN:
        raise FrameError(f"declared length {length} is not between {NONCE_LEN + TAG_LEN} and "
                         f"{MAX_FRAME_LEN - _LPV35_HEADER.size - len(LPV35_SUFFIX)}",
                         reason=FrameFault.LENGTH, section=LPV35)
    return _LPV35_HEADER.size + length + len(LPV35_SUFFIX)


def decode_lpv35_frame(data: bytes, *, key: bytes) -> Lpv35Frame:
    """Open one whole §3.2 frame, saying which check failed; a wrong key or any altered byte fails the tag."""
    aesgcm = _aes128(key)
    check_prefix(data, LPV35_PREFIX, LPV35)
    if len(data) < _LPV35_OVERHEAD:
        raise FrameError(f"frame of {len(data)} bytes is shorter than the {_LPV35_OVERHEAD}-byte minimum",
                         reason=FrameFault.LENGTH, section=LPV35)
    if _lpv35_frame_len(data[: _LPV35_HEADER.size]) != len(data):
        raise FrameError(f"declared length {_LPV35_HEADER.unpack(data[:18])[5]} does not match the "
                         f"{len(data) - _LPV35_HEADER.size - 4} bytes of nonce, ciphertext and tag",
                         reason=FrameFault.LENGTH, section=LPV35)
    if data[-4:] != LPV35_SUFFIX:
        raise FrameError(f"frame does not end with 00009966 (got {data[-4:].hex()})",
                         reason=FrameFault.SUFFIX, section=LPV35)
    _, version, reserved, seq, frame_type, _ = _LPV35_HEADER.unpack(data[: _LPV35_HEADER.size])
    if version or reserved:
        raise FrameError(f"version/reserved bytes must be 0, got {version:02x} {reserved:02x}",
                         reason=FrameFault.RESERVED, section=LPV35)
    nonce = bytes(data[_LPV35_HEADER.size : _LPV35_HEADER.size + NONCE_LEN])
    try:
        plain = aesgcm.decrypt(nonce, bytes(data[_LPV35_HEADER.size + NONCE_LEN : -4]),
                               bytes(data[4 : _LPV35_HEADER.size]))
    except InvalidTag:
        raise FrameError("GCM tag does not verify (wrong key, or header, nonce or ciphertext altered)",
                         reason=FrameFault.TAG, section=LPV35) from None
    return Lpv35Frame(seq=seq, type=frame_type, data=plain, nonce=nonce)


class Lpv35FrameBuffer(FrameBuffer[Lpv35Frame]):
    """LPV3.5 frames from the TLS plaintext stream of the config channel (§3.2)."""

    _prefix = LPV35_PREFIX
    _header_len = _LPV35_HEADER.size

    def __init__(self, *, key: bytes) -> None:
        _aes128(key)
        super().__init__()
        self._key = key

    def _frame_len(self, header: bytes) -> int:
        return _lpv35_frame_len(header)

    def _decode(self, frame: bytes) -> Lpv35Frame:
        return decode_lpv35_frame(frame, key=self._key)


# --------------------------------------------------------------------------------------------------
# §3.2 messages carried in LPV3.5 frames

#: §3.2: the beacon's ret_code is "written in host byte order, i.e. little-endian on typical MCUs". The
#: 0x14 reply's ret_code comes from the same ``ap_send`` path, so this harness uses little-endian for
#: both (not established by a capture; only 0 = OK has been seen, which reads the same either way).
RET_CODE_BYTEORDER: Literal["little"] = "little"
MAX_UUID_LEN = 25  # §8: MAX_LENGTH_UUID


def _check_int(value: object, what: str, *, low: int = 0, high: int = U32_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LocalProtocolError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class ApBeacon:
    """The discovery beacon (type 0x11) the device broadcasts every second (§3.2)."""

    ip: str
    uuid: str
    active: int = 0
    version: str = "3.5"
    sl: int = 0
    ret_code: int = 0
    ap_config_type: int | None = 1
    combos_flag: int | None = 8

    def __post_init__(self) -> None:
        if not isinstance(self.ip, str):
            raise LocalProtocolError("ip must be a string")
        try:
            ipaddress.IPv4Address(self.ip)
        except ValueError:
            raise LocalProtocolError(f"ip must be a dotted IPv4 address, got {self.ip!r}") from None
        if not isinstance(self.uuid, str) or not 1 <= len(self.uuid) <= MAX_UUID_LEN or not self.uuid.isprintable():
            raise LocalProtocolError(f"uuid must be 1 to {MAX_UUID_LEN} printable characters (§8)")
        _utf8_len(self.uuid, "uuid")
        if not isinstance(self.version, str) or not self.version or not self.version.isprintable():
            raise LocalProtocolError("version must be a non-empty printable string")
        _utf8_len(self.version, "version")
        _check_int(self.active, "active")
        _check_int(self.sl, "sl")
        _check_int(self.ret_code, "ret_code")
        for name in ("ap_config_type", "combos_flag"):
            if getattr(self, name) is not None:
                _check_int(getattr(self, name), name)


def _js(text: str) -> str:
    return dump_json(text, what="beacon field").decode("utf-8")


def ap_beacon_payload(beacon: ApBeacon) -> bytes:
    """The beacon plaintext: u32 ret_code (little-endian) then JSON spaced exactly as §3.2:

    ``{"ip":"x", "uuid":"y", "active":0,"version":"3.5","sl":0,"apConfigType":1,"CombosFlag":8}``.
    """
    text = f'{{"ip":{_js(beacon.ip)}, "uuid":{_js(beacon.uuid)}, "active":{beacon.active},' \
           f'"version":{_js(beacon.version)},"sl":{beacon.sl}'
    if beacon.ap_config_type is not None:
        text += f',"apConfigType":{beacon.ap_config_type}'
    if beacon.combos_flag is not None:
        text += f',"CombosFlag":{beacon.combos_flag}'
    return beacon.ret_code.to_bytes(4, RET_CODE_BYTEORDER) + (text + "}").encode("utf-8")


def _get(obj: Mapping[str, Any], key: str, kind: type, section: str, *, required: bool = True) -> Any:
    if key not in obj:
        if required:
            raise RemoteProtocolError(f"{key} is missing", section=section)
        return None
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RemoteProtocolError(f"{key} must be a JSON {'number' if kind is int else _json_type_name(kind)}, "
                                  f"got {type(value).__name__}", section=section)
    return value


def parse_ap_beacon_payload(data: bytes) -> ApBeacon:
    """Parse a beacon plaintext (§3.2): 4-byte ret_code, then the JSON object (spacing not enforced)."""
    if len(data) < 4:
        raise RemoteProtocolError(f"beacon plaintext of {len(data)} bytes has no 4-byte ret_code", section=LPV35)
    obj = load_json_object(data[4:], what="beacon JSON", section=LPV35)
    fields = {
        "ip": _get(obj, "ip", str, LPV35), "uuid": _get(obj, "uuid", str, LPV35),
        "active": _get(obj, "active", int, LPV35), "version": _get(obj, "version", str, LPV35),
        "sl": _get(obj, "sl", int, LPV35),
        "ap_config_type": _get(obj, "apConfigType", int, LPV35, required=False),
        "combos_flag": _get(obj, "CombosFlag", int, LPV35, required=False),
    }
    with _their_fault(LPV35):
        return ApBeacon(ret_code=int.from_bytes(data[:4], RET_CODE_BYTEORDER), **fields)


def encode_ap_beacon(ip: str, uuid: str, *, active: int = 0, version: str = "3.5", sl: int = 0, ret_code: int = 0,
                     ap_config_type: int | None = 1, combos_flag: int | None = 8, seq: int, nonce: bytes,
                     key: bytes = LPV35_APP_KEY) -> bytes:
    """The whole 0x11 beacon frame (§3.2)."""
    beacon = ApBeacon(ip=ip, uuid=uuid, active=active, version=version, sl=sl, ret_code=ret_code,
                      ap_config_type=ap_config_type, combos_flag=combos_flag)
    return encode_lpv35_frame(Lpv35Type.AP_ENCRYPTION, ap_beacon_payload(beacon), seq=seq, key=key, nonce=nonce)


def decode_ap_beacon(data: bytes, *, key: bytes = LPV35_APP_KEY) -> ApBeacon:
    """Open a beacon frame; any frame type other than 0x11 is refused."""
    frame = decode_lpv35_frame(data, key=key)
    _expect_type(frame, Lpv35Type.AP_ENCRYPTION)
    return parse_ap_beacon_payload(frame.data)


def _expect_type(frame: Lpv35Frame, expected: Lpv35Type) -> None:
    if frame.type != expected:
        raise RemoteProtocolError(f"frame type 0x{frame.type:02x} where 0x{expected:02x} ({expected.name}) "
                                  "was expected", section=LPV35)


def ap_cfg_request_payload(ssid: str, password: str = "", token: str | None = None, *,
                           reg: Mapping[str, Any] | None = None) -> bytes:
    """The 0x14 request JSON (§3.2): ``ssid`` required non-empty, then optional ``passwd``, ``token``, ``reg``."""
    config = ApConfig(ssid=ssid, password=password, token=token, extras={} if reg is None else {"reg": dict(reg)})
    return _config_json(config, "compact")


def parse_ap_cfg_request(data: bytes) -> ApConfig:
    """Parse a 0x14 request body (§3.2): strings for ssid/passwd/token, an object for ``reg``."""
    return _parse_config(data, LPV35)


def encode_ap_cfg_request(ssid: str, password: str = "", token: str | None = None, *,
                          reg: Mapping[str, Any] | None = None, seq: int, nonce: bytes,
                          key: bytes = LPV35_APP_KEY) -> bytes:
    payload = ap_cfg_request_payload(ssid, password, token, reg=reg)
    return encode_lpv35_frame(Lpv35Type.AP_CFG_WF_V40, payload, seq=seq, key=key, nonce=nonce)


@dataclass(frozen=True)
class ApCfgAck:
    """The device's 0x14 reply: the 4-byte ret_code only, 0 = OK (§3.2)."""

    ret_code: int = 0

    def __post_init__(self) -> None:
        _check_int(self.ret_code, "ret_code")

    @property
    def ok(self) -> bool:
        return self.ret_code == 0


def ap_cfg_ack_payload(ret_code: int = 0) -> bytes:
    return ApCfgAck(ret_code).ret_code.to_bytes(4, RET_CODE_BYTEORDER)


def parse_ap_cfg_ack(data: bytes) -> ApCfgAck:
    if len(data) != 4:
        raise RemoteProtocolError(f"0x14 reply must be the 4-byte ret_code only, got {len(data)} bytes",
                                  section=LPV35)
    return ApCfgAck(int.from_bytes(data, RET_CODE_BYTEORDER))


def encode_ap_cfg_ack(ret_code: int = 0, *, seq: int, nonce: bytes, key: bytes = LPV35_APP_KEY) -> bytes:
    return encode_lpv35_frame(Lpv35Type.AP_CFG_WF_V40, ap_cfg_ack_payload(ret_code), seq=seq, key=key, nonce=nonce)


EXT_REQUESTS = frozenset({"query_dev", "get_wifi_list", "query_netcfg_stat"})
#: §3.2: the reply's reqType for each request's.
EXT_REPLIES: Mapping[str, str] = MappingProxyType(
    {"query_dev": "query_dev_rpt", "get_wifi_list": "wifi_list_rpt", "query_netcfg_stat": "netcfg_stat_rpt"}
)


@dataclass(frozen=True)
class ExtCmdRequest:
    """An 0x1E request (§3.2); ``cnt`` is required for, and only for, ``get_wifi_list``."""

    req_type: str
    cnt: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.req_type, str) or self.req_type not in EXT_REQUESTS:
            raise LocalProtocolError(f"reqType must be one of {sorted(EXT_REQUESTS)}, got {self.req_type!r}")
        if self.req_type == "get_wifi_list":
            _check_int(self.cnt, "get_wifi_list cnt")
        elif self.cnt is not None:
            raise LocalProtocolError(f"{self.req_type} takes no cnt")


@dataclass(frozen=True)
class ExtCmdReply:
    """An 0x1E reply (§3.2); ``data``'s content is not specified, so it is any JSON value."""

    req_type: str
    data: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.req_type, str) or self.req_type not in EXT_REPLIES.values():
            raise LocalProtocolError(f"reqType must be one of {sorted(EXT_REPLIES.values())}, "
                                     f"got {self.req_type!r}")


def ext_cmd_payload(message: ExtCmdRequest | ExtCmdReply) -> bytes:
    if isinstance(message, ExtCmdRequest):
        body: dict[str, Any] = {"reqType": message.req_type}
        if message.cnt is not None:
            body["data"] = {"cnt": message.cnt}
    else:
        body = {"reqType": message.req_type, "data": message.data}
    return dump_json(body, what="ext cmd")


def parse_ext_cmd_request(data: bytes) -> ExtCmdRequest:
    obj = load_json_object(data, what="ext cmd request", section=LPV35)
    req_type = _get(obj, "reqType", str, LPV35)
    cnt = None
    if req_type == "get_wifi_list":
        cnt = _get(_get(obj, "data", dict, LPV35), "cnt", int, LPV35)
    with _their_fault(LPV35):
        return ExtCmdRequest(req_type=req_type, cnt=cnt)


def parse_ext_cmd_reply(data: bytes) -> ExtCmdReply:
    obj = load_json_object(data, what="ext cmd reply", section=LPV35)
    req_type = _get(obj, "reqType", str, LPV35)
    if "data" not in obj:
        raise RemoteProtocolError("ext cmd reply has no data", section=LPV35)
    with _their_fault(LPV35):
        return ExtCmdReply(req_type=req_type, data=obj["data"])


def encode_ext_cmd(message: ExtCmdRequest | ExtCmdReply, *, seq: int, nonce: bytes,
                   key: bytes = LPV35_APP_KEY) -> bytes:
    return encode_lpv35_frame(Lpv35Type.EXT_CMD, ext_cmd_payload(message), seq=seq, key=key, nonce=nonce)


AppMessage: TypeAlias = ApConfig | ExtCmdRequest
DeviceMessage: TypeAlias = ApBeacon | ApCfgAck | ExtCmdReply

_APP_PARSERS: Mapping[int, Callable[[bytes], AppMessage]] = MappingProxyType(
    {Lpv35Type.AP_CFG_WF_V40: parse_ap_cfg_request, Lpv35Type.EXT_CMD: parse_ext_cmd_request}
)
_DEVICE_PARSERS: Mapping[int, Callable[[bytes], DeviceMessage]] = MappingProxyType({
    Lpv35Type.AP_ENCRYPTION: parse_ap_beacon_payload, Lpv35Type.AP_CFG_WF_V40: parse_ap_cfg_ack,
    Lpv35Type.EXT_CMD: parse_ext_cmd_reply,
})


def parse_app_message(frame: Lpv35Frame) -> AppMessage:
    """What the device makes of a frame from the app: a 0x14 config request or a 0x1E ext request."""
    parser = _APP_PARSERS.get(frame.type)
    if parser is None:
        raise RemoteProtocolError(f"the app sent frame type 0x{frame.type:02x}; AP config uses 0x14 and 0x1E",
                                  section=LPV35)
    return parser(frame.data)


def parse_device_message(frame: Lpv35Frame) -> DeviceMessage:
    """What the app makes of a frame from the device: a 0x11 beacon, a 0x14 ret_code or a 0x1E reply."""
    parser = _DEVICE_PARSERS.get(frame.type)
    if parser is None:
        raise RemoteProtocolError(f"the device sent frame type 0x{frame.type:02x}; AP config uses 0x11, 0x14 "
                                  "and 0x1E", section=LPV35)
    return parser(frame.data)


__all__ = [
    "AP_CONFIG_CMD", "AP_PREFIX", "AP_SUFFIX", "CLOUDCUTTER_MAX_PAYLOAD", "EXT_REPLIES", "EXT_REQUESTS",
    "KNOWN_EXTRAS", "LPV35_APP_KEY", "LPV35_PREFIX", "LPV35_SUFFIX", "MAX_FRAME_LEN", "MAX_PASSWORD_BYTES",
    "MAX_SSID_BYTES", "MAX_UUID_LEN", "NONCE_LEN", "PAYLOAD_STYLES", "RET_CODE_BYTEORDER", "TAG_LEN",
    "ApBeacon", "ApCfgAck", "ApConfig", "ApFrame", "ApFrameBuffer", "AppMessage", "DeviceMessage",
    "ExtCmdReply", "ExtCmdRequest", "FrameError", "FrameFault", "Lpv35Frame", "Lpv35FrameBuffer", "Lpv35Type",
    "PayloadStyle", "ap_beacon_payload", "ap_cfg_ack_payload", "ap_cfg_request_payload", "ap_config_payload",
    "decode_ap_beacon", "decode_ap_config", "decode_ap_frame", "decode_lpv35_frame", "encode_ap_beacon",
    "encode_ap_cfg_ack", "encode_ap_cfg_request", "encode_ap_config", "encode_ap_frame", "encode_ext_cmd",
    "encode_lpv35_frame", "ext_cmd_payload", "parse_ap_beacon_payload", "parse_ap_cfg_ack", "parse_ap_cfg_request",
    "parse_ap_config_payload", "parse_app_message", "parse_device_message", "parse_ext_cmd_reply",
    "parse_ext_cmd_request",
]
