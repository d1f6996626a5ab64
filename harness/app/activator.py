"""The app side of pairing, shaped like ThingSmartActivator (PROTOCOL.md §7).

    activator = Activator(cloud, device=device, network=air, account=alice, delegate=my_delegate)
    token = activator.get_token(home)
    activator.start_config_wifi(ActivatorMode.QR, ssid, password, token, timeout=100)
    ...                                   # the delegate hears exactly one did_receive_device(...)
    activator.stop_config_wifi()          # nothing is heard after this

The contract (seed "device-pairing-qr-mode"; §0 step 5; §7):
- ``did_receive_device(activator, device_model, error)`` is called exactly once per start: a device
  model and no error when the device is activated in the token's home *and* online on MQTT; no model
  and an :class:`ActivatorError` with the app-side code otherwise. Nothing is called after
  ``stop_config_wifi()``; a new start after a stop works.
- The reason for a failure comes from the cloud's per-token activation attempts, decided by the
  reference model (:func:`harness.model.outcome_for`), so the app and the oracle cannot disagree.
- Time is the world's clock: with a :class:`~harness.clock.VirtualClock` a 100-second timeout costs
  no wall time.

Each start runs on a worker thread of its own with its own event loop; the delegate is called from
that thread.
"""

from __future__ import annotations

import asyncio
import enum
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from harness.adapters.ble_contracts import ble_central
from harness.adapters.contracts import (
    AdapterError,
    BindRefused,
    CloudAdapter,
    DeviceAdapter,
    DeviceDidNotAct,
    NetworkAdapter,
)
from harness.app.ble import DEFAULT_BLE_OPTIONS, BleOptions, provision
from harness.model import ActivatorErrorCode, AttemptSummary, bind_refusal_code, outcome_for
from harness.protocol import apconfig
from harness.protocol.ble import WifiCredentials
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr

WATCHING_WAIT_S = 10.0  # real seconds start_config_wifi waits for its worker to start watching the cloud
# World-clock seconds between two looks at the token's attempts (PROTOCOL.md §10.7, §10.10: "poll the token list
# at about 1 Hz, as AK and TLW do"); each look costs the emulated world real work, faster only costs CPU.
POLL_INTERVAL_S = 1.0


class ActivatorMode(enum.StrEnum):
    """The pairing modes of ThingActivatorMode that paircert drives (§7: EZ, AP, QRCode, ..., MQTTDirectly).

    ``UUID`` is binding by UUID (§11.6, the MQTTDirectly family): the app scans the QR code the device shows,
    which holds its UUID, and the cloud pushes the device a token; start it with :meth:`Activator.start_bind_uuid`.
    """

    EZ = "ez"
    AP = "ap"
    QR = "qr"
    UUID = "uuid"
    BLE = "ble"  # Bluetooth LE provisioning of a BLE+Wi-Fi combo device (§9): harness.app.ble


class ActivatorStep(enum.IntEnum):
    """The optional step callbacks of §7 (Found=1, Registered=2, Initialized=3, TimeOut=4)."""

    FOUND = 1
    REGISTERED = 2
    INITIALIZED = 3
    TIMEOUT = 4


@dataclass(frozen=True)
class DeviceModel:
    """What the delegate receives on success: the device as the app sees it."""

    dev_id: str
    name: str
    pid: str
    home: str
    uuid: str


class ActivatorError(Exception):
    """A pairing failure as the app reports it: the §7 code, a message, and the cloud's errorCode if any."""

    def __init__(self, code: ActivatorErrorCode, message: str, *, cloud_error: str | None = None,
                 harness_fault: BaseException | None = None) -> None:
        self.code = code
        self.message = message
        self.cloud_error = cloud_error
        #: set when the failure is the harness's or the lab's (an adapter broke), never the device's
        self.harness_fault = harness_fault
        super().__init__(f"{int(code)} {code.name}: {message}")


class ActivatorBusy(RuntimeError):
    """start_config_wifi was called while a pairing was still running (call stop_config_wifi first)."""


class ActivatorDelegate(Protocol):
    def did_receive_device(self, activator: Activator, device_model: DeviceModel | None,
                           error: ActivatorError | None) -> None: ...


