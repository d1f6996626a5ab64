"""The messages LPV3.5 frames carry (PROTOCOL.md §3.2): the discovery beacon, the config request and its ack, the
extended commands, and the parsers that turn a frame into the app's or the device's message."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from .._json import dump_json, load_json_object
from ..errors import LocalProtocolError, RemoteProtocolError
from .frames import (
    LPV35,
    LPV35_APP_KEY,
    U32_MAX,
    ApConfig,
    Lpv35Frame,
    Lpv35Type,
    _config_json,
    _json_type_name,
    _parse_config,
    _their_fault,
    _utf8_len,
    decode_lpv35_frame,
    encode_lpv35_frame,
)

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
    "EXT_REPLIES", "EXT_REQUESTS", "MAX_UUID_LEN", "RET_CODE_BYTEORDER", "ApBeacon", "ApCfgAck", "AppMessage",
    "DeviceMessage", "ExtCmdReply", "ExtCmdRequest", "ap_beacon_payload", "ap_cfg_ack_payload",
    "ap_cfg_request_payload", "decode_ap_beacon", "encode_ap_beacon", "encode_ap_cfg_ack", "encode_ap_cfg_request",
    "encode_ext_cmd", "ext_cmd_payload", "parse_ap_beacon_payload", "parse_ap_cfg_ack", "parse_ap_cfg_request",
    "parse_app_message", "parse_device_message", "parse_ext_cmd_reply", "parse_ext_cmd_request"
]
