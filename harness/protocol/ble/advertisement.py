"""BLE advertising of a Tuya-style device in pairing mode: the v4 format on service 0xFD50 (§9.3.1) and the
older v3 format on 0xA201 (§9.3.2), built and parsed, with the encrypted BLE ID of §9.6.6.

Advertising data and scan response are lists of AD structures ``[len][type][value]``. The Tuya parts are the
service data under the 16-bit service UUID and the manufacturer data under company 0x07D0 (little-endian on
air). :meth:`ServiceDataV4.parse` and friends take exactly what bleak reports as ``service_data[uuid]`` and
``manufacturer_data[0x07D0]`` (§9.12), so a real scan and raw AD bytes meet in the same records.

Choices where §9.3 leaves room:

- v3 (§9.3.2): PB shows advertising data and scan response merged; this module puts flags, the UUID list and
  the service data in the advertising data and the name and manufacturer data in the scan response (the only
  split that keeps both within 31 bytes). :func:`parse_advertisement` accepts any split.
- :func:`generation_of` (§9.14 item 1): a v4 advertisement with frame-control bit 3 ("V2 enabled") means the
  V2 key scheme, otherwise V1; the v3 format, whose combo firmware is not public (§9.14 item 2), means V1.
- The builders keep advertising data and scan response within 31 bytes each (legacy advertising); the parsers
  take any length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import LocalProtocolError
from .errors import ADV_V3, ADV_V4, BleError, BleFault
from .security import ID16_LEN, Generation, decrypt_advertised_id, encrypt_advertised_id

AD_FLAGS = 0x01
AD_INCOMPLETE_UUID16 = 0x02
AD_COMPLETE_UUID16 = 0x03
AD_SHORT_NAME = 0x08
AD_COMPLETE_NAME = 0x09
AD_SERVICE_DATA_UUID16 = 0x16
AD_MANUFACTURER = 0xFF
#: Flags AD value: LE General Discoverable, BR/EDR not supported (§9.3.1 ``02 01 06``).
LE_GENERAL_DISCOVERABLE = 0x06
SERVICE_UUID_V4 = 0xFD50
SERVICE_UUID_V3 = 0xA201
COMPANY_ID = 0x07D0
LEGACY_AD_MAX = 31

# §9.3.1 frame-control bits.
FC_V2_SUPPORTED = 0x0004
FC_V2_ENABLED = 0x0008
FC_GATEWAY = 0x0010
FC_CONNECTIVITY_SHIFT = 5
FC_ID_INCLUDED = 0x0100
FC_CONNECTION_REQUEST = 0x0200
FC_SHARED = 0x0400
FC_BOUND = 0x0800
FC_VERSION_SHIFT = 12
#: §9.3.1: an unbound TuyaOpen/AK device without a Wi-Fi link; CK advertises 0x4300 and BSDK 0x4100.
FRAME_CONTROL_TUYAOPEN = 0x430C
FRAME_CONTROL_CK = 0x4300
FRAME_CONTROL_BSDK = 0x4100

ID_TYPE_PID = 0
ID_TYPE_PRODUCT_KEY = 1
# §9.3.1 scan-response flag, TuyaOpen/AK semantics.
FLAG_ID_COMPRESSED = 0x01
FLAG_BOUND = 0x80
#: §9.3.1: TuyaOpen's communication ability, Wi-Fi 2.4 GHz (0x0004) + 5 GHz (0x0008).
ABILITY_WIFI = 0x000C
SECURE_WITH_AUTH_KEY = 0x00


def _u(value: object, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise LocalProtocolError(f"{what} must be an unsigned {bits}-bit integer, got {value!r}")
    return value


def _b(value: object, what: str, lengths: tuple[int, ...] | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise LocalProtocolError(f"{what} must be bytes, got {type(value).__name__}")
    if lengths is not None and len(value) not in lengths:
        raise LocalProtocolError(f"{what} must be {' or '.join(map(str, lengths))} bytes, got {len(value)}")
    return value


def frame_control(*, v2_supported: bool = True, v2_enabled: bool = True, gateway: bool = False,
                  connectivity: int = 0, id_included: bool = True, connection_request: bool = True,
                  shared: bool = False, bound: bool = False, version: int = 4) -> int:
    """A §9.3.1 frame-control value; the defaults give TuyaOpen's unbound 0x430C."""
    _u(connectivity, "connectivity", 2)
    _u(version, "version", 4)
    value = (version << FC_VERSION_SHIFT) | (connectivity << FC_CONNECTIVITY_SHIFT)
    for flag, bit in ((v2_supported, FC_V2_SUPPORTED), (v2_enabled, FC_V2_ENABLED), (gateway, FC_GATEWAY),
                      (id_included, FC_ID_INCLUDED), (connection_request, FC_CONNECTION_REQUEST),
                      (shared, FC_SHARED), (bound, FC_BOUND)):
        value |= bit if flag else 0
    return value


