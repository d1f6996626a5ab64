"""Sans-IO codec of Tuya-style BLE provisioning (PROTOCOL.md §9), from advertisement to Wi-Fi credentials.

Layers, each its own module: :mod:`.advertisement` (§9.3, §9.6.6), :mod:`.transport` (§9.4 sub-packets),
:mod:`.frame` (§9.5), :mod:`.security` (§9.6 keys, BLE ID, envelope), :mod:`.messages` (§9.7), and the two
connection objects :class:`BleAppConnection` (:mod:`.app`) and :class:`BleDeviceConnection` (:mod:`.device`),
which share :mod:`.session`. :mod:`.gatt` holds the service and characteristic UUIDs (§9.2).
"""

from .advertisement import (
    Advertisement,
    AdvertisementV3,
    AdvertisementV4,
    ManufacturerDataV3,
    ManufacturerDataV4,
    ServiceDataV3,
    ServiceDataV4,
    advertise_v3,
    advertise_v4,
    frame_control,
    generation_of,
    parse_advertisement,
    parse_scan_record,
)
from .app import APP_TRANSITIONS, AppCredentials, AppState, BleAppConnection
from .device import BleDeviceConnection, DeviceState
from .errors import BleError, BleFault
from .frame import Frame, crc16_modbus
from .messages import (
    AppMessage,
    Cmd,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    DeviceInfoTail,
    DeviceMessage,
    NetStatus,
    NetworkStatusReport,
    OtherCommand,
    PairAnswer,
    PairRequest,
    PairResult,
    ResetAnswer,
    ResetRequest,
    SubCommand,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    WifiResult,
    parse_app_message,
    parse_device_message,
    parse_wifi_json,
)
from .security import EncryptionMode, Envelope, Generation, Padding, ble_id, seal, uuid_from_ble_id
from .session import (
    DisconnectReason,
    DisconnectRequested,
    DropReason,
    Event,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    PacketDropped,
    Paired,
    ResetRequested,
    WifiConfigRefused,
    WifiConfigured,
)
from .transport import PacketAbandoned, ReassembledPacket, Reassembler, split_packet

__all__ = [
    "APP_TRANSITIONS", "Advertisement", "AdvertisementV3", "AdvertisementV4", "AppCredentials", "AppMessage",
    "AppState", "BleAppConnection", "BleDeviceConnection", "BleError", "BleFault", "Cmd", "DeviceInfoAnswer",
    "DeviceInfoRequest", "DeviceInfoTail", "DeviceMessage", "DeviceState", "DisconnectReason", "DisconnectRequested",
    "DropReason", "EncryptionMode", "Envelope", "Event", "Frame", "Generation", "ManufacturerDataV3",
    "ManufacturerDataV4", "MessageIgnored", "MessageReceived", "MessageSent", "NetStatus", "NetworkStatusReport",
    "OtherCommand", "PacketAbandoned", "PacketDropped", "Padding", "PairAnswer", "PairRequest", "PairResult",
    "Paired", "ReassembledPacket", "Reassembler", "ResetAnswer", "ResetRequest", "ResetRequested", "ServiceDataV3",
    "ServiceDataV4", "SubCommand", "WifiConfigAnswerV1", "WifiConfigAnswerV2", "WifiConfigRefused",
    "WifiConfigV1", "WifiConfigV2", "WifiConfigured", "WifiCredentials", "WifiResult", "advertise_v3",
    "advertise_v4", "ble_id", "crc16_modbus", "frame_control", "generation_of", "parse_advertisement",
    "parse_app_message", "parse_device_message", "parse_scan_record", "parse_wifi_json", "seal", "split_packet",
    "uuid_from_ble_id",
]
