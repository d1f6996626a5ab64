"""The BLE codec's refusals: a :class:`BleError` says in ``reason`` which check failed.

Every BLE decoder raises :class:`BleError` (a :class:`RemoteProtocolError`) for input that breaks PROTOCOL.md §9,
so the sessions can turn a refusal into the §9.9 reaction that belongs to it (CRC mismatch: dropped; sequence
number not increasing: disconnect) without matching on message text.
"""

from __future__ import annotations

import enum

from ..errors import RemoteProtocolError

# The PROTOCOL.md sections the BLE codecs cite.
GATT = "§9.2"
ADV_V4 = "§9.3.1"
ADV_V3 = "§9.3.2"
TRANSPORT = "§9.4"
FRAME = "§9.5"
ENVELOPE = "§9.6.1"
KEYS = "§9.6.2"
ACCEPTANCE = "§9.6.4"
BLE_ID = "§9.6.5"
ENCRYPTED_ID = "§9.6.6"
COMMANDS = "§9.7"
DEVICE_INFO_REQUEST = "§9.7.1"
DEVICE_INFO = "§9.7.2"
PAIR = "§9.7.3"
NET_STATUS = "§9.7.4"
WIFI_CONFIG = "§9.7.5"
REACTIONS = "§9.9"


class BleFault(enum.StrEnum):
    """Which check a BLE input failed (the machine-readable ``BleError.reason``)."""

    ADVERTISEMENT = "advertisement"  # AD structures or Tuya service/manufacturer data malformed (§9.3)
    SUB_PACKET = "sub-packet"  # a sub-packet header that cannot be read (§9.4)
    REASSEMBLY = "reassembly"  # sub-packets that do not make one packet (§9.4)
    TOO_LONG = "too-long"  # a declared length above the receiver's bound (§9.4, §9.5)
    ENVELOPE = "envelope"  # the encrypted packet is cut off or not a whole number of blocks (§9.6.1)
    MODE = "mode"  # an encryption mode the receiver does not accept here (§9.6.4)
    NO_KEY = "no-key"  # the key for the mode is not known yet (§9.6.2)
    LENGTH = "length"  # the frame's len disagrees with the bytes decrypted (§9.5)
    CRC = "crc"  # CRC-16/MODBUS mismatch (§9.5)
    PAYLOAD = "payload"  # a command's data does not have the layout of §9.7
    JSON = "json"  # the Wi-Fi configuration is not a JSON object (§9.7.5, result 0xF8)
    MISSING_KEY = "missing-key"  # the Wi-Fi configuration lacks a usable ssid, pwd or token (§9.7.5, 0xF7)


class BleError(RemoteProtocolError):
    """The peer's bytes break §9; ``reason`` says which check failed."""

    def __init__(self, message: str, *, reason: BleFault, section: str) -> None:
        super().__init__(message, section=section)
        self.reason = reason


__all__ = [
    "ACCEPTANCE", "ADV_V3", "ADV_V4", "BLE_ID", "COMMANDS", "DEVICE_INFO", "DEVICE_INFO_REQUEST", "ENCRYPTED_ID",
    "ENVELOPE", "FRAME", "GATT", "KEYS", "NET_STATUS", "PAIR", "REACTIONS", "TRANSPORT", "WIFI_CONFIG",
    "BleError", "BleFault",
]
