"""The GATT layout of a Tuya-style BLE device (§9.2): services, characteristics and the company ID.

The 128-bit characteristic UUIDs share the base ``xxxxxxxx-0000-1001-8001-00805f9b07d0``, which is *not* the
Bluetooth SIG base: a GATT client (bleak) must be given them as full 128-bit strings.
"""

from __future__ import annotations

from typing import Final


def uuid16(short: int) -> str:
    """A 16-bit SIG UUID as the 128-bit string bleak uses as a key, e.g. 0xFD50 -> ``0000fd50-0000-1000-...``."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


#: The service of the current ("second version") layout, TuyaOpen's default.
SERVICE_V2: Final = 0xFD50
WRITE_CHARACTERISTIC: Final = "00000001-0000-1001-8001-00805f9b07d0"  # write, write without response
NOTIFY_CHARACTERISTIC: Final = "00000002-0000-1001-8001-00805f9b07d0"  # notify
READ_CHARACTERISTIC: Final = "00000003-0000-1001-8001-00805f9b07d0"  # read (TuyaOpen, AK only)
#: The characteristics' value length (so ATT_MTU up to 247).
CHARACTERISTIC_VALUE_LEN: Final = 244
#: The older ("first version") layout: service 0x1910, write 0x2B11, notify 0x2B10 (16-bit).
SERVICE_V1: Final = 0x1910
WRITE_CHARACTERISTIC_V1: Final = 0x2B11
NOTIFY_CHARACTERISTIC_V1: Final = 0x2B10
#: Scan / service-data UUIDs: 0xA201 (v1), 0xA300 (v2), 0xFD50 (v3 naming, the current one).
SCAN_UUIDS: Final = (0xA201, 0xA300, 0xFD50)
#: Manufacturer-data company ID, ``D0 07`` on air.
COMPANY_ID: Final = 0x07D0

__all__ = [
    "CHARACTERISTIC_VALUE_LEN", "COMPANY_ID", "NOTIFY_CHARACTERISTIC", "NOTIFY_CHARACTERISTIC_V1",
    "READ_CHARACTERISTIC", "SCAN_UUIDS", "SERVICE_V1", "SERVICE_V2", "WRITE_CHARACTERISTIC",
    "WRITE_CHARACTERISTIC_V1", "uuid16",
]
