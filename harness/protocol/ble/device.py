"""The device side of BLE provisioning (GATT peripheral), sans-IO, with the reference reactions of §9.9.

:class:`BleDeviceConnection` is one connection of a device in pairing mode. The caller feeds each GATT write
to ``receive_data``, reads ``next_event()`` and sends each notification ``data_to_send()`` returns. The device
answers by itself: device info, pair, the 0x001E report, the Wi-Fi result. It never reads a clock: the caller
passes times to :meth:`check_timeout`.

The reference is the documented behaviour without the §9.10 weaknesses, which are faults for later:

| input (§9.9) | reference reaction |
|---|---|
| CRC mismatch, wrong key, unknown mode, bad envelope | dropped silently (``PacketDropped``) |
| mode 0 (unencrypted), at any time | dropped (``MODE``): §9.10 lead 1 is a weakness |
| a command in a mode that does not fit it | dropped (``MODE``; TOS's pairs, §9.6.4) |
| sn ≤ last received sn | disconnect (TuyaOpen, BSDK) |
| transport version nibble < 2 | dropped |
| duplicate or reordered sub-packets | reassembled correctly (§9.10 lead 2 is a weakness) |
| device-info request with len ≠ 2 (protocol 4.x) | disconnect (BSDK; §9.10 lead 4 is a weakness) |
| announced sub-packet size | clamped to 20..244 (BSDK clamps; §9.10 lead 5 is a weakness); 20 before any |
| pair request with a wrong ID, or shorter than 16 bytes | answer 0x01, disconnect (the AK quirk is a fault) |
| pair request while bound (not the owner's mode 14/15) | answer 0x02, not paired for configuration |
| no successful pair within 30 s of connect | disconnect (``check_timeout``) |
| Wi-Fi configuration before a successful pair | ignored, no answer, credentials unused (§9.10 lead 1) |
| Wi-Fi JSON not parseable | 0xF8 |
| Wi-Fi JSON without a usable ``ssid``/``pwd``/``token`` | 0xF7 (also a value over TuyaOpen's field sizes) |
| unknown command, other sub-command, 0x801B flag bit1 | ignored, no answer |
| the other generation's Wi-Fi command (0x0021 on V2, 0x801B on V1) | ignored, no answer (§9.0) |
| unbind / reset (0x0005, 0x0006) | paired: answer 0x01, ``ResetRequested``, disconnect; else ignored |

Every decision is a small method (``accept_*``, ``pair_result``, ``may_configure_wifi``, ``read_wifi_config``,
``wifi_result_for``, ``sub_packet_size``...) so that a fault subclass changes one of them.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Literal

from ..errors import LocalProtocolError
from .errors import ACCEPTANCE, BleError, BleFault
from .messages import (
    Cmd,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    Message,
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
)
from .security import (
    AUTH_KEY_LEN,
    SRAND_LEN,
    EncryptionMode,
    Envelope,
    Generation,
    Padding,
    ble_id,
    device_info_mode,
    key1,
    key2,
    key11,
    key12,
    key14,
    key15,
    register_key,
    session_mode,
)
from .session import (
    BleConnection,
    DisconnectReason,
    DisconnectRequested,
    DropReason,
    IvSource,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    Opened,
    Paired,
    ResetRequested,
    WifiConfigRefused,
    WifiConfigured,
)
from .transport import DEFAULT_MAX_PACKET_LEN, DEFAULT_VERSION, MAX_WRITE_SIZE, SAFE_WRITE_SIZE, ReassembledPacket

#: §9.1 step 3: TuyaOpen disconnects 30 s after connect unless pairing succeeded.
PAIR_TIMEOUT_S = 30.0


class DeviceState(enum.StrEnum):
    """Where a device connection stands."""

    CONNECTED = "connected"
    DEVICE_INFO_SENT = "device-info-sent"
    PAIRED = "paired"
    CONFIGURED = "configured"
    CLOSED = "closed"


class BleDeviceConnection(BleConnection):
    """One device-side BLE connection, unbound by default (see the module docstring for the reactions)."""

    def __init__(self, *, auth_key: bytes, uuid: str, srand: bytes, iv_source: IvSource,
                 generation: Generation = Generation.V2, bound: bool = False, local_key: bytes | None = None,
                 sec_key: bytes | None = None, padding: Padding = Padding.PKCS7_IF_UNALIGNED,
                 version: int = DEFAULT_VERSION, device_info: DeviceInfoAnswer | None = None,
                 send_network_status: bool | None = None, network_status: int = NetStatus.LINK_DOWN,
                 unsolicited_ack: Literal["zero", "last"] = "zero", reuse_request_iv: bool = False,
                 pair_timeout_s: float = PAIR_TIMEOUT_S, connected_at: float = 0.0,
                 max_packet_len: int = DEFAULT_MAX_PACKET_LEN) -> None:
        if not isinstance(auth_key, bytes) or len(auth_key) != AUTH_KEY_LEN:
            raise LocalProtocolError(f"auth_key must be the {AUTH_KEY_LEN} ASCII bytes of the licence AuthKey")
        if not isinstance(srand, bytes) or len(srand) != SRAND_LEN:
            raise LocalProtocolError(f"srand must be {SRAND_LEN} bytes (the caller draws it)")
        if (local_key is None) != (sec_key is None) or (local_key is not None and not bound):
            raise LocalProtocolError("local_key and sec_key go together, and only on a bound device")
        if unsolicited_ack not in ("zero", "last"):
            raise LocalProtocolError("unsolicited_ack is 'zero' (TuyaOpen) or 'last' (AK)")
        NetworkStatusReport(network_status)  # checked now, not when the first pair succeeds
        for name, value in (("pair_timeout_s", pair_timeout_s), ("connected_at", connected_at)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LocalProtocolError(f"{name} must be a number of seconds, got {value!r}")
        super().__init__(generation=generation, iv_source=iv_source, padding=padding, write_size=SAFE_WRITE_SIZE,
                         version=version, max_packet_len=max_packet_len)
        self.auth_key, self.uuid, self.ble_id, self.srand = auth_key, uuid, ble_id(uuid), srand
        self.bound = bound
        self._owner_keys = None if local_key is None or sec_key is None else (local_key, sec_key)
        self._device_info = device_info
        # §9.0: TuyaOpen and AK send 0x001E after pairing; V1 (CK) sends nothing.
        self.send_network_status = generation is Generation.V2 if send_network_status is None else send_network_status
        self.network_status = network_status
        self.unsolicited_ack = unsolicited_ack
        self.reuse_request_iv = reuse_request_iv  # AK reuses rand16 in its mode-11 answer (§9.6.1)
        self.pair_timeout_s, self.connected_at = pair_timeout_s, connected_at
        self.state = DeviceState.CONNECTED
        self.paired = False
        self.credentials: WifiCredentials | None = None
        self.rand16: bytes | None = None
        self.info_key: bytes | None = None  # key 11 / key 1 (or 14) of the last device-info request
        self.session_key: bytes | None = None  # key 12 / key 2 (or 15)
        self._owner_session = False
        self._outgoing: list[bytes] = []

    # ---- caller API

    def data_to_send(self) -> list[bytes]:
        """The notifications queued since the last call, each one sub-packet, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    def check_timeout(self, now: float) -> bool:
        """§9.1 step 3: disconnect when ``pair_timeout_s`` passed since ``connected_at`` without a pair."""
        if self.closed or self.paired or now - self.connected_at < self.pair_timeout_s:
            return False
        self.disconnect(DisconnectReason.PAIR_TIMEOUT, f"no successful pair within {self.pair_timeout_s} s")
        return True

    def send(self, message: Message, *, ack_sn: int | None = None) -> None:
        """Queue an unsolicited message (e.g. a later 0x001E) in the session mode."""
        if self.closed:
            raise LocalProtocolError("the connection is closed")
        if self.session_key is None:
            raise LocalProtocolError("no session key yet: nothing may be sent before the device-info exchange")
        self._queue(message, mode=self._session_mode(), key=self.session_key,
                    ack_sn=self._unsolicited_ack() if ack_sn is None else ack_sn)

    def disconnect(self, reason: DisconnectReason, detail: str) -> None:
        """Ask the caller to close the link; what is queued is still to be sent."""
        self._emit(DisconnectRequested(reason, detail))
        self.state = DeviceState.CLOSED
        self.connection_lost()

    # ---- decision points (the reference; a fault subclass overrides one)

    def key_for(self, envelope: Envelope) -> bytes | None:
        mode = envelope.mode
        if mode == device_info_mode(self.generation):
            if envelope.iv is None:
                raise LocalProtocolError("broken invariant: envelope.iv is not None")
            if self.generation is Generation.V2:
                return key11(self.auth_key, self.ble_id, envelope.iv)
            return key1(self.auth_key, envelope.iv)
        if mode == session_mode(self.generation):
            return None if self._owner_session else self.session_key
        if self._owner_keys is not None and self.generation is Generation.V2:
            if mode == EncryptionMode.KEY14:
                return key14(*self._owner_keys)
            if mode == EncryptionMode.KEY15:
                return self.session_key if self._owner_session else None
        raise BleError(f"mode {mode} is not accepted by this {self.generation.value} device"
                       + (" (§9.10 lead 1: mode 0 is a weakness)" if mode == EncryptionMode.NONE else ""),
                       reason=BleFault.MODE, section=ACCEPTANCE)

    def mode_fits(self, mode: int, cmd: int) -> bool:
        """§9.6.4, TOS's pairs: device info only in the device-info mode, everything else in the session mode."""
        if cmd == Cmd.DEVICE_INFO:
            return mode in (device_info_mode(self.generation), EncryptionMode.KEY14)
        return mode in (session_mode(self.generation), EncryptionMode.KEY15)

    def device_info_request_ok(self, data: bytes) -> bool:
        """§9.9: BSDK 4.x disconnects unless len == 2 (the reference's protocol is 4.x)."""
        return len(data) == 2

    def sub_packet_size(self, announced: int | None) -> int:
        """The notification size after the app's announcement (§9.2): clamped to 20..244, as BSDK clamps."""
        if announced is None:
            return SAFE_WRITE_SIZE
        return min(max(announced, SAFE_WRITE_SIZE), MAX_WRITE_SIZE)

    def device_info_answer(self) -> DeviceInfoAnswer:
        """The §9.7.2 answer: TuyaOpen's layout, this connection's srand and the register key of rand16."""
        if self.rand16 is None:
            raise LocalProtocolError("broken invariant: self.rand16 is not None")
        register = register_key(self.auth_key, self.rand16) + bytes(16)
        template = self._device_info or DeviceInfoAnswer(
            srand=self.srand, register_field=register, v2_flags=0x06 if self.generation is Generation.V2 else 0)
        return dataclasses.replace(template, srand=self.srand, register_field=register, bound=int(self.bound))

    def pair_result(self, data: bytes) -> PairResult:
        """§9.7.3: combo devices compare the first 16 bytes with their BLE ID; bound answers 0x02."""
        if len(data) < 16 or data[:16] != self.ble_id:
            return PairResult.ID_MISMATCH
        if self.bound and not self._owner_session:
            return PairResult.ALREADY_BOUND
        return PairResult.PAIRED

    def disconnect_on_pair_mismatch(self) -> bool:
        """§9.7.3: TuyaOpen and BSDK disconnect after answering 0x01."""
        return True

    def may_configure_wifi(self) -> bool:
        """The reference takes credentials only from a paired app (§9.10 lead 1 is the weakness)."""
        return self.paired

    def wifi_command_supported(self, cmd: int) -> bool:
        """§9.0: V2 takes 0x801B, V1 takes 0x0021."""
        return cmd == (Cmd.TRANSPARENT_DOWN if self.generation is Generation.V2 else Cmd.WIFI_CONFIG_V1)

    def read_wifi_config(self, message: WifiConfigV2 | WifiConfigV1) -> WifiCredentials:
        """The reference reading of the JSON (:func:`~harness.protocol.ble.messages.parse_wifi_json`)."""
        return message.credentials()

    def wifi_result_for(self, error: BleError) -> int:
        """§9.7.5: 0xF8 for JSON that does not parse, 0xF7 for a missing or unusable key."""
        return WifiResult.JSON_PARSE_ERROR if error.reason is BleFault.JSON else WifiResult.MISSING_KEY

    def may_reset(self) -> bool:
        """Unbind / reset only from a paired app (TuyaOpen takes it from anyone: §9.10 lead 1)."""
        return self.paired

    # ---- receive

    def _packet(self, packet: ReassembledPacket) -> None:
        opened = self._open(packet)
        if opened is None:
            return
        frame = opened.frame
        if not self.accept_sn(frame.sn):
            self.disconnect(DisconnectReason.SEQUENCE, f"sn {frame.sn} is not above the last received "
                            f"{self.last_received_sn}")
            return
        self.last_received_sn = frame.sn
        if frame.cmd == Cmd.DEVICE_INFO:
            self._on_device_info(opened)
        elif frame.cmd == Cmd.PAIR:
            self._on_pair(opened)
        elif frame.cmd in (Cmd.TRANSPARENT_DOWN, Cmd.WIFI_CONFIG_V1):
            self._on_wifi_config(opened)
        elif frame.cmd in (Cmd.UNBIND, Cmd.DEVICE_RESET):
            self._on_reset(opened)
        else:
            message = OtherCommand(frame.cmd, frame.data)
            self._received(message, opened)
            self._emit(MessageIgnored(message, "unknown command (§9.7.0: ignored, no answer)"))

    def _received(self, message: Message, opened: Opened) -> None:
        self._emit(MessageReceived(message, opened.frame.sn, opened.frame.ack_sn, opened.mode))

    def _on_device_info(self, opened: Opened) -> None:
        frame = opened.frame
        if not self.device_info_request_ok(frame.data):
            self.disconnect(DisconnectReason.DEVICE_INFO_LENGTH, f"device-info request with {len(frame.data)} data "
                            "bytes (§9.7.1: 2)")
            return
        try:
            request = DeviceInfoRequest.parse(frame.data)
        except BleError as exc:
            self._drop(DropReason.PAYLOAD, exc.message)
            return
        self._received(request, opened)
        # §9.6.2: the device caches rand16 from the request's IV; key 12 follows the last key 11.
        self.rand16, self.info_key = opened.iv, opened.key
        self._owner_session = opened.mode == EncryptionMode.KEY14
        self.session_key = self._derive_session_key()
        self.write_size = self.sub_packet_size(request.packet_size)
        self.state = DeviceState.DEVICE_INFO_SENT if not self.paired else self.state
        iv = self.rand16 if self.reuse_request_iv else None
        self._queue(self.device_info_answer(), mode=opened.mode, key=opened.key, ack_sn=frame.sn, iv=iv)

    def _derive_session_key(self) -> bytes:
        if self.info_key is None:
            raise LocalProtocolError("broken invariant: self.info_key is not None")
        if self._owner_session:
            if self._owner_keys is None:
                raise LocalProtocolError("broken invariant: self._owner_keys is not None")
            return key15(*self._owner_keys, self.srand)
        if self.generation is Generation.V2:
            return key12(self.info_key, self.srand)
        return key2(self.info_key, self.srand)

    def _on_pair(self, opened: Opened) -> None:
        frame = opened.frame
        if len(frame.data) >= 16:
            self._received(PairRequest.parse(frame.data), opened)
        result = self.pair_result(frame.data)
        self._queue(PairAnswer(result), mode=opened.mode, key=opened.key, ack_sn=frame.sn)
        if result == PairResult.PAIRED:
            self.paired = True
            self.state = DeviceState.PAIRED
            self._emit(Paired(self.ble_id))
            if self.send_network_status:
                self.send(NetworkStatusReport(self.network_status))
        elif result == PairResult.ID_MISMATCH and self.disconnect_on_pair_mismatch():
            self.disconnect(DisconnectReason.PAIR_MISMATCH, "pair request does not carry this device's BLE ID")

    def _on_wifi_config(self, opened: Opened) -> None:
        frame = opened.frame
        try:
            message = parse_app_message(frame)
        except BleError as exc:
            self._drop(DropReason.PAYLOAD, exc.message)
            return
        if not isinstance(message, WifiConfigV2 | WifiConfigV1):
            raise LocalProtocolError("broken invariant: isinstance(message, WifiConfigV2 | WifiConfigV1)")
        self._received(message, opened)
        reason = self._wifi_ignored(message)
        if reason is not None:
            self._emit(MessageIgnored(message, reason))
            return
        try:
            credentials = self.read_wifi_config(message)
        except BleError as exc:
            result = self.wifi_result_for(exc)
            self._answer_wifi(message, result, frame.sn)
            self._emit(WifiConfigRefused(result, exc.message))
            return
        self.credentials = credentials
        self.state = DeviceState.CONFIGURED
        self._emit(WifiConfigured(credentials))  # TuyaOpen hands them over before it answers (§9.7.5)
        self._answer_wifi(message, WifiResult.ACCEPTED, frame.sn)

    def _wifi_ignored(self, message: WifiConfigV2 | WifiConfigV1) -> str | None:
        if not self.wifi_command_supported(message.cmd):
            return f"cmd 0x{message.cmd:04x} is the other generation's Wi-Fi command (§9.0)"
        if not self.may_configure_wifi():
            return "Wi-Fi configuration before a successful pair (§9.10 lead 1)"
        if isinstance(message, WifiConfigV2):
            if message.subcommand != SubCommand.BT_NETCFG:
                return f"sub-command 0x{message.subcommand:04x} is not implemented (§9.7.5: no answer)"
            if message.flag & 0x0002:
                return "large-data sub-packeting (flag bit1) is not implemented (§9.7.5: optional)"
        return None

    def _answer_wifi(self, message: WifiConfigV2 | WifiConfigV1, result: int, request_sn: int) -> None:
        if self.session_key is None:
            raise LocalProtocolError("broken invariant: self.session_key is not None")
        if isinstance(message, WifiConfigV2):
            # §9.7.5: 0x801C in the session mode, ack_sn 0 in TuyaOpen (AK: the last received sn).
            self._queue(WifiConfigAnswerV2(result), mode=self._session_mode(), key=self.session_key,
                        ack_sn=self._unsolicited_ack())
        else:
            self._queue(WifiConfigAnswerV1(result), mode=self._session_mode(), key=self.session_key,
                        ack_sn=request_sn)

    def _on_reset(self, opened: Opened) -> None:
        frame = opened.frame
        message = ResetRequest(frame.cmd, frame.data)
        self._received(message, opened)
        if not self.may_reset():
            self._emit(MessageIgnored(message, "unbind/reset from an app that has not paired (§9.10 lead 1)"))
            return
        self._queue(ResetAnswer(frame.cmd), mode=opened.mode, key=opened.key, ack_sn=frame.sn)
        self._emit(ResetRequested(frame.cmd))
        self.disconnect(DisconnectReason.RESET, "the device resets after unbind / reset (§9.7.0)")

    # ---- send

    def _session_mode(self) -> EncryptionMode:
        return EncryptionMode.KEY15 if self._owner_session else session_mode(self.generation)

    def _unsolicited_ack(self) -> int:
        """§9.5: TuyaOpen sends 0x001E and 0x801C with ack_sn 0, AK with the last received sn."""
        return 0 if self.unsolicited_ack == "zero" else self.last_received_sn

    def _queue(self, message: Message, *, mode: int, key: bytes | None, ack_sn: int, iv: bytes | None = None) -> None:
        sn = self.next_sn
        packet = self._seal_frame(message, mode=mode, key=key, iv=self._take_iv(iv), ack_sn=ack_sn)
        self._outgoing.extend(self._split(packet))
        self._emit(MessageSent(message, sn, ack_sn, int(mode)))


__all__ = ["PAIR_TIMEOUT_S", "BleDeviceConnection", "DeviceState"]