# --------------------------------------------------------------------------------------------------
# AD structures


def encode_ad(ad_type: int, value: bytes) -> bytes:
    """One AD structure ``[len][type][value]``."""
    _u(ad_type, "AD type", 8)
    if len(_b(value, "AD value")) > 254:
        raise LocalProtocolError("an AD value is at most 254 bytes")
    return bytes([len(value) + 1, ad_type]) + value


def parse_ad_structures(data: bytes) -> list[tuple[int, bytes]]:
    """Split advertising data into ``(type, value)``; a zero length byte ends the data (the rest is padding)."""
    found: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):  # bounded: every pass consumes at least one byte
        length = data[offset]
        if length == 0:
            break
        if offset + 1 + length > len(data):
            raise BleError(f"AD structure at offset {offset} declares {length} bytes, only "
                           f"{len(data) - offset - 1} follow", reason=BleFault.ADVERTISEMENT, section=ADV_V4)
        found.append((data[offset + 1], bytes(data[offset + 2:offset + 1 + length])))
        offset += 1 + length
    return found


def _service_data(structures: list[tuple[int, bytes]], uuid: int) -> bytes | None:
    for ad_type, value in structures:
        if ad_type == AD_SERVICE_DATA_UUID16 and len(value) >= 2 and int.from_bytes(value[:2], "little") == uuid:
            return value[2:]
    return None


def _manufacturer_data(structures: list[tuple[int, bytes]]) -> bytes | None:
    for ad_type, value in structures:
        if ad_type == AD_MANUFACTURER and len(value) >= 2 and int.from_bytes(value[:2], "little") == COMPANY_ID:
            return value[2:]
    return None


def _first(structures: list[tuple[int, bytes]], *types: int) -> bytes | None:
    return next((value for ad_type, value in structures if ad_type in types), None)


def _uuid_list(structures: list[tuple[int, bytes]]) -> tuple[int, ...]:
    uuids: list[int] = []
    for ad_type, value in structures:
        if ad_type in (AD_INCOMPLETE_UUID16, AD_COMPLETE_UUID16):
            uuids += [int.from_bytes(value[i:i + 2], "little") for i in range(0, len(value) - 1, 2)]
    return tuple(uuids)


def _flags_value(structures: list[tuple[int, bytes]]) -> int | None:
    value = _first(structures, AD_FLAGS)
    return value[0] if value else None


def _head(flags: int | None, uuid: int, include_uuid_list: bool) -> bytes:
    out = b"" if flags is None else encode_ad(AD_FLAGS, bytes([_u(flags, "flags", 8)]))
    return out + (encode_ad(AD_INCOMPLETE_UUID16, uuid.to_bytes(2, "little")) if include_uuid_list else b"")


def _legacy(data: bytes, what: str) -> bytes:
    if len(data) > LEGACY_AD_MAX:
        raise LocalProtocolError(f"{what} of {len(data)} bytes exceeds the {LEGACY_AD_MAX} bytes of legacy "
                                 "advertising")
    return data


# --------------------------------------------------------------------------------------------------
# §9.3.1 v4, service 0xFD50