@dataclass
class Outcome:
    """Everything the delegate heard for one start (what :func:`pair` returns), and the QR code the activator
    showed the device in that start (QR mode only): the very image presented, and the text it encodes."""

    device_model: DeviceModel | None = None
    error: ActivatorError | None = None
    calls: int = 0
    steps: list[ActivatorStep] = field(default_factory=list)
    qr_image: Image.Image | None = None
    qr_text: str | None = None
    token: str | None = None  # the token of a bind by UUID (the cloud pushed it; the app learns it from the call)

    @property
    def ok(self) -> bool:
        return self.device_model is not None and self.error is None

    @property
    def code(self) -> ActivatorErrorCode | None:
        return self.error.code if self.error else None


@dataclass(frozen=True)
class QrOptions:
    """How the app serialises the QR text (§1.2): key order and escaping."""

    key_order: str = "spt"
    escape_slash: bool = False
    ascii_only: bool = False


@dataclass(frozen=True)
class ApOptions:
    """Which AP variant the app speaks (§3.1 legacy 55AA over UDP, §3.2 LPV3.5 over TCP) and its JSON style."""

    variant: str = "legacy"
    style: apconfig.PayloadStyle = "compact"
    repeats: int = 3


@dataclass(frozen=True)
class EzOptions:
    """Which EZ channels the app sends on and which broadcast tail it uses (§2.3 step 5)."""

    channels: tuple[str, ...] = ("broadcast", "multicast")
    tail: str = "padded"


