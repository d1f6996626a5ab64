"""How the camera takes its pairing data: QR text, EZ observations and AP payloads into one config.

The channels (PROTOCOL.md §1 QR, §2 EZ, §3 AP, and §9 BLE in :mod:`~harness.emulator.camera.ble`) end in the
same :class:`PairingConfig` (SSID and password as bytes, the 14-character token string) and the same two
outcomes: :meth:`PairingMixin.capture_config` (the state table's CONFIG_CAPTURED) or
:meth:`PairingMixin.refuse_config` (CONFIG_REFUSED: the camera stays in pairing mode). The methods marked
"hook" are the ones a fault overrides.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from harness.emulator.air import AirObservation, ListenHandle
from harness.emulator.camera.states import Event, State
from harness.emulator.loop import LoopError
from harness.protocol import apconfig as ap
from harness.protocol.errors import ProtocolError
from harness.protocol.qr import parse_qr_text
from harness.protocol.smartconfig import EzCredentials, SmartConfigReceiver

if TYPE_CHECKING:
    from harness.emulator.air import Air
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.timeline import TimelineEvent

PairingChannel = Literal["qr", "ez", "ap-legacy", "ap-lpv35", "mqtt-bind", "ble"]


@dataclass(frozen=True)
class PairingConfig:
    """What the app handed over (§0 step 2): SSID and password as bytes, the token string, and how it came."""

    mode: PairingChannel
    ssid: bytes
    password: bytes
    token: str

    def evidence(self) -> dict[str, Any]:
        """For the timeline: the password as a length only (the timeline redacts it)."""
        return {"mode": self.mode, "ssid": self.ssid, "password": self.password, "token": self.token}


class EzReceiver(Protocol):
    """What the camera needs of an EZ receiver (the codec's :class:`SmartConfigReceiver` has it)."""

    def feed_length(self, length: int) -> None: ...

    def feed_address(self, address: str) -> None: ...

    @property
    def result(self) -> EzCredentials | None: ...


class PairingMixin:
    """The pairing-channel half of :class:`~harness.emulator.camera.firmware.EmulatedCamera`."""

    if TYPE_CHECKING:
        device_loop: DeviceLoop
        air: Air
        config: PairingConfig | None
        pairing_modes: frozenset[str]
        ez_channels: frozenset[str]
        _air_handle: ListenHandle | None

        @property
        def state(self) -> State: ...

        def record(self, name: str, **details: Any) -> TimelineEvent: ...

        def _fire(self, event: Event, **details: Any) -> None: ...

        def crash(self, reason: str) -> None: ...

        def in_state(self, *states: State) -> bool: ...

    _ez_receiver: EzReceiver | SmartConfigReceiver | None

    def _init_pairing(self) -> None:
        self._ez_receiver = None
        # What the air delivered and the camera's loop has not read yet: a burst of EZ datagrams (hundreds per
        # transmission) costs the loop one wake-up, not one each.
        self._air_heard: collections.deque[AirObservation] = collections.deque()
        self._air_lock = threading.Lock()
        self._air_reading = False

    # -- common outcome --------------------------------------------------------------------------------------

    def capture_config(self, config: PairingConfig) -> None:
        """A channel delivered a parseable config: accept it (CONFIG_CAPTURED) if still in pairing mode."""
        if self.state is not State.PAIRING:
            self.record("config-ignored", mode=config.mode, state=self.state.value)
            return
        config = self.accept_config(config)
        if not self.in_state(State.PAIRING):  # accept_config may have crashed the firmware
            return
        self.config = config
        self.record("config-received", **config.evidence())
        self._fire(Event.CONFIG_CAPTURED, mode=config.mode)

    def refuse_config(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        """Hook: an illegal payload is refused; the camera stays in pairing mode."""
        self.record("config-refused", mode=mode, reason=error.message, section=error.section, length=len(raw))
        if self.state is State.PAIRING:
            self._fire(Event.CONFIG_REFUSED, mode=mode)

    def accept_config(self, config: PairingConfig) -> PairingConfig:
        """Hook: what the firmware keeps of a parsed config (a conformant one keeps it all)."""
        return config

    # -- QR (§1) ------------------------------------------------------------------------------------------------

    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        """Hook: §1.1-1.2 any key order, JSON escapes undone, UTF-8; raises ProtocolError to refuse."""
        payload = parse_qr_text(data)
        return PairingConfig("qr", payload.ssid.encode("utf-8"), payload.password.encode("utf-8"), payload.token)

    # -- EZ (§2) ------------------------------------------------------------------------------------------------

    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        """Hook: the EZ decoder, which checks every CRC (§2.2) and votes across rounds."""
        return SmartConfigReceiver()

    def _start_ez(self) -> None:
        if "ez" not in self.pairing_modes or not self.ez_channels:
            return
        self._ez_receiver = self.make_ez_receiver()
        if self._air_handle is None:
            self._air_handle = self.air.listen(self._on_air)

    def _stop_ez(self) -> None:
        handle, self._air_handle = self._air_handle, None
        if handle is not None:
            handle.close()
        self._ez_receiver = None

    def _on_air(self, observation: AirObservation) -> None:
        # Called in the sender's thread: queue the observation and, unless the loop is already on its way to
        # read the queue, wake it once.
        with self._air_lock:
            self._air_heard.append(observation)
            if self._air_reading:
                return
            self._air_reading = True
        try:
            self.device_loop.call_soon(self._read_air)
        except LoopError:  # the camera is gone: nothing will read what it heard
            with self._air_lock:
                self._air_heard.clear()
                self._air_reading = False

    def _read_air(self) -> None:
        while True:
            with self._air_lock:
                if not self._air_heard:
                    self._air_reading = False
                    return
                heard = list(self._air_heard)
                self._air_heard.clear()
            for observation in heard:
                self._feed_ez(observation)

    def _feed_ez(self, observation: AirObservation) -> None:
        receiver = self._ez_receiver
        if receiver is None or self.state is not State.PAIRING:
            return
        if ("broadcast" if observation.kind == "length" else "multicast") not in self.ez_channels:
            return
        try:
            if observation.kind == "length":
                receiver.feed_length(int(observation.value))
            else:
                receiver.feed_address(str(observation.value))
        except ProtocolError as exc:
            self.record("ez-observation-refused", error=str(exc))
            return
        result = receiver.result
        if result is None:
            return
        self._ez_receiver = None
        self.record("ez-decoded", ssid=result.ssid, token=result.token.decode("ascii", "replace"))
        self.capture_config(PairingConfig("ez", bytes(result.ssid), bytes(result.password),
                                          bytes(result.token).decode("utf-8", "replace")))

    # -- AP (§3) ------------------------------------------------------------------------------------------------

    def lpv35_key(self) -> bytes:
        """Hook: §3.2 the fixed app key MD5("OXLvslCvUxcTPLGO")."""
        return ap.LPV35_APP_KEY

    def decode_legacy_ap_frame(self, data: bytes) -> ap.ApFrame:
        """Hook: §3.1 a whole 55AA frame, every check made (prefix, length, CRC-32, suffix)."""
        return ap.decode_ap_frame(data, check_crc=True)

    def ap_ack_code(self, mode: PairingChannel, ret: int) -> int:
        """Hook: the ret_code answering an AP config (§3.2: 0 = OK; emulator-defined 1 = refused)."""
        return ret

    def refuse_ap_frame(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        """A frame failed its framing checks: no config, no ack, still in pairing mode."""
        self.record("ap-frame-refused", mode=mode, reason=error.message, length=len(raw))
        if self.state is State.PAIRING:
            self._fire(Event.CONFIG_REFUSED, mode=mode)

    def parse_ap_payload(self, mode: PairingChannel, data: bytes) -> PairingConfig:
        """Hook: the §3.1 payload or §3.2 0x14 request JSON; raises ProtocolError to refuse."""
        config = ap.parse_ap_config_payload(data) if mode == "ap-legacy" else ap.parse_ap_cfg_request(data)
        return PairingConfig(mode, config.ssid.encode("utf-8"), config.password.encode("utf-8"), config.token or "")

    def take_ap_payload(self, mode: PairingChannel, data: bytes) -> PairingConfig | None:
        """Parse an AP payload arriving now; None when refused or not listening (the ack says so)."""
        if self.state is not State.PAIRING:
            self.record("ap-ignored", mode=mode, state=self.state.value)
            return None
        try:
            return self.parse_ap_payload(mode, data)
        except ProtocolError as exc:
            self.refuse_config(mode, data, exc)
            return None


__all__ = ["EzReceiver", "PairingChannel", "PairingConfig", "PairingMixin"]