@dataclass(frozen=True)
class ServiceDataV4:
    """Service data under 0xFD50 after the UUID: ``[FC:2 BE][id type][id len][id]`` (§9.3.1).

    ``id_field`` is the PID (raw ASCII) while unbound, the encrypted bound ID (§9.6.6) when bound; 16 bytes,
    or 20 as BSDK and TOS also send.
    """

    frame_control: int
    id_field: bytes
    id_type: int = ID_TYPE_PID

    def __post_init__(self) -> None:
        _u(self.frame_control, "frame control", 16)
        _u(self.id_type, "id type", 8)
        _b(self.id_field, "id field", (16, 20))

    def encode(self) -> bytes:
        return (self.frame_control.to_bytes(2, "big") + bytes([self.id_type, len(self.id_field)])
                + self.id_field)

    @classmethod
    def parse(cls, data: bytes) -> ServiceDataV4:
        if len(data) < 4 or len(data) != 4 + data[3] or data[3] not in (16, 20):
            raise BleError(f"0xFD50 service data must be frame control, type, length 16 or 20 and the ID, got "
                           f"{bytes(data).hex()}", reason=BleFault.ADVERTISEMENT, section=ADV_V4)
        return cls(frame_control=int.from_bytes(data[:2], "big"), id_type=data[2], id_field=bytes(data[4:]))

    @property
    def bound(self) -> bool:
        return bool(self.frame_control & FC_BOUND)

    @property
    def version(self) -> int:
        return self.frame_control >> FC_VERSION_SHIFT


@dataclass(frozen=True)
class ManufacturerDataV4:
    """Scan-response manufacturer data after company 0x07D0: ``[secure type][ability:2 BE][flag][enc_id:16]``
    (§9.3.1). ``flag`` has TuyaOpen's meaning by default (bit0 ID compressed, bit7 bound); BSDK's differs."""

    encrypted_id: bytes
    secure_type: int = SECURE_WITH_AUTH_KEY
    ability: int = ABILITY_WIFI
    flag: int = FLAG_ID_COMPRESSED

    def __post_init__(self) -> None:
        _b(self.encrypted_id, "encrypted id", (ID16_LEN,))
        _u(self.secure_type, "secure type", 8)
        _u(self.ability, "ability", 16)
        _u(self.flag, "flag", 8)

    def encode(self) -> bytes:
        return bytes([self.secure_type]) + self.ability.to_bytes(2, "big") + bytes([self.flag]) + self.encrypted_id

    @classmethod
    def parse(cls, data: bytes) -> ManufacturerDataV4:
        if len(data) != 20:
            raise BleError(f"0x07D0 manufacturer data (v4) is 20 bytes, got {len(data)}",
                           reason=BleFault.ADVERTISEMENT, section=ADV_V4)
        return cls(secure_type=data[0], ability=int.from_bytes(data[1:3], "big"), flag=data[3],
                   encrypted_id=bytes(data[4:]))


@dataclass(frozen=True)
class AdvertisementV4:
    """A v4 advertisement (§9.3.1); ``manufacturer`` is None without the scan response (passive scanning)."""

    service: ServiceDataV4
    manufacturer: ManufacturerDataV4 | None = None
    name: bytes | None = b"TYBLE"
    flags: int | None = LE_GENERAL_DISCOVERABLE
    include_uuid_list: bool = field(default=True)

    def __post_init__(self) -> None:
        if not isinstance(self.service, ServiceDataV4):
            raise LocalProtocolError("service must be a ServiceDataV4")
        if self.manufacturer is not None and not isinstance(self.manufacturer, ManufacturerDataV4):
            raise LocalProtocolError("manufacturer must be a ManufacturerDataV4 or None")
        if self.name is not None:
            _b(self.name, "name")
        if self.flags is not None:
            _u(self.flags, "flags", 8)

    def encode(self) -> tuple[bytes, bytes]:
        """``(advertising data, scan response)``, each within 31 bytes."""
        adv = _head(self.flags, SERVICE_UUID_V4, self.include_uuid_list) + encode_ad(
            AD_SERVICE_DATA_UUID16, SERVICE_UUID_V4.to_bytes(2, "little") + self.service.encode())
        scan = b""
        if self.manufacturer is not None:
            scan += encode_ad(AD_MANUFACTURER, COMPANY_ID.to_bytes(2, "little") + self.manufacturer.encode())
        if self.name is not None:
            scan += encode_ad(AD_COMPLETE_NAME, self.name)
        return _legacy(adv, "advertising data"), _legacy(scan, "scan response")

    @property
    def generation(self) -> Generation:
        return generation_of(self)

    def ble_id(self) -> bytes:
        """The BLE ID, decrypted from the scan response with K = MD5(service data) (§9.6.6)."""
        if self.manufacturer is None:
            raise LocalProtocolError("the BLE ID is in the scan response, which this advertisement lacks")
        return decrypt_advertised_id(self.manufacturer.encrypted_id, self.service.encode())


