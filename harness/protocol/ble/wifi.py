"""The Wi-Fi configuration of §9.7.5: the credentials and their JSON, and the four records that carry them.

V2 sends the JSON in the downlink transparent channel (0x801B, sub-command 0x0001) and gets the result in the
uplink one (0x801C); V1 sends it as cmd 0x0021 and gets one result byte back (§9.0). The JSON travels as raw
bytes, so that an app can send anything; :func:`parse_wifi_json` is the reference reading of it, whose refusals
carry the reason that decides the answer (``JSON``: 0xF8, ``MISSING_KEY``: 0xF7).

Choices where §9.7.5 leaves room: a value that is present but unusable (not a string, an empty SSID, an SSID
over 32 bytes, a password over 64, a token over 16: TuyaOpen's field sizes) also gets 0xF7 (§9.14 item 8: the
mapping of result codes is not established); the JSON ends at the first NUL, so a trailing NUL is accepted
(whether the app appends one is not established); duplicate keys are refused as not JSON (0xF8).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from .._json import dump_json
from ..errors import LocalProtocolError, RemoteProtocolError
from ..strictjson import loads_json
from .commands import Cmd, SubCommand, check_uint, one_byte, payload_error
from .errors import WIFI_CONFIG, BleError, BleFault


class WifiResult(enum.IntEnum):
    """The Wi-Fi configuration result byte (§9.7.5); BSDK's V1 answer also uses 0x01 for a failure."""

    ACCEPTED = 0x00
    FAILED = 0x01
    MISSING_KEY = 0xF7  # OPRT_CJSON_GET_ERR (-9)
    JSON_PARSE_ERROR = 0xF8  # OPRT_CJSON_PARSE_ERR (-8)


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
        check_uint(self.flag, "flag", 16)
        check_uint(self.subcommand, "sub-command", 16)

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
            raise payload_error(f"0x801B data of {len(data)} bytes has no flag and sub-command", WIFI_CONFIG)
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
        check_uint(self.result, "result", 8)
        check_uint(self.flag, "flag", 16)
        check_uint(self.subcommand, "sub-command", 16)

    def encode_data(self) -> bytes:
        return self.flag.to_bytes(2, "big") + self.subcommand.to_bytes(2, "big") + bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigAnswerV2:
        if len(data) != 5:
            raise payload_error(f"0x801C answer is 5 bytes, got {len(data)}", WIFI_CONFIG)
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
        check_uint(self.result, "result", 8)

    def encode_data(self) -> bytes:
        return bytes([self.result])

    @classmethod
    def parse(cls, data: bytes) -> WifiConfigAnswerV1:
        return cls(one_byte(data, cls.cmd, WIFI_CONFIG))


__all__ = [
    "BSDK_WIFI_KEYS", "MAX_PASSWORD_BYTES", "MAX_SSID_BYTES", "MAX_TOKEN_BYTES", "WIFI_KEYS", "WifiConfigAnswerV1",
    "WifiConfigAnswerV2", "WifiConfigV1", "WifiConfigV2", "WifiCredentials", "WifiResult", "parse_wifi_json",
]
