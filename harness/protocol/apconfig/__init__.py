"""AP (SoftAP) pairing frames: legacy 55AA "AP 3.x" (PROTOCOL.md §3.1) and LPV3.5 6699 (§3.2).

Sans-IO in the h11 manner: whole-frame ``encode_*``/``decode_*`` functions, and for byte streams the
:class:`ApFrameBuffer` / :class:`Lpv35FrameBuffer` pair with ``receive_data(bytes)`` and
``next_frame()``. Nonces are parameters: nothing here draws randomness or reads a clock.

Errors: a :class:`FrameError` (a :class:`RemoteProtocolError`) names in ``reason`` which framing check
failed (prefix, suffix, length, CRC, tag, reserved); payload errors are plain RemoteProtocolErrors. Asking
to build something the specification forbids (a 33-byte SSID, a 13-byte nonce) is a LocalProtocolError.

:mod:`~harness.protocol.apconfig.frames` holds the frames and the configuration JSON,
:mod:`~harness.protocol.apconfig.messages` the messages LPV3.5 frames carry; both are re-exported here.
"""

from ..framing import MAX_FRAME_LEN, FrameError, FrameFault
from .frames import (
    AP_CONFIG_CMD,
    AP_PREFIX,
    AP_SUFFIX,
    CLOUDCUTTER_MAX_PAYLOAD,
    KNOWN_EXTRAS,
    LPV35_APP_KEY,
    LPV35_PREFIX,
    LPV35_SUFFIX,
    MAX_PASSWORD_BYTES,
    MAX_SSID_BYTES,
    NONCE_LEN,
    PAYLOAD_STYLES,
    TAG_LEN,
    ApConfig,
    ApFrame,
    ApFrameBuffer,
    Lpv35Frame,
    Lpv35FrameBuffer,
    Lpv35Type,
    PayloadStyle,
    ap_config_payload,
    decode_ap_config,
    decode_ap_frame,
    decode_lpv35_frame,
    encode_ap_config,
    encode_ap_frame,
    encode_lpv35_frame,
    parse_ap_config_payload,
)
from .messages import (
    EXT_REPLIES,
    EXT_REQUESTS,
    MAX_UUID_LEN,
    RET_CODE_BYTEORDER,
    ApBeacon,
    ApCfgAck,
    AppMessage,
    DeviceMessage,
    ExtCmdReply,
    ExtCmdRequest,
    ap_beacon_payload,
    ap_cfg_ack_payload,
    ap_cfg_request_payload,
    decode_ap_beacon,
    encode_ap_beacon,
    encode_ap_cfg_ack,
    encode_ap_cfg_request,
    encode_ext_cmd,
    ext_cmd_payload,
    parse_ap_beacon_payload,
    parse_ap_cfg_ack,
    parse_ap_cfg_request,
    parse_app_message,
    parse_device_message,
    parse_ext_cmd_reply,
    parse_ext_cmd_request,
)

__all__ = [
    "AP_CONFIG_CMD", "AP_PREFIX", "AP_SUFFIX", "CLOUDCUTTER_MAX_PAYLOAD", "EXT_REPLIES", "EXT_REQUESTS", "KNOWN_EXTRAS",
    "LPV35_APP_KEY", "LPV35_PREFIX", "LPV35_SUFFIX", "MAX_FRAME_LEN", "MAX_PASSWORD_BYTES", "MAX_SSID_BYTES",
    "MAX_UUID_LEN", "NONCE_LEN", "PAYLOAD_STYLES", "RET_CODE_BYTEORDER", "TAG_LEN", "ApBeacon", "ApCfgAck", "ApConfig",
    "ApFrame", "ApFrameBuffer", "AppMessage", "DeviceMessage", "ExtCmdReply", "ExtCmdRequest", "FrameError",
    "FrameFault", "Lpv35Frame", "Lpv35FrameBuffer", "Lpv35Type", "PayloadStyle", "ap_beacon_payload",
    "ap_cfg_ack_payload", "ap_cfg_request_payload", "ap_config_payload", "decode_ap_beacon", "decode_ap_config",
    "decode_ap_frame", "decode_lpv35_frame", "encode_ap_beacon", "encode_ap_cfg_ack", "encode_ap_cfg_request",
    "encode_ap_config", "encode_ap_frame", "encode_ext_cmd", "encode_lpv35_frame", "ext_cmd_payload",
    "parse_ap_beacon_payload", "parse_ap_cfg_ack", "parse_ap_cfg_request", "parse_ap_config_payload",
    "parse_app_message", "parse_device_message", "parse_ext_cmd_reply", "parse_ext_cmd_request"
]