def advertise_v4(*, id16: bytes, id_field: bytes, frame_control_value: int = FRAME_CONTROL_TUYAOPEN,
                 id_type: int = ID_TYPE_PID, compressed: bool = True, ability: int = ABILITY_WIFI,
                 secure_type: int = SECURE_WITH_AUTH_KEY, flag: int | None = None,
                 name: bytes | None = b"TYBLE") -> AdvertisementV4:
    """A device's v4 advertisement: ``id_field`` is the PID (unbound) or the bound ID (§9.6.6), and the scan
    response carries ``id16`` encrypted with K = MD5(service data). ``flag`` defaults to TuyaOpen's: bit0
    when ``compressed``, bit7 when the frame control says bound."""
    service = ServiceDataV4(frame_control=frame_control_value, id_type=id_type, id_field=id_field)
    if flag is None:
        flag = (FLAG_ID_COMPRESSED if compressed else 0) | (FLAG_BOUND if service.bound else 0)
    manufacturer = ManufacturerDataV4(encrypted_id=encrypt_advertised_id(id16, service.encode()),
                                      secure_type=secure_type, ability=ability, flag=flag)
    return AdvertisementV4(service=service, manufacturer=manufacturer, name=name)


# --------------------------------------------------------------------------------------------------
# §9.3.2 v3, service 0xA201


@dataclass(frozen=True)
class ServiceDataV3:
    """Service data under 0xA201 after the UUID: ``[type][16-byte ID]`` (§9.3.2; PB shows type 1)."""

    id_field: bytes
    id_type: int = ID_TYPE_PRODUCT_KEY

    def __post_init__(self) -> None:
        _b(self.id_field, "id field", (ID16_LEN,))
        _u(self.id_type, "id type", 8)

    def encode(self) -> bytes:
        return bytes([self.id_type]) + self.id_field

    @classmethod
    def parse(cls, data: bytes) -> ServiceDataV3:
        if len(data) != 1 + ID16_LEN:
            raise BleError(f"0xA201 service data is a type byte and a 16-byte ID, got {len(data)} bytes",
                           reason=BleFault.ADVERTISEMENT, section=ADV_V3)
        return cls(id_type=data[0], id_field=bytes(data[1:]))


@dataclass(frozen=True)
class ManufacturerDataV3:
    """v3 manufacturer data after 0x07D0: ``[flag][protocol version][encryption mode][ability:2 BE][reserved]
    [enc_id:16]`` (§9.3.2; HA reads bound = flag & 0x80)."""

    encrypted_id: bytes
    flag: int = 0
    protocol_version: int = 3
    encryption_mode: int = 0
    ability: int = ABILITY_WIFI
    reserved: int = 0

    def __post_init__(self) -> None:
        _b(self.encrypted_id, "encrypted id", (ID16_LEN,))
        for name in ("flag", "protocol_version", "encryption_mode", "reserved"):
            _u(getattr(self, name), name, 8)
        _u(self.ability, "ability", 16)

    def encode(self) -> bytes:
        return (bytes([self.flag, self.protocol_version, self.encryption_mode]) + self.ability.to_bytes(2, "big")
                + bytes([self.reserved]) + self.encrypted_id)

    @classmethod
    def parse(cls, data: bytes) -> ManufacturerDataV3:
        if len(data) != 22:
            raise BleError(f"0x07D0 manufacturer data (v3) is 22 bytes, got {len(data)}",
                           reason=BleFault.ADVERTISEMENT, section=ADV_V3)
        return cls(flag=data[0], protocol_version=data[1], encryption_mode=data[2],
                   ability=int.from_bytes(data[3:5], "big"), reserved=data[5], encrypted_id=bytes(data[6:]))

    @property
    def bound(self) -> bool:
        return bool(self.flag & FLAG_BOUND)


