"""The emulated camera: a firmware model on the shared event loop of a :class:`~harness.emulator.loop.DeviceLoop`.

Built from a licence (UUID, AuthKey), a PID, a firmware version and a MAC, pointed at a cloud (ATOP URL and
MQTT broker, per region) and an :class:`~harness.emulator.air.Air`. Its lifecycle is the table in
:mod:`harness.emulator.camera.states`; this module does what each state means:

- pairing mode: the QR scanner takes :meth:`EmulatedCamera.present_qr` images (pyzbar in binary mode,
  PROTOCOL.md §1), the EZ sniffer listens on the air (§2), and the SoftAP config sockets listen on loopback
  (§3, see :mod:`harness.emulator.camera.ap`); the first good config wins, an illegal one is refused and the
  camera stays in pairing mode. An optional pairing window closes on the world's clock.
- joining: the SSID must be on the air with exactly that password, else a few retries on the clock and back
  to pairing mode, as a real camera does.
- activating: ATOP over real HTTP (aiohttp), the token split as §1.4 (fixed 2/8/4: region picks the
  endpoint, only the middle 8 characters are sent), ``tuya.device.active`` v4.4 et=1 or
  ``thing.device.opensdk.active`` v1.0 et=3; devId, secKey and localKey are kept; ``resetFactory`` wipes the DPs.
- online: MQTT with the derived credentials (§5), DPs reported after connecting, DP commands applied and
  reported back, remote reset (11) and unbind (8) honoured.

Emulator-defined behaviour (PROTOCOL.md leaves it open): a refused MQTT login (CONNACK "not authorized") means
the device was removed while offline (§6), so the camera un-activates, keeps its devId and returns to pairing
mode; a refused activation holds in FAILED for ``failed_hold_s`` and then returns to pairing mode; the reset
button (:meth:`EmulatedCamera.reset`) does not call the cloud: the binding stays and the kept devId is sent
again on re-activation (§6 "keeps <uuid>.devid"); the "prompt sound" plays once a QR's payload parses.

Faults are subclasses overriding the small hook methods marked "hook" below; see :mod:`harness.emulator.camera.faults`.
Every method without ``_async`` blocks the calling thread (never the device loop's thread) for at most its
``timeout``; the ``_async`` twins run on the device loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from harness.clock import real_limit_s, wait_for_on
from harness.emulator.air import Air, AirObservation, ListenHandle
from harness.emulator.camera.activation import (
    API_BY_NAME,
    Activation,
    ActivationApi,
    ActivationMixin,
    CloudEndpoint,
    activation_body,
)
from harness.emulator.camera.ap import ApServer
from harness.emulator.camera.bind import UuidBindMixin
from harness.emulator.camera.ble import BleMixin
from harness.emulator.camera.mqtt import LoopMqttClient
from harness.emulator.camera.online import OnlineMixin
from harness.emulator.camera.pairing import PairingConfig, PairingMixin
from harness.emulator.camera.states import Event, Lifecycle, State
from harness.emulator.loop import DeviceLoop
from harness.emulator.radio import Radio
from harness.emulator.timeline import Timeline, TimelineEvent
from harness.errors import HarnessError
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError
from harness.protocol.token import split_token_fixed

_API = API_BY_NAME
DEFAULT_DPS: Mapping[str, Any] = {"101": True, "103": False, "106": "1", "134": False}


@dataclass(frozen=True)
class QrScan:
    """What :meth:`EmulatedCamera.present_qr` saw: ``outcome`` is captured, refused, no-code or not-listening."""

    outcome: Literal["captured", "refused", "no-code", "not-listening"]
    payload: bytes | None = None
    reason: str | None = None


@dataclass
class _Waiter:
    predicate: Callable[[], bool]
    future: asyncio.Future[None] = field(repr=False)


class EmulatedCamera(PairingMixin, BleMixin, OnlineMixin, ActivationMixin, UuidBindMixin):
    """A Tuya-style IPC firmware model; see the module docstring. Starts powered off: call :meth:`power_on`.

    ``refused_retries`` (§11.7): how many times a refused activation is retried, ``refused_retry_s`` apart, with
    the same token (0: give up at once). ``bind_by_uuid`` (§11.6): in pairing mode the camera also waits for a
    token pushed on ``d/ai/<uuid>`` (see :mod:`harness.emulator.camera.bind`). ``radio``/``ble_generation`` (§9):
    a BLE+Wi-Fi combo advertises and takes its configuration over GATT (see :mod:`harness.emulator.camera.ble`).
    """

    fault_names: tuple[str, ...] = ()

    def __init__(self, device_loop: DeviceLoop, air: Air, *, uuid: str, auth_key: str, pid: str, mac: str,
                 cloud: CloudEndpoint | Mapping[str, CloudEndpoint], firmware: str = "1.0.0",
                 activation_api: ActivationApi = "v4.4",
                 pairing_modes: Iterable[str] = ("qr", "ez", "ap"),
                 ap_variants: Iterable[str] = ("legacy", "lpv35"),
                 ez_channels: Iterable[str] = ("broadcast", "multicast"),
                 pairing_window_s: float | None = None, join_attempts: int = 3, join_retry_s: float = 1.0,
                 failed_hold_s: float = 3.0, activation_attempts: int = 3, mqtt_retry_s: float = 3.0,
                 mqtt_pv: mq.ProtocolVersion = "2.2", mqtt_keepalive: int = 120,
                 dps: Mapping[str, Any] | None = None, ap_host: str = "127.0.0.1", name: str | None = None,
                 ap_ports: tuple[int, int] | None = None, refused_retries: int = 0, refused_retry_s: float = 1.0,
                 bind_by_uuid: bool = False, radio: Radio | None = None, ble_generation: str = "v2") -> None:
        if activation_api not in _API:
            raise ValueError(f"activation_api must be one of {sorted(_API)}, got {activation_api!r}")
        self.device_loop = device_loop
        self.air = air
        self.clock = device_loop.clock
        self.uuid = uuid
        self.auth_key = auth_key
        self.pid = pid
        self.mac = mac
        self.firmware = firmware
        self.cloud = cloud
        self.activation_api: ActivationApi = activation_api
        self.pairing_modes = frozenset(pairing_modes)
        self.ap_variants = frozenset(ap_variants)
        self.ez_channels = frozenset(ez_channels)
        self.pairing_window_s = pairing_window_s
        self.join_attempts = max(1, join_attempts)
        self.join_retry_s = join_retry_s
        self.failed_hold_s = failed_hold_s
        self.activation_attempts = max(1, activation_attempts)
        self.refused_retries = max(0, refused_retries)
        self.refused_retry_s = refused_retry_s
        self.bind_by_uuid = bind_by_uuid
        self.mqtt_retry_s = mqtt_retry_s
        self.mqtt_pv: mq.ProtocolVersion = mqtt_pv
        self.mqtt_keepalive = mqtt_keepalive
        self.default_dps: dict[str, Any] = dict(DEFAULT_DPS if dps is None else dps)
        self.dps: dict[str, Any] = dict(self.default_dps)
        self.name = name or f"camera-{uuid}"
        self.timeline = Timeline(self.clock)
        self.activation: Activation | None = None
        self.kept_dev_id: str | None = None
        self.config: PairingConfig | None = None
        self._life = Lifecycle()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._atop_in_flight: set[asyncio.Task[bytes]] = set()  # ATOP requests sent, not yet answered
        self._waiters: list[_Waiter] = []
        self._mqtt: LoopMqttClient | None = None
        self._mqtt_seq = 0
        self._fresh_activation = False
        self._air_handle: ListenHandle | None = None
        self._ap = ApServer(self, host=ap_host, ports=ap_ports)
        self._init_pairing()
        self._init_bind()
        self._init_ble(radio, ble_generation)  # BLE (§9): advertising and GATT on the world's radio
        device_loop.on_stop(self._shutdown)

    # -- observation ---------------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._life.state

    def in_state(self, *states: State) -> bool:
        """Whether the camera is in one of ``states`` now (its state changes across every await)."""
        return self._life.state in states

    @property
    def activated(self) -> bool:
        return self.activation is not None

    @property
    def dev_id(self) -> str | None:
        return self.activation.dev_id if self.activation else None

    @property
    def alive(self) -> bool:
        """False once the firmware has crashed (until a power cycle)."""
        return self.state is not State.CRASHED

    @property
    def mqtt_online(self) -> bool:
        return self._mqtt is not None and self._mqtt.connected

    @property
    def ap_address(self) -> tuple[str, int, int] | None:
        """(host, UDP port for legacy 55AA frames, TCP port for LPV3.5 frames) while the SoftAP is open."""
        return self._ap.address

    @property
    def ap_ssid(self) -> str:
        """§3.1: ``SmartLife-XXXX``, XXXX = the last two MAC bytes in upper-case hex."""
        digits = self.mac.replace(":", "").replace("-", "").upper()
        return f"SmartLife-{digits[-4:]}"

    def events(self, name: str | None = None) -> list[TimelineEvent]:
        return self.timeline.events(name)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name, "state": self.state.value, "alive": self.alive, "activated": self.activated,
            "dev_id": self.dev_id, "kept_dev_id": self.kept_dev_id, "uuid": self.uuid, "pid": self.pid,
            "mac": self.mac, "firmware": self.firmware, "mqtt_online": self.mqtt_online,
            "ap": list(self.ap_address) if self.ap_address else None, "dps": dict(self.dps),
            "faults": list(self.fault_names), "pairing_modes": sorted(self.pairing_modes),
            "ble": self.ble_advertising,
        }

    def record(self, name: str, **details: Any) -> TimelineEvent:
        event = self.timeline.record(name, **details)
        self._notify()
        return event

    # -- the state table in action ---------------------------------------------------------------------------

    def _fire(self, event: Event, **details: Any) -> None:
        old, new = self._life.fire(event)
        if old is new:
            self._notify()
            return
        self.record("state", event=event.value, old=old.value, new=new.value, **details)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
                self._tasks.discard(task)
        self._on_exit(old, new)
        self._on_enter(new)
        self._ble_state_changed(new)  # BLE (§9.1 step 10): advertise unbound, bound or not at all
        self._notify()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = self.device_loop.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.record("firmware-error", error=repr(exc))

    def _on_exit(self, old: State, new: State) -> None:
        if old is State.PAIRING:
            self._stop_bind_wait()
            self._stop_ez()
            if not (new is State.CONFIG_RECEIVED and self.keeps_ap_open_after_config()):
                self._ap.close()
        if new in (State.OFF, State.CRASHED, State.PAIRING_CLOSED):
            self._stop_ez()
            self._ap.close()
        if old in (State.CONNECTING, State.ONLINE) and new not in (State.CONNECTING, State.ONLINE):
            self._drop_mqtt(graceful=new not in (State.OFF, State.CRASHED))

    def _on_enter(self, new: State) -> None:
        if new is State.PAIRING:
            self._start_listening()
        elif new is State.CONFIG_RECEIVED:
            if self.config is None:
                raise HarnessError("broken invariant: self.config is not None")
            self._spawn(self._join_and_activate(self.config))
        elif new is State.CONNECTING:
            self._spawn(self._mqtt_session())
        elif new is State.ONLINE:
            self._spawn(self._after_online())
        elif new is State.FAILED:
            self._spawn(self._failed_hold())

    def _start_listening(self) -> None:
        self.config = None
        self._start_ez()
        if "ap" in self.pairing_modes and self.ap_variants:
            self._spawn(self._ap.open())
        if self.bind_by_uuid:
            self._spawn(self._bind_wait())
        if self.pairing_window_s is not None:
            self._spawn(self._pairing_window(self.pairing_window_s))
        self.record("pairing-mode", modes=sorted(self.pairing_modes), window_s=self.pairing_window_s)

    async def _pairing_window(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        if self.state is State.PAIRING:
            self._fire(Event.WINDOW_CLOSED, window_s=seconds)

    async def _failed_hold(self) -> None:
        await self.clock.sleep(self.failed_hold_s)
        if self.state is State.FAILED:
            self._fire(Event.FAILED_HOLD_OVER)

    # -- waiting ----------------------------------------------------------------------------------------------

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.predicate():
                waiter.future.set_result(None)
        self._waiters = [w for w in self._waiters if not w.future.done()]

    async def wait_until_async(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait until ``predicate()`` holds, ``timeout`` seconds of the camera's clock at most (real ones too:
        :func:`~harness.clock.wait_for_on`); checked after every event. TimeoutError otherwise."""
        if predicate():
            return
        waiter = _Waiter(predicate, self.device_loop.loop.create_future())
        self._waiters.append(waiter)
        try:
            await wait_for_on(self.clock, waiter.future, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def wait_for_state_async(self, *states: State, timeout: float = 10.0) -> State:
        await self.wait_until_async(lambda: self.state in states, timeout)
        return self.state

    async def wait_for_event_async(self, name: str, timeout: float = 10.0, *, after: int = 0) -> TimelineEvent:
        """The first event called ``name`` among the timeline's events from index ``after`` on."""
        def found() -> bool:
            return any(e.name == name for e in self.timeline.events()[after:])

        await self.wait_until_async(found, timeout)
        return next(e for e in self.timeline.events()[after:] if e.name == name)

    def wait_for_state(self, *states: State, timeout: float = 10.0) -> State:
        return self.device_loop.run(self.wait_for_state_async(*states, timeout=timeout),
                                    real_limit_s(self.clock, timeout) + 1.0)

    def wait_for_event(self, name: str, timeout: float = 10.0, *, after: int = 0) -> TimelineEvent:
        return self.device_loop.run(self.wait_for_event_async(name, timeout, after=after),
                                    real_limit_s(self.clock, timeout) + 1.0)

    # -- power and buttons -------------------------------------------------------------------------------------

    async def power_on_async(self) -> None:
        activated = self.activation is not None
        self._fire(Event.BOOT_ACTIVATED if activated else Event.BOOT, activated=activated)

    async def power_off_async(self) -> None:
        self._fire(Event.POWER_OFF)

    async def power_cycle_async(self) -> None:
        if self.state is not State.OFF:
            self._fire(Event.POWER_OFF)
        await self.power_on_async()

    async def reset_async(self) -> None:
        """The reset button (§6 normal reset): activation wiped, devId kept, back to pairing mode."""
        if self.state is not State.CRASHED:
            self._unactivate(forget_dev_id=not self.keeps_dev_id_on_reset())
        self._fire(Event.RESET)
        await self.settle_requests()  # an activation sent before the reset is answered before it returns

    async def factory_reset_async(self) -> None:
        """Reset and wipe: activation, kept devId and DPs go; back to pairing mode."""
        if self.state is not State.CRASHED:
            self._unactivate(forget_dev_id=True)
        self._fire(Event.FACTORY_RESET)
        await self.settle_requests()

    def power_on(self, timeout: float = 10.0) -> None:
        self.device_loop.run(self.power_on_async(), timeout)

    def power_off(self, timeout: float = 10.0) -> None:
        self.device_loop.run(self.power_off_async(), timeout)

    def power_cycle(self, timeout: float = 10.0) -> None:
        self.device_loop.run(self.power_cycle_async(), timeout)

    def reset(self, timeout: float = 10.0) -> None:
        self.device_loop.run(self.reset_async(), timeout)

    def factory_reset(self, timeout: float = 10.0) -> None:
        self.device_loop.run(self.factory_reset_async(), timeout)

    def crash(self, reason: str) -> None:
        """The firmware dies (a fault): liveness lost, no more answers, until power cycled."""
        if self._life.can(Event.CRASH):
            self._fire(Event.CRASH, reason=reason)

    def _unactivate(self, *, forget_dev_id: bool) -> None:
        if self.activation is not None:
            self.kept_dev_id = self.activation.dev_id
        self.activation = None
        if forget_dev_id:
            self.kept_dev_id = None
            self.dps = dict(self.default_dps)

    async def _shutdown(self) -> None:
        if self.state is not State.OFF:
            self._life = Lifecycle(State.OFF)
            for task in list(self._tasks):
                task.cancel()
            self._stop_ez()
            self._ap.close()
            self._stop_bind_wait()
            self._drop_mqtt(graceful=False)
        self._ble_close()

    # -- QR (§1) ---------------------------------------------------------------------------------------------

    async def present_qr_async(self, image: Image.Image) -> QrScan:
        """Hold a QR image in front of the camera; it captures, refuses, or does not see it."""
        if self.state is not State.PAIRING or "qr" not in self.pairing_modes:
            self.record("qr-ignored", state=self.state.value)
            return QrScan("not-listening")
        found = await self.device_loop.loop.run_in_executor(None, self.decode_qr_image, image)
        if not self.in_state(State.PAIRING):
            self.record("qr-ignored", state=self.state.value)
            return QrScan("not-listening")
        if not found:
            self.record("qr-no-code")
            return QrScan("no-code")
        data = found[0]
        self.record("qr-decoded", length=len(data))
        try:
            config = self.parse_qr_payload(data)
        except ProtocolError as exc:
            self.refuse_config("qr", data, exc)
            return QrScan("refused", data, str(exc))
        self.prompt_sound()
        self.capture_config(config)
        return QrScan("captured", data)

    def present_qr(self, image: Image.Image, timeout: float = 10.0) -> QrScan:
        return self.device_loop.run(self.present_qr_async(image), timeout)

    # -- join and activate (§0 steps 3-4, §4) ---------------------------------------------------------------------

    async def _join_and_activate(self, config: PairingConfig) -> None:
        self._fire(Event.JOIN_START, ssid=config.ssid)
        outcome = "no-such-ssid"
        for attempt in range(1, self.join_attempts + 1):
            # §11.6: a token pushed over MQTT reached a camera that is on its network already
            outcome = "ok" if config.mode == "mqtt-bind" else self.join_wifi(config.ssid, config.password)
            self.record("wifi-join", ssid=config.ssid, attempt=attempt, outcome=outcome)
            if outcome == "ok":
                break
            if attempt < self.join_attempts:
                await self.clock.sleep(self.join_retry_s)
        if outcome != "ok":
            self._fire(Event.JOIN_FAILED, reason=outcome)
            return
        self._fire(Event.JOIN_OK)
        activation = await self._activate(config)
        if activation is None:
            return
        self.activation = activation
        self.kept_dev_id = activation.dev_id
        self._fresh_activation = True
        self._fire(Event.ACTIVATED, dev_id=activation.dev_id)

    def endpoint_for(self, region: str) -> CloudEndpoint | None:
        """§1.4: the region picks the endpoint. A single endpoint serves every region."""
        if isinstance(self.cloud, CloudEndpoint):
            return self.cloud
        return self.cloud.get(region) or self.cloud.get("*")

    # -- hooks: the small decisions a fault overrides ----------------------------------------------------------

    def decode_qr_image(self, image: Image.Image) -> list[bytes]:
        """Hook: the QR decoder (runs in a worker thread). §1.2: zbar in binary mode keeps UTF-8 intact."""
        from harness.qrimage import decode_qr

        return decode_qr(image, backend="zbar", zbar_binary=True)

    def prompt_sound(self) -> None:
        """Hook: "the device will sound a prompt after capturing the information of the QR code"."""
        self.record("prompt-sound")

    def split_token(self, text: str) -> tuple[str, str, str]:
        """Hook: §1.4 the fixed, unchecked 2/8/4 split (region, token, secret)."""
        return split_token_fixed(text)

    def activation_body(self, *, token: str, t: int) -> dict[str, Any]:
        """Hook: the §4.2 activation body, key order as TO/CK build it."""
        return activation_body(token=token, t=t, firmware=self.firmware, pid=self.pid,
                               activation_api=self.activation_api, mac=self.mac, kept_dev_id=self.kept_dev_id)

    def join_wifi(self, ssid: bytes, password: bytes) -> str:
        """Hook: associate with the access point; "ok", "no-such-ssid" or "wrong-password"."""
        return self.air.join(ssid, password)

    def keeps_dev_id_on_reset(self) -> bool:
        """Hook: §6 TO "wipes its activation data but keeps <uuid>.devid" on a normal reset."""
        return True

    def keeps_ap_open_after_config(self) -> bool:
        """Hook: §3 the device leaves AP mode once it has its config."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state.value}>"


def observation_kind_enabled(channels: frozenset[str], obs: AirObservation) -> bool:
    """Whether a camera sniffing ``channels`` hears ``obs`` (§2.3 broadcast lengths, §2.4 multicast addresses)."""
    return ("broadcast" if obs.kind == "length" else "multicast") in channels


__all__ = ["DEFAULT_DPS", "Activation", "ActivationApi", "CloudEndpoint", "EmulatedCamera", "QrScan",
           "observation_kind_enabled"]
