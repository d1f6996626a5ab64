"""The provisioning messages carried in BLE frames (§9.7), as frozen records with ``encode_data``/``parse``.

Each record knows its function code (``cmd``); :func:`parse_app_message` and :func:`parse_device_message` turn a
:class:`~harness.protocol.ble.frame.Frame` into a record by code and direction (0x0021 is JSON from the app and
a result byte from the device). A code outside provisioning is an :class:`OtherCommand`, which receivers ignore
(§9.7.0: "TO and AK log and ignore them").

The Wi-Fi configuration records (§9.7.5) live in :mod:`.wifi` and are re-exported here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from ..errors import LocalProtocolError
from .commands import Cmd, SubCommand, check_fixed, check_uint, one_byte, payload_error
from .errors import DEVICE_INFO, DEVICE_INFO_REQUEST, NET_STATUS, PAIR
from .frame import Frame
from .security import ID16_LEN, SRAND_LEN
from .wifi import (
    BSDK_WIFI_KEYS,
    MAX_PASSWORD_BYTES,
    MAX_SSID_BYTES,
    MAX_TOKEN_BYTES,
    WIFI_KEYS,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    WifiResult,
    parse_wifi_json,
)


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
            check_uint(self.packet_size, "announced sub-packet size", 16)

    def encode_data(self) -> bytes:
        return b"" if self.packet_size is None else self.packet_size.to_bytes(2, "big")

    @classmethod
    def parse(cls, data: bytes) -> DeviceInfoRequest:
        if len(data) not in (0, 2):
            raise payload_error(f"device-info request data is 2 bytes (4.x) or none (3.x), got {len(data)}",
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
            check_fixed(getattr(self, name), name, length)
        check_uint(self.wifi_register_mode, "wifi register mode", 8)
        check_uint(self.mac_type, "mac type", 8)
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
            raise payload_error("device-info tail is not TuyaOpen's layout (too short)", DEVICE_INFO)
        key_end = 41 + tail[40]
        fields: list[bytes] = []
        offset = key_end
        while offset < len(tail):  # bounded: each pass consumes a length byte
            end = offset + 1 + tail[offset]
            if end > len(tail):
                raise payload_error("device-info tail field runs past the end", DEVICE_INFO)
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
        check_fixed(self.srand, "srand", SRAND_LEN)
        check_fixed(self.register_field, "register field", 32)
        check_fixed(self.versions3, "versions3", 6)
        for name, bits in (("firmware_version", 16), ("protocol_version", 16), ("flags", 8), ("bound", 8),
                           ("hardware_version", 16), ("ability", 16), ("v2_flags", 8)):
            check_uint(getattr(self, name), name, bits)
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
            raise payload_error(f"device-info answer of {len(data)} bytes is shorter than the "
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
        check_fixed(self.ble_id, "BLE ID", ID16_LEN)
        if not isinstance(self.tail, bytes):
            raise LocalProtocolError("pair-request tail must be bytes")

    def encode_data(self) -> bytes:
        return self.ble_id + self.tail

    @classmethod
    def parse(cls, data: bytes) -> PairRequest:
        if len(data) < ID16_LEN:
            raise payload_error(f"pair request of {len(data)} bytes has no 16-byte BLE ID", PAIR)
        return cls(ble_id=bytes(data[:ID16_LEN]), tail=bytes(data[ID16_LEN:]))


@dataclass(frozen=True)
class PairAnswer:
    """cmd 0x0001 from the device: 0 paired, 1 ID mismatch, 2 already bound (§9.7.3); other bytes are kept."""

    cmd: ClassVar[int] = Cmd.PAIR
    result: int

    def __post_init__(self) -> None:
        check_uint(self.result, "pair result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> PairAnswer:
        return cls(one_byte(data, cls.cmd, PAIR))


@dataclass(frozen=True)
class NetworkStatusReport:
    """cmd 0x001E from the device, unsolicited after a successful pair (§9.7.4)."""

    cmd: ClassVar[int] = Cmd.NET_STATUS
    status: int = NetStatus.LINK_DOWN

    def __post_init__(self) -> None:
        check_uint(self.status, "network status", 8)

    def encode_data(self) -> bytes:
        return bytes([self.status])

    @classmethod
    def parse(cls, data: bytes) -> NetworkStatusReport:
        return cls(one_byte(data, cls.cmd, NET_STATUS))


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
        check_uint(self.result, "reset result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])


@dataclass(frozen=True)
class OtherCommand:
    """A frame whose code provisioning does not use; receivers ignore it (§9.7.0)."""

    cmd: int
    data: bytes = b""

    def __post_init__(self) -> None:
        check_uint(self.cmd, "cmd", 16)
        if not isinstance(self.data, bytes):
            raise LocalProtocolError("data must be bytes")

    def encode_data(self) -> bytes:
        return self.data


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
    Cmd.UNBIND: lambda data: ResetAnswer(Cmd.UNBIND, one_byte(data, Cmd.UNBIND, "§9.7.0")),
    Cmd.DEVICE_RESET: lambda data: ResetAnswer(Cmd.DEVICE_RESET, one_byte(data, Cmd.DEVICE_RESET, "§9.7.0")),
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
