"""Function codes of BLE frames (§9.7.0) and the field checks the §9.7 records share."""

from __future__ import annotations

import enum

from ..errors import LocalProtocolError
from .errors import BleError, BleFault


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


def check_uint(value: object, what: str, bits: int) -> int:
    """A caller-supplied field must be an unsigned ``bits``-bit int (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise LocalProtocolError(f"{what} must be an unsigned {bits}-bit integer, got {value!r}")
    return value


def check_fixed(value: object, what: str, length: int) -> bytes:
    """A caller-supplied field must be exactly ``length`` bytes."""
    if not isinstance(value, bytes) or len(value) != length:
        raise LocalProtocolError(f"{what} must be {length} bytes")
    return value


def payload_error(message: str, section: str) -> BleError:
    """The refusal of a command's data that does not have its §9.7 layout."""
    return BleError(message, reason=BleFault.PAYLOAD, section=section)


def one_byte(data: bytes, cmd: int, section: str) -> int:
    if len(data) != 1:
        raise payload_error(f"cmd 0x{cmd:04x} answer is 1 byte, got {len(data)}", section)
    return data[0]


__all__ = ["Cmd", "SubCommand", "check_fixed", "check_uint", "one_byte", "payload_error"]
