"""The app side of BLE provisioning (GATT central), sans-IO (§9.1).

:class:`BleAppConnection` sends what it is asked to (``send`` returns the GATT writes) and checks what the
device notifies (``receive_data`` then ``next_event``). It does not enforce the order of its own sends, so that a
test can send a configuration before pairing or an unencrypted one; its ``state`` follows the provisioning
sequence through one table, :data:`APP_TRANSITIONS`, and stays put on anything off the table.

Key handling (§9.6.2): key 11 (or 1) is derived from the IV of the app's own device-info request, which is
``rand16``, and reused to decrypt the device's answer, never re-derived from the answer's IV; key 12 (or 2)
follows from the answer's ``srand``. The credentials are the BLE ID plus either the licence AuthKey or a
pre-computed ``(rand16, key)`` pair, as a cloud might hand out (§9.6.2 "Where the app gets authKey").

Choices (§9.14): answer 0x02 (already bound) is not a success (item 8; PYSDK treats it as one); the app
accepts a device frame only in the mode that fits it (device info in 11/1, the rest in 12/2) and reports any
other as dropped; device frames whose sn does not increase are dropped (``SEQUENCE``) and reported.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import LocalProtocolError
from .errors import ACCEPTANCE, BleError, BleFault
from .messages import (
    PAIR_REQUEST_TAIL,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    DeviceMessage,
    Message,
    NetworkStatusReport,
    PairAnswer,
    PairRequest,
    PairResult,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    WifiResult,
    parse_device_message,
)
from .security import (
    AUTH_KEY_LEN,
    ID16_LEN,
    IV_LEN,
    EncryptionMode,
    Envelope,
    Generation,
    Padding,
    ble_id,
    device_info_mode,
    expected_mode,
    key1,
    key2,
    key11,
    key12,
    register_key,
    session_mode,
)
from .session import BleConnection, DropReason, IvSource, MessageReceived
from .transport import DEFAULT_MAX_PACKET_LEN, DEFAULT_VERSION, SAFE_WRITE_SIZE, ReassembledPacket


@dataclass(frozen=True)
class AppCredentials:
    """What the app needs to provision a device: its BLE ID (§9.6.5) and the AuthKey, or a pre-computed
    device-info key with the ``rand16`` it was made for (§9.6.2)."""

    ble_id: bytes
    auth_key: bytes | None = None
    rand16: bytes | None = None
    device_info_key: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ble_id, bytes) or len(self.ble_id) != ID16_LEN:
            raise LocalProtocolError(f"ble_id must be {ID16_LEN} bytes")
        if self.auth_key is not None:
            if not isinstance(self.auth_key, bytes) or len(self.auth_key) != AUTH_KEY_LEN:
                raise LocalProtocolError(f"auth_key must be the {AUTH_KEY_LEN} ASCII bytes of the licence AuthKey")
            if self.rand16 is not None or self.device_info_key is not None:
                raise LocalProtocolError("give the AuthKey or a pre-computed (rand16, key), not both")
        elif not (isinstance(self.rand16, bytes) and len(self.rand16) == IV_LEN
                  and isinstance(self.device_info_key, bytes) and len(self.device_info_key) == 16):
            raise LocalProtocolError("without auth_key, rand16 (16 bytes) and device_info_key (16 bytes) are needed")

    def __repr__(self) -> str:  # the AuthKey and keys never reach a log
        return f"AppCredentials(ble_id={self.ble_id.hex()}, auth_key=<{'set' if self.auth_key else 'none'}>)"

    @classmethod
    def from_licence(cls, uuid: str, auth_key: bytes) -> AppCredentials:
        return cls(ble_id=ble_id(uuid), auth_key=auth_key)


class AppState(enum.StrEnum):
    """Where the app stands in the provisioning sequence (§9.1)."""

    START = "start"
    AWAIT_DEVICE_INFO = "await-device-info"
    DEVICE_INFO = "device-info"
    AWAIT_PAIR = "await-pair"
    PAIRED = "paired"
    PAIR_REFUSED = "pair-refused"
    AWAIT_WIFI_RESULT = "await-wifi-result"
    PROVISIONED = "provisioned"
    WIFI_REFUSED = "wifi-refused"


_S = AppState
#: The whole state machine: (state, "send" | "receive", message type, success or None) -> next state.
#: Anything missing leaves the state where it is.
APP_TRANSITIONS: Mapping[tuple[AppState, str, type, bool | None], AppState] = MappingProxyType({
    (_S.START, "send", DeviceInfoRequest, None): _S.AWAIT_DEVICE_INFO,
    (_S.AWAIT_DEVICE_INFO, "receive", DeviceInfoAnswer, None): _S.DEVICE_INFO,
    (_S.DEVICE_INFO, "send", PairRequest, None): _S.AWAIT_PAIR,
    (_S.AWAIT_PAIR, "receive", PairAnswer, True): _S.PAIRED,
    (_S.AWAIT_PAIR, "receive", PairAnswer, False): _S.PAIR_REFUSED,
    (_S.PAIRED, "send", WifiConfigV2, None): _S.AWAIT_WIFI_RESULT,
    (_S.PAIRED, "send", WifiConfigV1, None): _S.AWAIT_WIFI_RESULT,
    (_S.AWAIT_WIFI_RESULT, "receive", WifiConfigAnswerV2, True): _S.PROVISIONED,
    (_S.AWAIT_WIFI_RESULT, "receive", WifiConfigAnswerV2, False): _S.WIFI_REFUSED,
    (_S.AWAIT_WIFI_RESULT, "receive", WifiConfigAnswerV1, True): _S.PROVISIONED,
    (_S.AWAIT_WIFI_RESULT, "receive", WifiConfigAnswerV1, False): _S.WIFI_REFUSED,
})


def _success(message: Message) -> bool | None:
    if isinstance(message, PairAnswer):
        return message.result == PairResult.PAIRED
    if isinstance(message, WifiConfigAnswerV2 | WifiConfigAnswerV1):
        return message.result == WifiResult.ACCEPTED
    return None


class BleAppConnection(BleConnection):
    """One app-side BLE connection. ``att_mtu`` decides the write size (``ATT_MTU - 3``, §9.2); ``announce`` is
    the sub-packet size the device-info request announces (20 unless the MTU exchange succeeded)."""

    def __init__(self, credentials: AppCredentials, *, iv_source: IvSource, generation: Generation = Generation.V2,
                 att_mtu: int = 23, announce: int = SAFE_WRITE_SIZE, padding: Padding = Padding.PKCS7,
                 version: int = DEFAULT_VERSION, max_packet_len: int = DEFAULT_MAX_PACKET_LEN) -> None:
        if not isinstance(credentials, AppCredentials):
            raise LocalProtocolError("credentials must be AppCredentials")
        if isinstance(att_mtu, bool) or not isinstance(att_mtu, int) or not 23 <= att_mtu <= 517:
            raise LocalProtocolError(f"ATT_MTU is 23 to 517, got {att_mtu!r}")
        DeviceInfoRequest(announce)  # a 16-bit size, checked now rather than at the first send
        super().__init__(generation=generation, iv_source=iv_source, padding=padding, write_size=att_mtu - 3,
                         version=version, max_packet_len=max_packet_len)
        self.credentials = credentials
        self.announce = announce
        self.state = AppState.START
        self.rand16: bytes | None = None
        self.info_key: bytes | None = None
        self.session_key: bytes | None = None
        self.device_info: DeviceInfoAnswer | None = None
        self.pair_result: int | None = None
        self.network_status: int | None = None
        self.wifi_result: int | None = None

    # ---- sending

    def send(self, message: Message, *, mode: int | None = None, iv: bytes | None = None, key: bytes | None = None,
             sn: int | None = None, ack_sn: int = 0, padding: Padding | None = None, crc: int | None = None,
             write_size: int | None = None, seq: int | None = None) -> list[bytes]:
        """Frame, seal and split ``message``; return the GATT writes in order.

        Defaults follow the reference (the mode that fits the command, the next sn, full PKCS#7, the connection's
        write size); each can be overridden for a negative test, e.g. ``mode=0`` for an unencrypted frame,
        ``key=`` a wrong key, ``crc=`` a wrong CRC, ``sn=`` a repeated sequence number.
        """
        if self.closed:
            raise LocalProtocolError("the connection is closed")
        chosen = expected_mode(self.generation, message.cmd) if mode is None else mode
        iv, key = self._iv_and_key(chosen, iv, key, isinstance(message, DeviceInfoRequest))
        packet = self._seal_frame(message, mode=chosen, key=key, iv=iv, ack_sn=ack_sn, sn=sn, padding=padding,
                                  crc=crc)
        self._transition("send", message)
        return self._split(packet, write_size, seq)

    def _iv_and_key(self, mode: int, iv: bytes | None, key: bytes | None,
                    device_info: bool) -> tuple[bytes | None, bytes | None]:
        if mode == EncryptionMode.NONE:
            return None, None
        if mode == device_info_mode(self.generation):
            rand16 = self._device_info_iv(iv)
            info_key = self._info_key(rand16) if key is None else key
            if device_info:  # §9.6.2: rand16 is this request's IV; key 12 will follow this key 11
                self.rand16, self.info_key, self.session_key = rand16, info_key, None
            return rand16, info_key
        if key is None:
            if mode != session_mode(self.generation):
                raise LocalProtocolError(f"mode {mode}: give the key, this app derives only modes "
                                         f"{device_info_mode(self.generation)} and {session_mode(self.generation)}")
            if self.session_key is None:
                raise LocalProtocolError("no session key yet: the device-info answer has not arrived (§9.1 step 5)")
            key = self.session_key
        return self._take_iv(iv), key

    def _device_info_iv(self, iv: bytes | None) -> bytes:
        fixed = self.credentials.rand16
        if fixed is not None:
            if iv is not None and iv != fixed:
                raise LocalProtocolError("a pre-computed device-info key fixes the request's IV to its rand16")
            return fixed
        return self._take_iv(iv)

    def _info_key(self, rand16: bytes) -> bytes:
        creds = self.credentials
        if creds.auth_key is None:
            if creds.device_info_key is None:
                raise LocalProtocolError("broken invariant: creds.device_info_key is not None")
            return creds.device_info_key
        if self.generation is Generation.V2:
            return key11(creds.auth_key, creds.ble_id, rand16)
        return key1(creds.auth_key, rand16)

    def request_device_info(self, **options: Any) -> list[bytes]:
        """§9.1 step 4: the device-info request announcing ``announce`` (protocol 4.x)."""
        return self.send(DeviceInfoRequest(self.announce), **options)

    def request_pair(self, *, tail: bytes = PAIR_REQUEST_TAIL, **options: Any) -> list[bytes]:
        """§9.1 step 6: the pair request, the BLE ID then ``tail`` (28 zero bytes by default)."""
        return self.send(PairRequest(self.credentials.ble_id, tail), **options)

    def configure_wifi(self, credentials: WifiCredentials, *, json_options: Mapping[str, Any] | None = None,
                       **options: Any) -> list[bytes]:
        """§9.1 step 8: 0x801B/0x0001 (V2) or 0x0021 (V1) with the JSON ``{"ssid","pwd","token"}``."""
        kind = WifiConfigV2 if self.generation is Generation.V2 else WifiConfigV1
        return self.send(kind.from_credentials(credentials, **dict(json_options or {})), **options)

    # ---- receiving

    def key_for(self, envelope: Envelope) -> bytes | None:
        if envelope.mode == device_info_mode(self.generation):
            return self.info_key
        if envelope.mode == session_mode(self.generation):
            return self.session_key
        raise BleError(f"the device sent mode {envelope.mode}; a {self.generation.value} device uses "
                       f"{device_info_mode(self.generation)} and {session_mode(self.generation)}",
                       reason=BleFault.MODE, section=ACCEPTANCE)

    def mode_fits(self, mode: int, cmd: int) -> bool:
        return mode == expected_mode(self.generation, cmd)

    def _packet(self, packet: ReassembledPacket) -> None:
        opened = self._open(packet)
        if opened is None:
            return
        frame = opened.frame
        if not self.accept_sn(frame.sn):
            self._drop(DropReason.SEQUENCE, f"device sn {frame.sn} is not above its last {self.last_received_sn} "
                       "(§9.5)")
            return
        try:
            message = parse_device_message(frame)
        except BleError as exc:
            self._drop(DropReason.PAYLOAD, exc.message)
            return
        self.last_received_sn = frame.sn
        self._learn(message)
        self._emit(MessageReceived(message, frame.sn, frame.ack_sn, opened.mode))
        self._transition("receive", message)

    def _learn(self, message: DeviceMessage) -> None:
        if isinstance(message, DeviceInfoAnswer):
            self.device_info = message
            if self.info_key is None:
                raise LocalProtocolError("broken invariant: self.info_key is not None")
            derive = key12 if self.generation is Generation.V2 else key2
            self.session_key = derive(self.info_key, message.srand)
        elif isinstance(message, PairAnswer):
            self.pair_result = message.result
        elif isinstance(message, NetworkStatusReport):
            self.network_status = message.status
        elif isinstance(message, WifiConfigAnswerV2 | WifiConfigAnswerV1):
            self.wifi_result = message.result

    def _transition(self, direction: str, message: Message) -> None:
        self.state = APP_TRANSITIONS.get((self.state, direction, type(message), _success(message)), self.state)

    # ---- findings

    @property
    def register_key_ok(self) -> bool | None:
        """Whether the device-info answer carries AES-ECB(authKey[0:16], rand16) (§9.6.3); None if unknown."""
        if self.device_info is None or self.credentials.auth_key is None or self.rand16 is None:
            return None
        return self.device_info.register_key == register_key(self.credentials.auth_key, self.rand16)

    @property
    def provisioned(self) -> bool:
        return self.state is AppState.PROVISIONED


__all__ = ["APP_TRANSITIONS", "AppCredentials", "AppState", "BleAppConnection"]