@dataclass(frozen=True)
class AdvertisementV3:
    """A v3 advertisement (§9.3.2), as PB captured from a Wi-Fi combo device."""

    service: ServiceDataV3
    manufacturer: ManufacturerDataV3 | None = None
    name: bytes | None = b"TY"
    flags: int | None = LE_GENERAL_DISCOVERABLE
    include_uuid_list: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.service, ServiceDataV3):
            raise LocalProtocolError("service must be a ServiceDataV3")
        if self.manufacturer is not None and not isinstance(self.manufacturer, ManufacturerDataV3):
            raise LocalProtocolError("manufacturer must be a ManufacturerDataV3 or None")
        if self.name is not None:
            _b(self.name, "name")
        if self.flags is not None:
            _u(self.flags, "flags", 8)

    def encode(self) -> tuple[bytes, bytes]:
        """``(advertising data, scan response)``: see the module docstring for the split."""
        adv = _head(self.flags, SERVICE_UUID_V3, self.include_uuid_list) + encode_ad(
            AD_SERVICE_DATA_UUID16, SERVICE_UUID_V3.to_bytes(2, "little") + self.service.encode())
        scan = b"" if self.name is None else encode_ad(AD_COMPLETE_NAME, self.name)
        if self.manufacturer is not None:
            scan += encode_ad(AD_MANUFACTURER, COMPANY_ID.to_bytes(2, "little") + self.manufacturer.encode())
        return _legacy(adv, "advertising data"), _legacy(scan, "scan response")

    @property
    def generation(self) -> Generation:
        return generation_of(self)

    def ble_id(self) -> bytes:
        """The ID, decrypted with K = MD5(service data after the type byte) (§9.6.6 v3, vector V-9)."""
        if self.manufacturer is None:
            raise LocalProtocolError("the ID is in the manufacturer data, which this advertisement lacks")
        return decrypt_advertised_id(self.manufacturer.encrypted_id, self.service.id_field)


def advertise_v3(*, id16: bytes, id_field: bytes, flag: int = 0, protocol_version: int = 3,
                 encryption_mode: int = 0, ability: int = ABILITY_WIFI, name: bytes | None = b"TY") -> AdvertisementV3:
    """A device's v3 advertisement, with ``id16`` encrypted under K = MD5(``id_field``) (§9.6.6)."""
    service = ServiceDataV3(id_field=id_field)
    manufacturer = ManufacturerDataV3(encrypted_id=encrypt_advertised_id(id16, id_field), flag=flag,
                                      protocol_version=protocol_version, encryption_mode=encryption_mode,
                                      ability=ability)
    return AdvertisementV3(service=service, manufacturer=manufacturer, name=name)


# --------------------------------------------------------------------------------------------------
# parsing whole advertisements

Advertisement = AdvertisementV4 | AdvertisementV3


def parse_advertisement(adv_data: bytes, scan_response: bytes = b"") -> Advertisement:
    """Parse a Tuya advertisement from raw AD bytes (advertising data and scan response, in any split)."""
    structures = parse_ad_structures(adv_data) + parse_ad_structures(scan_response)
    name = _first(structures, AD_COMPLETE_NAME, AD_SHORT_NAME)
    flags = _flags_value(structures)
    uuids = _uuid_list(structures)
    v4 = _service_data(structures, SERVICE_UUID_V4)
    manufacturer = _manufacturer_data(structures)
    if v4 is not None:
        return AdvertisementV4(
            service=ServiceDataV4.parse(v4), name=name, flags=flags, include_uuid_list=SERVICE_UUID_V4 in uuids,
            manufacturer=None if manufacturer is None else ManufacturerDataV4.parse(manufacturer))
    v3 = _service_data(structures, SERVICE_UUID_V3)
    if v3 is not None:
        return AdvertisementV3(
            service=ServiceDataV3.parse(v3), name=name, flags=flags, include_uuid_list=SERVICE_UUID_V3 in uuids,
            manufacturer=None if manufacturer is None else ManufacturerDataV3.parse(manufacturer))
    raise BleError("no service data under 0xFD50 or 0xA201: not a Tuya BLE advertisement",
                   reason=BleFault.ADVERTISEMENT, section=ADV_V4)


