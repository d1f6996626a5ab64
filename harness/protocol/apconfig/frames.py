"""The AP (SoftAP) frames: legacy 55AA "AP 3.x" (PROTOCOL.md §3.1), the configuration JSON both variants carry
(§3.1, §3.2), and LPV3.5 6699 frames sealed with AES-128-GCM (§3.2). Nonces are parameters."""

from __future__ import annotations

import enum
import hashlib
import struct
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._json import dump_json, load_json_object
from ..errors import LocalProtocolError, RemoteProtocolError
from ..framing import MAX_FRAME_LEN, FrameBuffer, FrameError, FrameFault, check_prefix

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


__all__ = [
    "AP_CONFIG_CMD", "AP_PREFIX", "AP_SUFFIX", "CLOUDCUTTER_MAX_PAYLOAD", "KNOWN_EXTRAS", "LPV35_APP_KEY",
    "LPV35_PREFIX", "LPV35_SUFFIX", "MAX_PASSWORD_BYTES", "MAX_SSID_BYTES", "NONCE_LEN", "PAYLOAD_STYLES", "TAG_LEN",
    "ApConfig", "ApFrame", "ApFrameBuffer", "Lpv35Frame", "Lpv35FrameBuffer", "Lpv35Type", "PayloadStyle",
    "ap_config_payload", "decode_ap_config", "decode_ap_frame", "decode_lpv35_frame", "encode_ap_config",
    "encode_ap_frame", "encode_lpv35_frame", "parse_ap_config_payload"
]
