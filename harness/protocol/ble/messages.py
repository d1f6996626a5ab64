"""The provisioning messages carried in BLE frames (§9.7), as frozen records with ``encode_data``/``parse``.

Each record knows its function code (``cmd``); :func:`parse_app_message` and :func:`parse_device_message` turn a
:class:`~harness.protocol.ble.frame.Frame` into a record by code and direction (0x0021 is JSON from the app and
a result byte from the device). A code outside provisioning is an :class:`OtherCommand`, which receivers ignore
(§9.7.0: "TO and AK log and ignore them").

The Wi-Fi configuration travels as raw JSON bytes in :class:`WifiConfigV2` (0x801B, sub-command 0x0001) and
:class:`WifiConfigV1` (0x0021), so that an app can send anything; :func:`parse_wifi_json` is the reference
reading of it, whose refusals carry the §9.7.5 result code (``0xF8`` not JSON, ``0xF7`` a key missing).

Choices where §9.7 leaves room: a Wi-Fi JSON value that is present but unusable (not a string, an empty SSID, an
SSID over 32 bytes, a password over 64, a token over 16: TuyaOpen's field sizes) also gets ``0xF7`` (§9.14 item 8:
the result codes' mapping is not established); trailing NULs after the JSON are accepted (§9.7.5: whether the app
appends one is not established), and so are duplicate keys refused as not JSON (0xF8).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from .._json import dump_json
from ..errors import LocalProtocolError, RemoteProtocolError
from ..strictjson import loads_json
from .errors import DEVICE_INFO, DEVICE_INFO_REQUEST, NET_STATUS, PAIR, WIFI_CONFIG, BleError, BleFault
from .frame import Frame
from .security import ID16_LEN, SRAND_LEN


class Cmd(enum.IntEnum):
    """Function codes of §9.7.0 (the ones provisioning uses, and the neighbours a receiver meets)."""

    DEVICE_INFO = 0x0000
    PAIR = 0x0001
    DP_COMMAND_V3 = 0x0002
    STATE_QUERY = 0x0003
    LOGIN_KEY = 0x0004
    UNBIND = 0x0005
    DEVICE_RESET = 0x0006
    ANOMALY_UNBIND = 0x0014
    NET_STATUS = 0x001E
    WIFI_CONFIG_V1 = 0x0021
    NET_CONFIG_RESPONSE = 0x0022
    PASSTHROUGH = 0x0023
    DP_COMMAND_V4 = 0x0027
    TRANSPARENT_DOWN = 0x801B
    TRANSPARENT_UP = 0x801C


class SubCommand(enum.IntEnum):
    """Sub-commands of the 0x801B/0x801C transparent channel (§9.7.5); TuyaOpen implements only 0x0001."""

    TIMER = 0x0000
    BT_NETCFG = 0x0001
    SET_WIFI = 0x0002
    WIFI_LIST = 0x0003
    NETCFG_STATUS = 0x0004
    DEVICE_LOG = 0x0005
    AP_NAME = 0x0006


class PairResult(enum.IntEnum):
    """The pair answer (§9.7.3)."""

    PAIRED = 0x00
    ID_MISMATCH = 0x01
    ALREADY_BOUND = 0x02


class NetStatus(enum.IntEnum):
    """``netmgr_status_e``, the 0x001E report's byte (§9.7.4)."""

    LINK_DOWN = 0
    LINK_UP = 1
    LINK_UP_SWITCHED = 2


class WifiResult(enum.IntEnum):
    """The Wi-Fi configuration result byte (§9.7.5); BSDK's V1 answer also uses 0x01 for a failure."""

    ACCEPTED = 0x00
    FAILED = 0x01
    MISSING_KEY = 0xF7  # OPRT_CJSON_GET_ERR (-9)
    JSON_PARSE_ERROR = 0xF8  # OPRT_CJSON_PARSE_ERR (-8)