def _uuid16_of(key: str | int) -> int | None:
    if isinstance(key, int):
        return key
    text = key.lower()
    if len(text) == 36 and text.startswith("0000") and text.endswith("-0000-1000-8000-00805f9b34fb"):
        text = text[4:8]
    if len(text) != 4 or any(char not in "0123456789abcdef" for char in text):
        return None
    return int(text, 16)


def parse_scan_record(service_data: Mapping[str, bytes], manufacturer_data: Mapping[int, bytes],
                      *, name: str | None = None) -> Advertisement:
    """Parse what bleak reports (§9.12): ``service_data`` keyed by UUID string (128-bit or 4 hex digits),
    ``manufacturer_data`` by company ID, each value starting after the UUID or company ID."""
    by_uuid = {_uuid16_of(key): bytes(value) for key, value in service_data.items()}
    manufacturer = manufacturer_data.get(COMPANY_ID)
    raw_name = None if name is None else name.encode("utf-8", "surrogatepass")
    if SERVICE_UUID_V4 in by_uuid:
        return AdvertisementV4(
            service=ServiceDataV4.parse(by_uuid[SERVICE_UUID_V4]), name=raw_name, flags=None,
            manufacturer=None if manufacturer is None else ManufacturerDataV4.parse(bytes(manufacturer)))
    if SERVICE_UUID_V3 in by_uuid:
        return AdvertisementV3(
            service=ServiceDataV3.parse(by_uuid[SERVICE_UUID_V3]), name=raw_name, flags=None,
            manufacturer=None if manufacturer is None else ManufacturerDataV3.parse(bytes(manufacturer)))
    raise BleError("no service data under 0xFD50 or 0xA201", reason=BleFault.ADVERTISEMENT, section=ADV_V4)


def generation_of(advertisement: Advertisement) -> Generation:
    """Which key scheme to speak (§9.0): V2 when a v4 frame control has bit 3 (V2 enabled), else V1.

    §9.14 item 1: the bits are "the only advertised signal"; that the app keys off bit 3 is this harness's
    choice. v3 devices get V1 (§9.14 item 2: no v3 combo firmware is public)."""
    if isinstance(advertisement, AdvertisementV4) and advertisement.service.frame_control & FC_V2_ENABLED:
        return Generation.V2
    return Generation.V1


__all__ = [
    "ABILITY_WIFI", "COMPANY_ID", "FC_BOUND", "FC_CONNECTION_REQUEST", "FC_GATEWAY", "FC_ID_INCLUDED", "FC_SHARED",
    "FC_V2_ENABLED", "FC_V2_SUPPORTED", "FLAG_BOUND", "FLAG_ID_COMPRESSED", "FRAME_CONTROL_BSDK",
    "FRAME_CONTROL_CK", "FRAME_CONTROL_TUYAOPEN", "ID_TYPE_PID", "ID_TYPE_PRODUCT_KEY", "LEGACY_AD_MAX",
    "LE_GENERAL_DISCOVERABLE", "SECURE_WITH_AUTH_KEY", "SERVICE_UUID_V3", "SERVICE_UUID_V4", "Advertisement",
    "AdvertisementV3", "AdvertisementV4", "ManufacturerDataV3", "ManufacturerDataV4", "ServiceDataV3",
    "ServiceDataV4", "advertise_v3", "advertise_v4", "encode_ad", "frame_control", "generation_of",
    "parse_ad_structures", "parse_advertisement", "parse_scan_record",
]