class _State(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"


class Activator:
    """The app side of one pairing at a time, like ThingSmartActivator."""

    def __init__(self, cloud: CloudAdapter, *, account: str, device: DeviceAdapter | None = None,
                 network: NetworkAdapter | None = None, delegate: ActivatorDelegate | None = None,
                 step_callback: Callable[[Activator, ActivatorStep, DeviceModel | None], None] | None = None,
                 qr: QrOptions = QrOptions(), ap: ApOptions = ApOptions(), ez: EzOptions = EzOptions(),
                 ble: BleOptions = DEFAULT_BLE_OPTIONS, poll_interval_s: float = POLL_INTERVAL_S,
                 resend_every_s: float = 2.0) -> None:
        self.cloud = cloud
        self.account = account
        self.device = device
        self.network = network
        self.delegate = delegate
        self.step_callback = step_callback
        self.qr = qr
        self.ap = ap
        self.ez = ez
        self.ble = ble
        self.poll_interval_s = poll_interval_s
        self.resend_every_s = resend_every_s  # EZ and legacy AP (datagrams): again while the device has not tried
        self._lock = threading.Lock()
        self._state = _State.IDLE
        self._run = 0
        self._thread: threading.Thread | None = None
        self._token_homes: dict[str, str] = {}
        self.last_qr_image: Image.Image | None = None
        self.last_qr_text: str | None = None
        self.last_bind_token: str | None = None
        #: why the configuration did not reach the device in the current start (it did not act in time), if so
        self.last_delivery_problem: str | None = None

    # -- the ThingSmartActivator API ---------------------------------------------------------------

    def get_token(self, home: str) -> str:
        """Ask the cloud for a pairing token for ``home`` (§0 step 1): the 14-character string."""
        token = self.cloud.get_token(home, self.account)
        self._token_homes[token] = home
        return token

    def start_config_wifi(self, mode: ActivatorMode | str, ssid: str, password: str, token: str,
                          timeout: float = 100.0) -> None:
        """Start pairing in ``mode``; the delegate hears the outcome exactly once, within ``timeout`` s.

        Returns once the activator watches the cloud for this start: an activation with ``token`` from then on
        is this start's (one made earlier is history, see :meth:`_pair`), however slowly its thread started.
        """
        mode = ActivatorMode(mode)
        if mode is ActivatorMode.UUID:
            raise ValueError("binding by UUID has no SSID, password or token: use start_bind_uuid(home, uuid)")
        run = self._begin()
        watching = threading.Event()
        thread = threading.Thread(target=self._worker, args=(run, mode, ssid, password, token, timeout, watching),
                                  name=f"activator-{run}", daemon=True)
        self._thread = thread
        thread.start()
        watching.wait(WATCHING_WAIT_S)  # set by the worker, also when it fails: bounded either way

    def start_bind_uuid(self, home: str, uuid: str, timeout: float = 100.0) -> None:
        """Bind the device whose QR code showed ``uuid`` into ``home`` (§11.6): the cloud issues a token for
        ``home`` and pushes it to the device; the delegate hears the outcome exactly once, within ``timeout`` s.
        A bind the cloud refuses ends at once with the app-side code (3711 already bound, 3714 unknown UUID,
        3709 not connected, :data:`harness.model.BIND_REFUSAL_CODES`)."""
        run = self._begin()
        thread = threading.Thread(target=self._bind_worker, args=(run, home, uuid, timeout),
                                  name=f"activator-{run}", daemon=True)
        self._thread = thread
        thread.start()

    def _begin(self) -> int:
        with self._lock:
            if self._state is _State.RUNNING:
                raise ActivatorBusy("a pairing is already running; call stop_config_wifi() first")
            self._run += 1
            self._state = _State.RUNNING
            self.last_qr_text = self.last_qr_image = None  # only this start's QR code, if it shows one
            self.last_bind_token = None
            self.last_delivery_problem = None
            return self._run

    def stop_config_wifi(self) -> None:
        """Stop pairing: the delegate hears nothing more for the current start."""
        with self._lock:
            if self._state is _State.RUNNING:
                self._state = _State.STOPPED
            self._run += 1
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10.0)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state is _State.RUNNING

    def join(self, timeout: float | None = None) -> bool:
        """Wait (in real time) for the worker of the current start to end; True when it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the worker --------------------------------------------------------------------------------

    def _current(self, run: int) -> bool:
        with self._lock:
            return self._run == run and self._state is _State.RUNNING

    def _worker(self, run: int, mode: ActivatorMode, ssid: str, password: str, token: str, timeout: float,
                watching: threading.Event) -> None:
        try:
            model, error = asyncio.run(self._pair(run, mode, ssid, password, token, timeout, watching))
        except Exception as exc:  # a harness or lab fault still ends the start with exactly one callback
            model, error = None, ActivatorError(ActivatorErrorCode.COMMON_DEVICE_ACTIVE,
                                                f"the harness failed: {type(exc).__name__}: {exc}", harness_fault=exc)
        finally:
            watching.set()
        self._finish(run, model, error)

    def _bind_worker(self, run: int, home: str, uuid: str, timeout: float) -> None:
        try:
            model, error = asyncio.run(self._bind(run, home, uuid, timeout))
        except Exception as exc:  # a harness or lab fault still ends the start with exactly one callback
            model, error = None, ActivatorError(ActivatorErrorCode.COMMON_DEVICE_ACTIVE,
                                                f"the harness failed: {type(exc).__name__}: {exc}", harness_fault=exc)
        self._finish(run, model, error)

    async def _bind(self, run: int, home: str, uuid: str,
                    timeout: float) -> tuple[DeviceModel | None, ActivatorError | None]:
        deadline = self.cloud.clock.time() + timeout
        try:
            token = await asyncio.to_thread(self.cloud.bind_device_by_uuid, home, uuid, account=self.account)
        except BindRefused as exc:
            return None, ActivatorError(bind_refusal_code(exc.code), exc.message, cloud_error=exc.code)
        self._token_homes[token] = home
        self.last_bind_token = token
        return await self._watch(run, token, home, deadline, baseline=0)

    def _finish(self, run: int, model: DeviceModel | None, error: ActivatorError | None) -> None:
        with self._lock:
            if self._run != run or self._state is not _State.RUNNING:
                return  # stopped, or superseded: nothing after stop
            self._state = _State.DONE
        if self.delegate is not None:
            self.delegate.did_receive_device(self, model, error)

    def _step(self, run: int, step: ActivatorStep, model: DeviceModel | None) -> None:
        if self.step_callback is not None and self._current(run):
            self.step_callback(self, step, model)

    async def _pair(self, run: int, mode: ActivatorMode, ssid: str, password: str, token: str,
                    timeout: float, watching: threading.Event) -> tuple[DeviceModel | None, ActivatorError | None]:
        clock = self.cloud.clock
        deadline = clock.time() + timeout
        home = self._token_homes.get(token)
        # Only what happens after this start counts: an earlier pairing's attempts with the same token are
        # history, not this outcome (a consumed token must read as 3718, not as the old success).
        baseline = len(await asyncio.to_thread(self.cloud.token_attempts, token))
        watching.set()
        if mode is ActivatorMode.BLE:  # §9: the Bluetooth leg can fail by itself, before the cloud sees anything
            failed = await asyncio.to_thread(self._deliver_ble, ssid, password, token)
            if failed is not None:
                return None, failed
        else:
            try:
                await asyncio.to_thread(self._deliver, mode, ssid, password, token)
            except DeviceDidNotAct as exc:  # e.g. a QR scan that never ended: the device's failure, not the
                self.last_delivery_problem = str(exc)  # harness's; the app waits out its timeout as a phone does
        resend = None
        # Datagrams get lost (a busy air, an AP whose config port is not open yet): EZ and the legacy AP frame over
        # UDP are handed over again while the device has not tried, as an app does; LPV3.5 is TCP and answers.
        if mode is ActivatorMode.EZ or (mode is ActivatorMode.AP and self.ap.variant != "lpv35"):
            def resend() -> None:
                self._deliver(mode, ssid, password, token)
        return await self._watch(run, token, home, deadline, baseline=baseline, resend=resend)

    async def _watch(self, run: int, token: str, home: str | None, deadline: float, *, baseline: int,
                     resend: Callable[[], None] | None = None) -> tuple[DeviceModel | None, ActivatorError | None]:
        """Poll the token's attempts until the model decides (§7): success, a refusal, or the deadline.
        ``resend`` hands the configuration over again while the device has not tried (EZ and the legacy AP frame,
        every few seconds)."""
        clock = self.cloud.clock
        last_sent = clock.time()
        steps: set[ActivatorStep] = set()
        while self._current(run):
            attempts: Sequence[AttemptSummary] = (await asyncio.to_thread(self.cloud.token_attempts, token))[baseline:]
            if attempts and ActivatorStep.FOUND not in steps:
                steps.add(ActivatorStep.FOUND)
                self._step(run, ActivatorStep.FOUND, None)
            model, online, home_matches = await self._activated_device(run, attempts, home, steps)
            timed_out = clock.time() >= deadline
            decision = outcome_for(attempts, device_online=online, bound_home_matches=home_matches,
                                   timed_out=timed_out)
            if decision.success and model is not None:
                self._step(run, ActivatorStep.INITIALIZED, model)
                return model, None
            if decision.error_code is not None:
                message = decision.message
                if decision.error_code == ActivatorErrorCode.TIMEOUT:
                    self._step(run, ActivatorStep.TIMEOUT, None)
                    if self.last_delivery_problem:
                        message = f"{message}; {self.last_delivery_problem}"
                return None, ActivatorError(decision.error_code, message, cloud_error=decision.cloud_error)
            if resend is not None and not attempts and clock.time() - last_sent >= self.resend_every_s:
                await asyncio.to_thread(resend)
                last_sent = clock.time()
            await clock.sleep(min(self.poll_interval_s, max(0.0, deadline - clock.time())) or self.poll_interval_s)
        return None, None

    async def _activated_device(self, run: int, attempts: Sequence[AttemptSummary], home: str | None,
                                steps: set[ActivatorStep]) -> tuple[DeviceModel | None, bool, bool]:
        """The latest activated device of ``attempts`` as the cloud shows it: (its model once it is in a home,
        whether it is online, whether it is in the token's home); REGISTERED is reported the first time."""
        activated = [a.dev_id for a in attempts if a.outcome == "activated" and a.dev_id]
        if not activated:
            return None, False, False
        record = await asyncio.to_thread(self.cloud.device, activated[-1])
        if record is None:
            return None, False, False
        model = DeviceModel(record.dev_id, record.name, record.pid, record.home, record.uuid) \
            if record.home is not None else None
        if ActivatorStep.REGISTERED not in steps:
            steps.add(ActivatorStep.REGISTERED)
            self._step(run, ActivatorStep.REGISTERED, model)
        home_matches = record.home is not None and (home is None or record.home == home)
        return model, record.online, home_matches

    # -- handing the configuration to the device ---------------------------------------------------

    def _qr_text(self, ssid: str, password: str, token: str) -> str:
        """The text of the QR code shown to the device (§1.1): compact JSON with exactly s, p and t, serialised
        as :attr:`qr` says (key order and escapes, §1.2)."""
        return QrPayload(ssid, password, token).to_text(key_order=self.qr.key_order, escape_slash=self.qr.escape_slash,
                                                        ascii_only=self.qr.ascii_only)

    def _deliver(self, mode: ActivatorMode, ssid: str, password: str, token: str) -> None:
        if mode is ActivatorMode.QR:
            if self.device is None:
                raise AdapterError("QR pairing needs a device adapter to present the QR code to")
            text = self._qr_text(ssid, password, token)
            image = render_qr(text)
            self.last_qr_text, self.last_qr_image = text, image  # exactly what the device is shown
            self.device.present_qr(image)
        elif mode is ActivatorMode.EZ:
            if self.network is None:
                raise AdapterError("EZ pairing needs a network adapter (the air)")
            self.network.send_ez(ssid.encode(), password.encode(), token.encode(), channels=self.ez.channels,
                                 tail=self.ez.tail)
        else:
            if self.device is None or self.network is None:
                raise AdapterError("AP pairing needs a device adapter (its AP address) and a network adapter")
            address = self.device.ap_address()
            if address is None:
                return  # the device is not offering an AP: the pairing times out, as on a phone
            if self.ap.variant == "lpv35":
                frame = apconfig.encode_ap_cfg_request(ssid, password, token, seq=1, nonce=os.urandom(12))
                self.network.send_ap_lpv35(address, [frame])
            else:
                frame = apconfig.encode_ap_config(ssid, password, token, style=self.ap.style)
                for _ in range(max(1, self.ap.repeats)):
                    self.network.send_ap_legacy(address, frame)


    def _deliver_ble(self, ssid: str, password: str, token: str) -> ActivatorError | None:
        """§9.1 steps 2-9 over the network's BLE central, for the device adapter's licence; the app-side error
        when the Bluetooth leg fails (codes and choices in :mod:`harness.app.ble`)."""
        if self.device is None or self.network is None:
            raise AdapterError("BLE pairing needs a device adapter (its licence: the app's credentials, §9.6.2) "
                               "and a network adapter with a BLE radio")
        failure = provision(ble_central(self.network), self.device.licence, WifiCredentials(ssid, password, token),
                            options=self.ble)
        if failure is None:
            return None
        return ActivatorError(failure.code, failure.message, harness_fault=failure.harness_fault)


class _Collector:
    """A delegate that records what it hears, for :func:`pair`."""

    def __init__(self, activator_outcome: Outcome) -> None:
        self.outcome = activator_outcome
        self.heard = threading.Event()

    def did_receive_device(self, activator: Activator, device_model: DeviceModel | None,
                           error: ActivatorError | None) -> None:
        self.outcome.calls += 1
        self.outcome.device_model = device_model
        self.outcome.error = error
        self.heard.set()


def pair(activator: Activator, mode: ActivatorMode | str, ssid: str, password: str, token: str, *,
         timeout: float = 100.0, real_timeout_s: float = 60.0) -> Outcome:
    """Run one pairing to its outcome and return what the delegate heard (a blocking helper for tests).

    ``timeout`` is the activator's timeout on the world clock; ``real_timeout_s`` bounds the wall time
    spent waiting, after which the start is stopped and :class:`AdapterError` is raised (a hang is a
    harness or lab problem, never a verdict on the device).
    """
    outcome = Outcome()
    collector = _Collector(outcome)
    previous_delegate, previous_steps = activator.delegate, activator.step_callback
    activator.delegate = collector
    activator.step_callback = lambda _a, step, _m: outcome.steps.append(step)
    try:
        activator.start_config_wifi(mode, ssid, password, token, timeout=timeout)
        if not collector.heard.wait(real_timeout_s):
            activator.stop_config_wifi()
            raise AdapterError(f"pairing did not end within {real_timeout_s} s of real time")
        activator.join(10.0)
    finally:
        activator.delegate, activator.step_callback = previous_delegate, previous_steps
    outcome.qr_image, outcome.qr_text = activator.last_qr_image, activator.last_qr_text
    return outcome


def bind(activator: Activator, home: str, uuid: str, *, timeout: float = 100.0,
         real_timeout_s: float = 60.0) -> Outcome:
    """Bind the device ``uuid`` into ``home`` (§11.6) and return what the delegate heard, with the token the
    cloud pushed (a blocking helper, as :func:`pair`)."""
    outcome = Outcome()
    collector = _Collector(outcome)
    previous_delegate, previous_steps = activator.delegate, activator.step_callback
    activator.delegate = collector
    activator.step_callback = lambda _a, step, _m: outcome.steps.append(step)
    try:
        activator.start_bind_uuid(home, uuid, timeout=timeout)
        if not collector.heard.wait(real_timeout_s):
            activator.stop_config_wifi()
            raise AdapterError(f"binding by UUID did not end within {real_timeout_s} s of real time")
        activator.join(10.0)
    finally:
        activator.delegate, activator.step_callback = previous_delegate, previous_steps
    outcome.token = activator.last_bind_token
    return outcome


__all__ = [
    "Activator",
    "ActivatorBusy",
    "ActivatorDelegate",
    "ActivatorError",
    "ActivatorMode",
    "ActivatorStep",
    "ApOptions",
    "BleOptions",
    "DeviceModel",
    "EzOptions",
    "Outcome",
    "QrOptions",
    "bind",
    "pair",
]