def _uint(value: object, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise LocalProtocolError(f"{what} must be an unsigned {bits}-bit integer, got {value!r}")
    return value


def _fixed(value: object, what: str, length: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise LocalProtocolError(f"{what} must be {length} bytes")
    return value


def _payload_error(message: str, section: str) -> BleError:
    return BleError(message, reason=BleFault.PAYLOAD, section=section)


# --------------------------------------------------------------------------------------------------
# §9.7.1-2 device info


@dataclass(frozen=True)
class DeviceInfoRequest:
    """cmd 0x0000 from the app: protocol 4.x announces its sub-packet size (2 bytes BE); protocol 3.x sends
    no data (``packet_size`` None) (§9.7.1)."""

    cmd: ClassVar[int] = Cmd.DEVICE_INFO
    packet_size: int | None = 20

    def __post_init__(self) -> None:
        if self.packet_size is not None:
            _uint(self.packet_size, "announced sub-packet size", 16)

    def encode_data(self) -> bytes:
        return b"" if self.packet_size is None else self.packet_size.to_bytes(2, "big")

    @classmethod
    def parse(cls, data: bytes) -> DeviceInfoRequest:
        if len(data) not in (0, 2):
            raise _payload_error(f"device-info request data is 2 bytes (4.x) or none (3.x), got {len(data)}",
                                 DEVICE_INFO_REQUEST)
        return cls(packet_size=int.from_bytes(data, "big") if data else None)


@dataclass(frozen=True)
class DeviceInfoTail:
    """The device-info answer from offset 55 in TuyaOpen's layout (§9.7.2). Other firmware's tails differ
    (AK, CK, BSDK), so :meth:`parse` refuses what is not this layout and the app keeps the raw tail."""

    dev_id: bytes = bytes(22)
    mcu_versions: bytes = bytes(6)
    wifi_register_mode: int = 1
    device_ability: bytes = b"\x00\x00\x01\x00"
    mac_type: int = 0
    mac: bytes = bytes(6)
    firmware_key: bytes = bytes(16)
    #: Length-prefixed fields in order: Zigbee MAC, attach, PacketMaxSize, security level, CombosFlag.
    fields: tuple[bytes, ...] = (b"", b"", b"\x03\xc0", b"\x00", b"\x00")

    def __post_init__(self) -> None:
        for name, length in (("dev_id", 22), ("mcu_versions", 6), ("device_ability", 4), ("mac", 6)):
            _fixed(getattr(self, name), name, length)
        _uint(self.wifi_register_mode, "wifi register mode", 8)
        _uint(self.mac_type, "mac type", 8)
        if not isinstance(self.firmware_key, bytes) or len(self.firmware_key) > 255:
            raise LocalProtocolError("firmware key must be at most 255 bytes")
        if not isinstance(self.fields, tuple) or any(not isinstance(f, bytes) or len(f) > 255 for f in self.fields):
            raise LocalProtocolError("fields must be a tuple of byte strings of at most 255 bytes")

    def encode(self) -> bytes:
        out = self.dev_id + self.mcu_versions + bytes([self.wifi_register_mode]) + self.device_ability
        out += bytes([self.mac_type]) + self.mac + bytes([len(self.firmware_key)]) + self.firmware_key
        return out + b"".join(bytes([len(f)]) + f for f in self.fields)

    @classmethod
    def parse(cls, tail: bytes) -> DeviceInfoTail:
        if len(tail) < 41 or len(tail) < 41 + tail[40]:
            raise _payload_error("device-info tail is not TuyaOpen's layout (too short)", DEVICE_INFO)
        key_end = 41 + tail[40]
        fields: list[bytes] = []
        offset = key_end
        while offset < len(tail):  # bounded: each pass consumes a length byte
            end = offset + 1 + tail[offset]
            if end > len(tail):
                raise _payload_error("device-info tail field runs past the end", DEVICE_INFO)
            fields.append(bytes(tail[offset + 1:end]))
            offset = end
        return cls(dev_id=bytes(tail[:22]), mcu_versions=bytes(tail[22:28]), wifi_register_mode=tail[28],
                   device_ability=bytes(tail[29:33]), mac_type=tail[33], mac=bytes(tail[34:40]),
                   firmware_key=bytes(tail[41:key_end]), fields=tuple(fields))

    @property
    def packet_max_size(self) -> int | None:
        """PacketMaxSize (the third field), e.g. 960 for TuyaOpen."""
        return int.from_bytes(self.fields[2], "big") if len(self.fields) > 2 and self.fields[2] else None


DEVICE_INFO_FIXED_LEN = 55


@dataclass(frozen=True)
class DeviceInfoAnswer:
    """cmd 0x0000 from the device (§9.7.2): offsets 0..54 fixed, the rest (``tail``) firmware-specific.

    The defaults are TuyaOpen's values for an unbound device. ``register_field`` is the 32 bytes at offset 14:
    the register key (§9.6.3) and 16 zero bytes, or the raw authKey on BSDK 3.0/3.1.
    """

    cmd: ClassVar[int] = Cmd.DEVICE_INFO
    srand: bytes
    register_field: bytes
    firmware_version: int = 0x0000
    protocol_version: int = 0x0404
    flags: int = 0x05
    bound: int = 0
    hardware_version: int = 0x0000
    versions3: bytes = bytes(6)
    ability: int = 0x000C
    v2_flags: int = 0x06
    tail: bytes = field(default_factory=lambda: DeviceInfoTail().encode())

    def __post_init__(self) -> None:
        _fixed(self.srand, "srand", SRAND_LEN)
        _fixed(self.register_field, "register field", 32)
        _fixed(self.versions3, "versions3", 6)
        for name, bits in (("firmware_version", 16), ("protocol_version", 16), ("flags", 8), ("bound", 8),
                           ("hardware_version", 16), ("ability", 16), ("v2_flags", 8)):
            _uint(getattr(self, name), name, bits)
        if not isinstance(self.tail, bytes) or len(self.tail) > 0xFFFF - DEVICE_INFO_FIXED_LEN:
            raise LocalProtocolError("tail must be bytes that fit a frame")

    @property
    def register_key(self) -> bytes:
        return self.register_field[:16]

    def encode_data(self) -> bytes:
        return (self.firmware_version.to_bytes(2, "big") + self.protocol_version.to_bytes(2, "big")
                + bytes([self.flags, self.bound]) + self.srand + self.hardware_version.to_bytes(2, "big")
                + self.register_field + self.versions3 + self.ability.to_bytes(2, "big") + bytes([self.v2_flags])
                + self.tail)

    @classmethod
    def parse(cls, data: bytes) -> DeviceInfoAnswer:
        """Read offsets 0..54 as fixed and keep the rest as the tail (§9.7.2: "parse the tail leniently")."""
        if len(data) < DEVICE_INFO_FIXED_LEN:
            raise _payload_error(f"device-info answer of {len(data)} bytes is shorter than the "
                                 f"{DEVICE_INFO_FIXED_LEN} fixed bytes", DEVICE_INFO)
        return cls(firmware_version=int.from_bytes(data[0:2], "big"), protocol_version=int.from_bytes(data[2:4], "big"),
                   flags=data[4], bound=data[5], srand=bytes(data[6:12]),
                   hardware_version=int.from_bytes(data[12:14], "big"), register_field=bytes(data[14:46]),
                   versions3=bytes(data[46:52]), ability=int.from_bytes(data[52:54], "big"), v2_flags=data[54],
                   tail=bytes(data[55:]))


# --------------------------------------------------------------------------------------------------
# §9.7.3 pair, §9.7.4 network status

#: §9.7.3: the harness app's default pair request is id16 then 28 zero bytes (44 in all, §9.14 item 4).
PAIR_REQUEST_TAIL = bytes(28)


@dataclass(frozen=True)
class PairRequest:
    """cmd 0x0001 from the app: the BLE ID, then bytes combo devices do not read (§9.7.3)."""

    cmd: ClassVar[int] = Cmd.PAIR
    ble_id: bytes
    tail: bytes = PAIR_REQUEST_TAIL

    def __post_init__(self) -> None:
        _fixed(self.ble_id, "BLE ID", ID16_LEN)
        if not isinstance(self.tail, bytes):
            raise LocalProtocolError("pair-request tail must be bytes")

    def encode_data(self) -> bytes:
        return self.ble_id + self.tail

    @classmethod
    def parse(cls, data: bytes) -> PairRequest:
        if len(data) < ID16_LEN:
            raise _payload_error(f"pair request of {len(data)} bytes has no 16-byte BLE ID", PAIR)
        return cls(ble_id=bytes(data[:ID16_LEN]), tail=bytes(data[ID16_LEN:]))


def _one_byte(data: bytes, cmd: int, section: str) -> int:
    if len(data) != 1:
        raise _payload_error(f"cmd 0x{cmd:04x} answer is 1 byte, got {len(data)}", section)
    return data[0]


@dataclass(frozen=True)
class PairAnswer:
    """cmd 0x0001 from the device: 0 paired, 1 ID mismatch, 2 already bound (§9.7.3); other bytes are kept."""

    cmd: ClassVar[int] = Cmd.PAIR
    result: int

    def __post_init__(self) -> None:
        _uint(self.result, "pair result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> PairAnswer:
        return cls(_one_byte(data, cls.cmd, PAIR))


@dataclass(frozen=True)
class NetworkStatusReport:
    """cmd 0x001E from the device, unsolicited after a successful pair (§9.7.4)."""

    cmd: ClassVar[int] = Cmd.NET_STATUS
    status: int = NetStatus.LINK_DOWN

    def __post_init__(self) -> None:
        _uint(self.status, "network status", 8)

    def encode_data(self) -> bytes:
        return bytes([self.status])

    @classmethod
    def parse(cls, data: bytes) -> NetworkStatusReport:
        return cls(_one_byte(data, cls.cmd, NET_STATUS))


def _reset_cmd(cmd: object) -> None:
    if cmd not in (Cmd.UNBIND, Cmd.DEVICE_RESET):
        raise LocalProtocolError(f"unbind/reset is cmd 0x0005 or 0x0006, got {cmd!r}")


@dataclass(frozen=True)
class ResetRequest:
    """cmd 0x0005 (unbind) or 0x0006 (device reset) from the app (§9.7.0); the data is not read."""

    cmd: int = Cmd.UNBIND
    data: bytes = b""

    def __post_init__(self) -> None:
        _reset_cmd(self.cmd)
        if not isinstance(self.data, bytes):
            raise LocalProtocolError("reset request data must be bytes")

    def encode_data(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class ResetAnswer:
    """The device's answer to 0x0005/0x0006: TuyaOpen sends ``0x01`` and then resets (§9.7.0)."""

    cmd: int = Cmd.UNBIND
    result: int = 0x01

    def __post_init__(self) -> None:
        _reset_cmd(self.cmd)
        _uint(self.result, "reset result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])


@dataclass(frozen=True)
class OtherCommand:
    """A frame whose code provisioning does not use; receivers ignore it (§9.7.0)."""

    cmd: int
    data: bytes = b""

    def __post_init__(self) -> None:
        _uint(self.cmd, "cmd", 16)
        if not isinstance(self.data, bytes):
            raise LocalProtocolError("data must be bytes")

    def encode_data(self) -> bytes:
        return self.data


# --------------------------------------------------------------------------------------------------
# §9.7.5 Wi-Fi configuration

#: The JSON key names: TuyaOpen/AK/CK (§9.7.5) and BSDK's header example for V1 (**[L]**).
WIFI_KEYS = ("ssid", "pwd", "token")
BSDK_WIFI_KEYS = ("wifi_ssid", "password", "token")
#: TuyaOpen's field sizes (§9.7.5): ssid ≤ 32, pwd ≤ 64, token ≤ 16 (``WL_TOKEN_LEN``).
MAX_SSID_BYTES = 32
MAX_PASSWORD_BYTES = 64
MAX_TOKEN_BYTES = 16


def _utf8_len(text: str, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{what} is not encodable as UTF-8 (lone surrogate)") from None


@dataclass(frozen=True)
class WifiCredentials:
    """What the app hands over (§9.7.5): SSID, password ("" for an open network) and the 14-character token,
    with TuyaOpen's field sizes; ``reg`` is the optional register-centre object (§3.2)."""

    ssid: str
    password: str
    token: str
    reg: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name, value, low, high in (("ssid", self.ssid, 1, MAX_SSID_BYTES),
                                       ("pwd", self.password, 0, MAX_PASSWORD_BYTES),
                                       ("token", self.token, 1, MAX_TOKEN_BYTES)):
            if not isinstance(value, str):
                raise LocalProtocolError(f"{name} must be a string, got {type(value).__name__}")
            if not low <= _utf8_len(value, name) <= high:
                raise LocalProtocolError(f"{name} must be {low} to {high} UTF-8 bytes, got {_utf8_len(value, name)}")
        if self.reg is not None:
            if not isinstance(self.reg, Mapping):
                raise LocalProtocolError("reg must be a JSON object")
            object.__setattr__(self, "reg", MappingProxyType(dict(self.reg)))

    def __repr__(self) -> str:  # the password never reaches a log (COMMON.md: secrets redacted)
        return f"WifiCredentials(ssid={self.ssid!r}, password=<{len(self.password)} chars>, token={self.token!r})"

    def to_json(self, *, key_order: tuple[str, ...] = WIFI_KEYS, names: tuple[str, str, str] = WIFI_KEYS,
                omit_empty_password: bool = False, nul: bool = False) -> bytes:
        """The JSON bytes (§9.7.5, §9.11): ``key_order`` is a permutation of ``ssid pwd token``, ``names`` the
        key names (:data:`BSDK_WIFI_KEYS` for BSDK's example), ``reg`` last when present. TuyaOpen refuses an
        omitted ``pwd``; ``nul`` appends a NUL (not established whether the app does)."""
        if sorted(key_order) != sorted(WIFI_KEYS):
            raise LocalProtocolError(f"key_order must be a permutation of {WIFI_KEYS}, got {key_order!r}")
        values = dict(zip(WIFI_KEYS, (self.ssid, self.password, self.token), strict=True))
        renamed = dict(zip(WIFI_KEYS, names, strict=True))
        body: dict[str, Any] = {renamed[key]: values[key] for key in key_order
                                if not (key == "pwd" and omit_empty_password and not self.password)}
        if self.reg is not None:
            body["reg"] = dict(self.reg)
        return dump_json(body, what="Wi-Fi configuration") + (b"\x00" if nul else b"")


def parse_wifi_json(data: bytes, *, names: tuple[str, str, str] = WIFI_KEYS) -> WifiCredentials:
    """The reference reading of the Wi-Fi JSON (§9.7.5): ``BleError`` with reason ``JSON`` (answer 0xF8) when it
    is not a JSON object, ``MISSING_KEY`` (0xF7) when ``ssid``, ``pwd`` or ``token`` is absent or unusable.

    The JSON ends at the first NUL, as cJSON reads a C string (raw NULs cannot occur inside JSON text).
    """
    text = bytes(data).split(b"\x00", 1)[0]
    try:
        obj = loads_json(text, section=WIFI_CONFIG, what="Wi-Fi configuration")
    except RemoteProtocolError as exc:
        raise BleError(exc.message, reason=BleFault.JSON, section=WIFI_CONFIG) from None
    if not isinstance(obj, dict):
        raise BleError(f"Wi-Fi configuration must be a JSON object, got {type(obj).__name__}", reason=BleFault.JSON,
                       section=WIFI_CONFIG)
    missing = [name for name in names if not isinstance(obj.get(name), str)]
    if missing:
        raise BleError(f"Wi-Fi configuration lacks string values for {', '.join(missing)}",
                       reason=BleFault.MISSING_KEY, section=WIFI_CONFIG)
    reg = obj.get("reg")
    try:
        return WifiCredentials(ssid=obj[names[0]], password=obj[names[1]], token=obj[names[2]],
                               reg=reg if isinstance(reg, dict) else None)
    except LocalProtocolError as exc:
        raise BleError(exc.message, reason=BleFault.MISSING_KEY, section=WIFI_CONFIG) from None


@dataclass(frozen=True)
class WifiConfigV2:
    """cmd 0x801B, the downlink transparent channel: ``[flag:2][sub-command:2][body]`` (§9.7.5). Sub-command
    0x0001 carries the Wi-Fi JSON; the app sends flag 0 (AK drops anything else)."""

    cmd: ClassVar[int] = Cmd.TRANSPARENT_DOWN
    payload: bytes
    flag: int = 0
    subcommand: int = SubCommand.BT_NETCFG

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("payload must be bytes")
        _uint(self.flag, "flag", 16)
        _uint(self.subcommand, "sub-command", 16)

    @classmethod
    def from_credentials(cls, credentials: WifiCredentials, **json_options: Any) -> WifiConfigV2:
        return cls(payload=credentials.to_json(**json_options))

    def credentials(self, *, names: tuple[str, str, str] = WIFI_KEYS) -> WifiCredentials:
        return parse_wifi_json(self.payload, names=names)

    def encode_data(self) -> bytes:
        return self.flag.to_bytes(2, "big") + self.subcommand.to_bytes(2, "big") + self.payload

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigV2:
        if len(data) < 4:
            raise _payload_error(f"0x801B data of {len(data)} bytes has no flag and sub-command", WIFI_CONFIG)
        return cls(flag=int.from_bytes(data[:2], "big"), subcommand=int.from_bytes(data[2:4], "big"),
                   payload=bytes(data[4:]))


@dataclass(frozen=True)
class WifiConfigAnswerV2:
    """cmd 0x801C, the uplink transparent channel: ``[flag:2][sub-command:2][result]`` (§9.7.5). TuyaOpen leaves
    flag byte 0 uninitialised, so an app must not read the flag."""

    cmd: ClassVar[int] = Cmd.TRANSPARENT_UP
    result: int
    flag: int = 0
    subcommand: int = SubCommand.BT_NETCFG

    def __post_init__(self) -> None:
        _uint(self.result, "result", 8)
        _uint(self.flag, "flag", 16)
        _uint(self.subcommand, "sub-command", 16)

    def encode_data(self) -> bytes:
        return self.flag.to_bytes(2, "big") + self.subcommand.to_bytes(2, "big") + bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigAnswerV2:
        if len(data) != 5:
            raise _payload_error(f"0x801C answer is 5 bytes, got {len(data)}", WIFI_CONFIG)
        return cls(flag=int.from_bytes(data[:2], "big"), subcommand=int.from_bytes(data[2:4], "big"),
                   result=data[4])


@dataclass(frozen=True)
class WifiConfigV1:
    """cmd 0x0021 from the app: the JSON bytes themselves (§9.7.5, CK)."""

    cmd: ClassVar[int] = Cmd.WIFI_CONFIG_V1
    payload: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("payload must be bytes")

    @classmethod
    def from_credentials(cls, credentials: WifiCredentials, **json_options: Any) -> WifiConfigV1:
        return cls(payload=credentials.to_json(**json_options))

    def credentials(self, *, names: tuple[str, str, str] = WIFI_KEYS) -> WifiCredentials:
        return parse_wifi_json(self.payload, names=names)

    def encode_data(self) -> bytes:
        return self.payload

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigV1:
        return cls(payload=bytes(data))


@dataclass(frozen=True)
class WifiConfigAnswerV1:
    """cmd 0x0021 from the device: the result byte (§9.7.5)."""

    cmd: ClassVar[int] = Cmd.WIFI_CONFIG_V1
    result: int

    def __post_init__(self) -> None:
        _uint(self.result, "result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigAnswerV1:
        return cls(_one_byte(data, cls.cmd, WIFI_CONFIG))


# --------------------------------------------------------------------------------------------------
# dispatch

AppMessage = DeviceInfoRequest | PairRequest | WifiConfigV2 | WifiConfigV1 | ResetRequest | OtherCommand
DeviceMessage = (DeviceInfoAnswer | PairAnswer | NetworkStatusReport | WifiConfigAnswerV2 | WifiConfigAnswerV1
                 | ResetAnswer | OtherCommand)
Message = AppMessage | DeviceMessage

_APP_PARSERS: Mapping[int, Callable[[bytes], AppMessage]] = MappingProxyType({
    Cmd.DEVICE_INFO: DeviceInfoRequest.parse, Cmd.PAIR: PairRequest.parse, Cmd.TRANSPARENT_DOWN: WifiConfigV2.parse,
    Cmd.WIFI_CONFIG_V1: WifiConfigV1.parse,
    Cmd.UNBIND: lambda data: ResetRequest(Cmd.UNBIND, bytes(data)),
    Cmd.DEVICE_RESET: lambda data: ResetRequest(Cmd.DEVICE_RESET, bytes(data)),
})
_DEVICE_PARSERS: Mapping[int, Callable[[bytes], DeviceMessage]] = MappingProxyType({
    Cmd.DEVICE_INFO: DeviceInfoAnswer.parse, Cmd.PAIR: PairAnswer.parse, Cmd.NET_STATUS: NetworkStatusReport.parse,
    Cmd.TRANSPARENT_UP: WifiConfigAnswerV2.parse, Cmd.WIFI_CONFIG_V1: WifiConfigAnswerV1.parse,
    Cmd.UNBIND: lambda data: ResetAnswer(Cmd.UNBIND, _one_byte(data, Cmd.UNBIND, "§9.7.0")),
    Cmd.DEVICE_RESET: lambda data: ResetAnswer(Cmd.DEVICE_RESET, _one_byte(data, Cmd.DEVICE_RESET, "§9.7.0")),
})


def parse_app_message(frame: Frame) -> AppMessage:
    """What a device makes of a frame from the app; an unknown code is an :class:`OtherCommand`."""
    parser = _APP_PARSERS.get(frame.cmd)
    return OtherCommand(frame.cmd, frame.data) if parser is None else parser(frame.data)


def parse_device_message(frame: Frame) -> DeviceMessage:
    """What an app makes of a frame from the device; an unknown code is an :class:`OtherCommand`."""
    parser = _DEVICE_PARSERS.get(frame.cmd)
    return OtherCommand(frame.cmd, frame.data) if parser is None else parser(frame.data)


def to_frame(message: Message, *, sn: int, ack_sn: int = 0) -> Frame:
    """The §9.5 frame that carries ``message``."""
    return Frame(sn=sn, ack_sn=ack_sn, cmd=message.cmd, data=message.encode_data())


__all__ = [
    "BSDK_WIFI_KEYS", "DEVICE_INFO_FIXED_LEN", "MAX_PASSWORD_BYTES", "MAX_SSID_BYTES", "MAX_TOKEN_BYTES",
    "PAIR_REQUEST_TAIL", "WIFI_KEYS", "AppMessage", "Cmd", "DeviceInfoAnswer", "DeviceInfoRequest", "DeviceInfoTail",
    "DeviceMessage", "Message", "NetStatus", "NetworkStatusReport", "OtherCommand", "PairAnswer", "PairRequest",
    "PairResult", "ResetAnswer", "ResetRequest", "SubCommand", "WifiConfigAnswerV1", "WifiConfigAnswerV2",
    "WifiConfigV1", "WifiConfigV2", "WifiCredentials", "WifiResult", "parse_app_message", "parse_device_message",
    "parse_wifi_json", "to_frame",
]
