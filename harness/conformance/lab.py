"""The suites' vocabulary for the lab: accounts, homes, members, Wi-Fi, pairing, time travel.

``lab`` (a fixture of the plugin) is a :class:`Lab`: a test says ``lab.pair("qr")`` and gets the activator's
:class:`~harness.app.activator.Outcome`, with a fresh account, home, token and access point made for it, the
profile's activator timeout, and the QR code and outcome recorded as evidence. It also asks the cloud what it shows
of a device (``lab.holds(home)``, ``lab.is_bound()``), checks that a device survived bad input
(``lab.expect_still_pairing``), issues licences and activates as a device would (``lab.activate_as_device``). Every
secret the lab makes or meets is taught to the run's redactor before it can be written anywhere; the suites never
keep that book themselves.

:class:`DevicePreparer` is the labgrid-style strategy that moves the device under test to "factory reset, in
pairing mode" before each test; a reset that fails is followed by a power cycle, and only when that fails too is
the device blocked: later tests that need it are INCONCLUSIVE with the reason instead of retrying forever.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from harness.adapters import probes
from harness.adapters.contracts import (
    AdapterError,
    CannotMakeNetwork,
    CapabilityMissing,
    CloudAdapter,
    CloudCapability,
    DeviceAdapter,
    DeviceCapability,
    DeviceDidNotAct,
    Licence,
    NetworkAdapter,
    NetworkCapability,
    ReleasesDevices,
    Security,
    World,
    cannot_make,
    make_access_point,
    network_can,
)
from harness.app.activator import (
    Activator,
    ActivatorError,
    ActivatorMode,
    ApOptions,
    EzOptions,
    Outcome,
    QrOptions,
    bind,
    pair,
)
from harness.clock import Clock, eventually_on
from harness.conformance.diagnosis import explain_pairing
from harness.conformance.verdicts import Blocked, DeviceFailure, HarnessError, Refused
from harness.evidence import EvidenceRecorder
from harness.model import Role
from harness.profiles import Profile
from harness.redaction import Redactor

PAIRING_MODE_TIMEOUT_S = 60.0
WALL_MARGIN_S = 60.0
SETTLE_S = 10.0  # seconds for the world to get somewhere (world-clock seconds where a wait is given the clock)
RETURN_TO_PAIRING_S = 5.0  # real seconds a device refusing bad input may take to be in pairing mode again
POLL_S = 0.02
#: the characters of a generated lab Wi-Fi password (no 0/O, 1/l/I: a person may have to type it)
WIFI_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

AppOptions = QrOptions | EzOptions | ApOptions


def eventually(predicate: Callable[[], bool], timeout_s: float = SETTLE_S, *, clock: Clock | None = None) -> bool:
    """Whether ``predicate()`` holds within ``timeout_s``, polled every 20 ms: seconds of the world's ``clock``
    (give ``cloud.clock``), so that on an emulated world a wait that fails costs what the world takes to idle
    through them (:func:`harness.clock.eventually_on`); without a clock, real seconds."""
    return eventually_on(clock, predicate, timeout_s, poll_s=POLL_S)


@dataclass(frozen=True)
class WifiCredentials:
    """An access point of the lab; the password stays out of reprs."""

    ssid: str
    password: str = field(repr=False)


def release_from_cloud(cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """The owner of the home the device is bound to removes it, with a data wipe, through the cloud adapter's
    contract (:meth:`~harness.adapters.contracts.CloudAdapter.release_device`).

    Without the removal a strong-binding device stays bound to whoever paired it in an earlier test, and every
    other account is refused (3711). A cloud adapter that cannot find the owner that way (CapabilityMissing), or
    one written before that method existed, is asked the long way (the device's record by licence, then its owner's
    removal) where it can inspect devices.
    """
    if isinstance(cloud, ReleasesDevices):
        try:
            cloud.release_device(device.licence.uuid)
            return
        except CapabilityMissing:
            pass
    if CloudCapability.INSPECT_DEVICES in cloud.capabilities:
        record = cloud.device_by_uuid(device.licence.uuid)
        if record is not None and record.home is not None and record.owner is not None:
            cloud.remove_device(record.dev_id, account=record.owner, wipe=True)


def reset_device(device: DeviceAdapter) -> None:
    """Factory reset (else reset) the device, without waiting for pairing mode."""
    if DeviceCapability.FACTORY_RESET in device.capabilities:
        device.factory_reset()
    elif DeviceCapability.RESET in device.capabilities:
        device.reset()


def reset_to_pairing_mode(device: DeviceAdapter, timeout_s: float) -> None:
    """Factory reset (else reset) the device and wait up to ``timeout_s`` for pairing mode."""
    reset_device(device)
    device.wait_pairing_mode(timeout_s)


def release_device(cloud: CloudAdapter, device: DeviceAdapter, *, timeout_s: float = PAIRING_MODE_TIMEOUT_S) -> None:
    """The lab's start position for a device: factory reset, released by its owner (:func:`release_from_cloud`),
    and in pairing mode within ``timeout_s``.

    The reset comes before the removal: a genuine device retries a refused activation every second with the same
    token (PROTOCOL.md §11.7), and a removal made while it still retries would let that stale token bind it to the
    account it was refused for.
    """
    reset_device(device)
    release_from_cloud(cloud, device)
    device.wait_pairing_mode(timeout_s)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class DevicePreparer:
    """Brings a device to "released, factory reset, in pairing mode" before each test (labgrid's strategy).

    A reset that does not bring pairing mode back within ``timeout_s`` is followed by a power cycle (a hook or a
    person), after which the device has ``boot_time_s`` more to boot and is reset again; only when that fails
    too is the device blocked: that test is ERROR (the lab could not bring its device back), and every later
    test that needs the device is INCONCLUSIVE ("blocked: ...") without touching the device again.
    """

    def __init__(self, timeout_s: float = PAIRING_MODE_TIMEOUT_S, boot_time_s: float = PAIRING_MODE_TIMEOUT_S,
                 ) -> None:
        self.timeout_s = timeout_s
        self.boot_time_s = boot_time_s
        self.broken: str | None = None
        self.recoveries: list[str] = []

    def prepare(self, device: DeviceAdapter, *, for_test: str, cloud: CloudAdapter | None = None,
                evidence: EvidenceRecorder | None = None) -> None:
        if self.broken is not None:
            raise Blocked(f"blocked: {self.broken}")
        first: Exception | None = None
        try:
            reset_device(device)  # before the removal: a device still retrying a stale token must stop (§11.7)
        except Exception as exc:
            first = exc
        if cloud is not None:
            release_from_cloud(cloud, device)  # the cloud's trouble is the test's ERROR, not the device's block
        if first is None:
            try:
                device.wait_pairing_mode(self.timeout_s)
                return
            except Exception as exc:
                first = exc
        if evidence is not None:
            evidence.note("no pairing mode after a reset: power cycling", error=_why(first))
        if DeviceCapability.POWER_CYCLE not in device.capabilities:
            self.broken = (f"the device did not return to pairing mode after a reset before {for_test} "
                           f"({_why(first)}) and it cannot be power cycled (no power_cycle hook or person)")
            raise AdapterError(self.broken) from first
        try:
            device.power_cycle()
            if cloud is not None:  # what the device finished before it went down (an old pairing) is undone too
                release_from_cloud(cloud, device)
            reset_to_pairing_mode(device, self.boot_time_s + self.timeout_s)
        except Exception as exc:
            self.broken = (f"the device did not come back after a power cycle before {for_test} ({_why(exc)}; "
                           f"the reset before it: {_why(first)})")
            raise AdapterError(self.broken) from exc
        self.recoveries.append(for_test)
        if evidence is not None:
            evidence.note("the device came back after a power cycle")


class Lab:
    """Accounts, homes, Wi-Fi and pairing in the suites' words, for one test."""

    def __init__(self, world: World, profile: Profile, *, evidence: EvidenceRecorder, redactor: Redactor,
                 device: Callable[[], DeviceAdapter], rng: random.Random, slow: bool = False,
                 prefix: str = "lab", activator_class: type[Activator] = Activator) -> None:
        self.world = world
        self.activator_class = activator_class
        self.profile = profile
        self.evidence = evidence
        self.redactor = redactor
        self._device = device
        self._rng = rng
        self._slow = slow
        self._prefix = prefix.lower()
        self._counter = 0
        self._default_account: str | None = None
        self._homes: dict[str, str] = {}
        self._default_wifi: WifiCredentials | None = None
        self.devices: list[DeviceAdapter] = []
        self.made: list[bytes] = []  # the SSIDs of the networks this test made (removed by close())

    # -- what the world offers ----------------------------------------------------------------------------

    @property
    def cloud(self) -> CloudAdapter:
        return self.world.cloud

    @property
    def network(self) -> NetworkAdapter:
        return self.world.network

    @property
    def clock(self) -> Clock:
        return self.world.clock

    @property
    def device(self) -> DeviceAdapter:
        """The test's device, in pairing mode after a factory reset (prepared on first use)."""
        return self._device()

    @property
    def token_lifetime_s(self) -> float:
        """How long a pairing token lives, from the profile (``parameters.token_ttl_s``)."""
        return self.profile.parameters.token_ttl_s

    @property
    def activator_timeout_s(self) -> float:
        return self.profile.parameters.activator_timeout_s

    def _name(self, kind: str) -> str:
        self._counter += 1
        return f"{self._prefix}-{kind}{self._counter}-{self._rng.getrandbits(24):06x}"

    # -- accounts, homes, members -------------------------------------------------------------------------

    def account(self, name: str | None = None) -> str:
        """A new account on the cloud; returns its id."""
        account = self.cloud.create_account(name or self._name("account"))
        self.evidence.record("lab", "account", {"account": account})
        return account

    def home(self, account: str | None = None, name: str | None = None) -> str:
        """A new home owned by ``account`` (default: the test's default account); returns its id."""
        owner = account if account is not None else self.default_account
        home = self.cloud.create_home(owner, name or self._name("home"))
        self.evidence.record("lab", "home", {"account": owner, "home": home})
        return home

    def member(self, home: str, role: Role | str) -> str:
        """A new account added to ``home`` with ``role`` (owner, admin, member); returns the account."""
        account = self.account()
        self.cloud.add_member(home, account, Role(role))
        self.evidence.record("lab", "member", {"home": home, "account": account, "role": str(role)})
        return account

    @property
    def default_account(self) -> str:
        if self._default_account is None:
            self._default_account = self.account()
        return self._default_account

    def default_home(self, account: str) -> str:
        if account not in self._homes:
            self._homes[account] = self.home(account)
        return self._homes[account]

    # -- Wi-Fi --------------------------------------------------------------------------------------------

    def wifi(self, ssid: str | None = None, password: str | None = None, *,
             security: Security | str | None = None) -> WifiCredentials:
        """Make an access point on the network and return its credentials.

        Defaults: the profile's ``parameters.wifi`` (a real lab network), else a generated SSID and password.
        ``password=""`` is an open network; ``security`` defaults to what the lab makes for that password
        (WPA2-PSK where it can). A network the lab cannot make (its network adapter's declared capability, or a
        limit the adapter finds) makes the test INCONCLUSIVE with the reason, never FAIL.
        """
        lab_wifi = self.profile.parameters.wifi
        if ssid is None and lab_wifi is not None:
            ssid = lab_wifi.ssid
            if password is None:
                password = lab_wifi.password.resolve().get_secret_value() if lab_wifi.password else ""
        if ssid is None:
            ssid = f"paircert-{self._rng.getrandbits(24):06x}"
        if password is None:
            password = "".join(self._rng.choice(WIFI_PASSWORD_ALPHABET) for _ in range(16))
        self.redactor.add(password)
        is_lab_network = lab_wifi is not None and ssid == lab_wifi.ssid
        ssid_bytes, password_bytes = ssid.encode("utf-8"), password.encode("utf-8")
        if not network_can(self.network, NetworkCapability.CREATE_NETWORKS):
            if not is_lab_network or security is not None or password != self._lab_password():
                raise Refused(f"{cannot_make(self.network, ssid_bytes, password_bytes, security)}: the test "
                                   f"needs a Wi-Fi network of its own ({ssid!r}), and the device knows only the lab's")
            self.network.add_access_point(ssid_bytes, password_bytes)  # recorded: the lab's AP is assumed to have it
            chosen = Security.OPEN if not password else Security.WPA2_PSK
        else:
            try:
                chosen = make_access_point(self.network, ssid_bytes, password_bytes, security)
            except CannotMakeNetwork as exc:
                raise Refused(f"{exc}: the test needs that network ({ssid!r})") from exc
            self.made.append(ssid_bytes)
        self.evidence.record("lab", "access point", {"ssid": ssid, "open": password == "",
                                                     "security": chosen.value})
        return WifiCredentials(ssid, password)

    def _lab_password(self) -> str | None:
        lab_wifi = self.profile.parameters.wifi
        if lab_wifi is None:
            return None
        return lab_wifi.password.resolve().get_secret_value() if lab_wifi.password else ""

    def close(self) -> None:
        """Remove the networks this test made, except the lab's own (``parameters.wifi``), which the next test
        uses too; a removal that fails is noted (the lab's trouble, after the verdict)."""
        lab_wifi = self.profile.parameters.wifi
        keep = lab_wifi.ssid.encode("utf-8") if lab_wifi is not None else None
        made, self.made = list(dict.fromkeys(self.made)), []
        for ssid in made:
            if ssid == keep:
                continue
            try:
                self.network.remove_access_point(ssid)
            except Exception as exc:  # noted, never a verdict: the test is over
                self.evidence.note("could not remove a network the test made", ssid=ssid.decode("utf-8", "replace"),
                                   error=_why(exc))

    @property
    def default_wifi(self) -> WifiCredentials:
        if self._default_wifi is None:
            self._default_wifi = self.wifi()
        return self._default_wifi

    # -- devices and pairing ------------------------------------------------------------------------------

    def new_device(self) -> DeviceAdapter:
        """Another device of the same kind, in pairing mode, where the world can make one."""
        device = self.world.new_device()
        self.redactor.add(device.licence.auth_key)
        device.wait_pairing_mode(self.profile.parameters.pairing_mode_timeout_s)
        self.devices.append(device)
        self.evidence.record("lab", "new device", {"uuid": device.licence.uuid})
        return device

    def activator(self, account: str | None = None, *, device: DeviceAdapter | None = None) -> Activator:
        """An app-side activator signed in as ``account`` (default: the test's default account).

        Its class is the lab's ``activator_class`` (the plugin's ``pytest_paircert_activator_class``: the
        self-check names a faulty one of :mod:`harness.app.faults`); by default
        :class:`~harness.app.activator.Activator`.
        """
        return self.activator_class(self.cloud, account=account if account is not None else self.default_account,
                                    device=device if device is not None else self.device, network=self.network)

    def pair(self, mode: ActivatorMode | str, *, account: str | None = None, home: str | None = None,
             token: str | None = None, ssid: str | None = None, password: str | None = None,
             timeout: float | None = None, device: DeviceAdapter | None = None,
             options: AppOptions | None = None) -> Outcome:
        """Pair ``device`` (default: the test's) in ``mode`` and return what the delegate heard.

        A token is fetched for ``home`` (default: the account's home) unless given; the Wi-Fi defaults to the
        lab's access point (given only an SSID or only a password, an access point is made with it); ``timeout``
        defaults to the profile's ``parameters.activator_timeout_s``; ``options`` say how the app writes the QR
        code, sends EZ or speaks AP (the activator's defaults otherwise).
        """
        mode = ActivatorMode(mode)
        account = account if account is not None else self.default_account
        activator = self._configured_activator(account, device, options)
        if token is None:
            token = activator.get_token(home if home is not None else self.default_home(account))
        ssid, password = self._credentials(ssid, password)
        timeout = self.activator_timeout_s if timeout is None else timeout
        wall = WALL_MARGIN_S + (0.0 if self.clock.is_virtual else timeout)
        self.evidence.record("activator", "start", {"mode": str(mode), "account": account, "home": home,
                                                    "token": token, "ssid": ssid, "timeout_s": timeout,
                                                    "options": repr(options) if options is not None else None})
        started = self.clock.time()
        outcome = self._outcome(pair(activator, mode, ssid, password, token, timeout=timeout, real_timeout_s=wall))
        return self._diagnosed(outcome, activator.device or self.device, since=started, mode=str(mode), ssid=ssid,
                               password=password, token=token)

    def _diagnosed(self, outcome: Outcome, device: DeviceAdapter, *, since: float, mode: str, ssid: str,
                   password: str, token: str) -> Outcome:
        """A failed pairing's error with what the device's events show it did (decoded, joined, was refused):
        :mod:`harness.conformance.diagnosis`. Best effort: events the adapter cannot read leave the error as is."""
        if outcome.ok or outcome.error is None or DeviceCapability.EVENTS not in device.capabilities:
            return outcome
        try:
            events = list(device.events())
        except AdapterError as exc:  # a hung device cannot tell: the pairing's own code is the verdict
            self.evidence.record("activator", "diagnosis unavailable", {"error": f"{type(exc).__name__}: {exc}"})
            return outcome
        why = explain_pairing(events, since=since, mode=mode, ssid=ssid, password=password, token=token)
        if why is None or (outcome.error.cloud_error is not None and why.startswith("the cloud refused")):
            return outcome  # nothing to add: the app's code already carries the cloud's refusal
        self.evidence.record("activator", "diagnosis", {"diagnosis": why})
        error = outcome.error
        outcome.error = ActivatorError(error.code, f"{error.message}; {why}", cloud_error=error.cloud_error,
                                       harness_fault=error.harness_fault)
        return outcome

    def _configured_activator(self, account: str, device: DeviceAdapter | None,
                              options: AppOptions | None) -> Activator:
        activator = self.activator(account, device=device)
        if isinstance(options, QrOptions):
            activator.qr = options
        elif isinstance(options, EzOptions):
            activator.ez = options
        elif isinstance(options, ApOptions):
            activator.ap = options
        return activator

    def _credentials(self, ssid: str | None, password: str | None) -> tuple[str, str]:
        """The Wi-Fi to pair with: the lab's access point, one made for a lone SSID or password, or as given."""
        if ssid is None and password is None:
            ssid, password = self.default_wifi.ssid, self.default_wifi.password
        elif ssid is None or password is None:
            credentials = self.wifi(ssid, password)
            ssid, password = credentials.ssid, credentials.password
        self.redactor.add(password)
        return ssid, password

    def bind_by_uuid(self, *, account: str | None = None, home: str | None = None, uuid: str | None = None,
                     timeout: float | None = None, device: DeviceAdapter | None = None) -> Outcome:
        """Bind ``device`` (default: the test's) into ``home`` by the UUID its QR code shows (PROTOCOL.md §11.6):
        the cloud pushes it a token; returns what the delegate heard, with that token (``outcome.token``)."""
        account = account if account is not None else self.default_account
        home = home if home is not None else self.default_home(account)
        device = device if device is not None else self.device
        uuid = uuid if uuid is not None else device.licence.uuid
        activator = self.activator(account, device=device)
        timeout = self.activator_timeout_s if timeout is None else timeout
        wall = WALL_MARGIN_S + (0.0 if self.clock.is_virtual else timeout)
        self.evidence.record("activator", "start", {"mode": str(ActivatorMode.UUID), "account": account,
                                                    "home": home, "uuid": uuid, "timeout_s": timeout})
        started = self.clock.time()
        outcome = self._outcome(bind(activator, home, uuid, timeout=timeout, real_timeout_s=wall))
        if outcome.token is None or uuid != device.licence.uuid:
            return outcome  # no token was pushed, or not to this device: its events have nothing to say
        return self._diagnosed(outcome, device, since=started, mode="mqtt-bind", ssid="", password="",
                               token=outcome.token)

    def _outcome(self, outcome: Outcome) -> Outcome:
        """Record what the delegate heard as evidence; a harness fault behind it is an ERROR, never a FAIL."""
        error = outcome.error
        self.evidence.record("activator", "outcome", {
            "ok": outcome.ok, "calls": outcome.calls, "code": int(outcome.code) if outcome.code else None,
            "error": str(error) if error else None, "cloud_error": error.cloud_error if error else None,
            "device": outcome.device_model.dev_id if outcome.device_model else None,
            "steps": [step.name for step in outcome.steps], "token": outcome.token})
        if outcome.qr_image is not None:
            self.evidence.attach_image("qr", outcome.qr_image)
        if outcome.qr_text is not None:
            self.evidence.attach_text("qr-text", outcome.qr_text)
        fault = error.harness_fault if error is not None else None
        if fault is not None:  # the harness or the lab broke, not the device: ERROR, never FAIL
            raise AdapterError(f"pairing ended because the harness failed: {type(fault).__name__}: {fault}") \
                from fault
        return outcome

    def press_reset(self, device: DeviceAdapter | None = None) -> None:
        """The user presses reset (not a factory reset): the device (default: the test's) forgets its Wi-Fi, keeps
        its binding, and is in pairing mode again within the profile's pairing_mode_timeout_s. A device that does
        not come back is judged by TC-BINDING-011 (REQ-BINDING-010); here it blocks the test (:class:`Blocked`)."""
        device = device or self.device
        device.reset()
        self.evidence.record("lab", "reset pressed", {"uuid": device.licence.uuid})
        try:
            device.wait_pairing_mode(self.profile.parameters.pairing_mode_timeout_s)
        except DeviceDidNotAct as exc:
            raise Blocked(f"blocked: after its reset button {exc} (TC-BINDING-011 judges the reset)") from exc

    # -- what the cloud shows of a device -----------------------------------------------------------------

    def holds(self, home: str, device: DeviceAdapter | None = None) -> bool:
        """Whether ``home``'s device list shows ``device`` (default: the test's)."""
        uuid = (device or self.device).licence.uuid
        return any(d.uuid == uuid for d in self.cloud.list_devices(home))

    def homes_holding(self, homes: Iterable[str], device: DeviceAdapter | None = None) -> list[str]:
        """The homes of ``homes`` whose device list shows ``device`` (default: the test's), in order."""
        return [home for home in homes if self.holds(home, device)]

    def is_bound(self, device: DeviceAdapter | None = None) -> bool:
        """Whether the cloud shows ``device`` (default: the test's) bound to a home (cloud:inspect-devices)."""
        record = self.cloud.device_by_uuid((device or self.device).licence.uuid)
        return record is not None and record.home is not None

    def expect_still_pairing(self, after: str, device: DeviceAdapter | None = None, *,
                             within_s: float = RETURN_TO_PAIRING_S) -> None:
        """The device survived ``after``: alive and in pairing mode again by itself within ``within_s`` (no hang,
        no reset needed). Else FAIL; a dead or stuck device is power cycled first, for the tests that follow."""
        device = device or self.device
        try:
            device.wait_pairing_mode(within_s)
            pairing = True
        except (AdapterError, DeviceDidNotAct):  # either way it is not in pairing mode
            pairing = False
        alive = device.is_alive()
        if alive and pairing:
            return
        device.power_cycle()
        self.evidence.record("lab", "power cycle", {"after": after, "alive": alive, "pairing": pairing})
        if not alive:
            raise DeviceFailure(f"the device died on {after}")
        raise DeviceFailure(f"after {after} the device was not in pairing mode within {within_s:g} s")

    # -- licences and devices the lab activates itself ------------------------------------------------------

    def issue_licence(self, pid: str | None = None) -> Licence:
        """A new licence of ``pid`` (default: the test device's product) from the cloud (cloud:issue-licences)."""
        licence = self.cloud.issue_licence(pid if pid is not None else self.device.pid)
        self.redactor.add(licence.auth_key)
        self.evidence.record("lab", "licence", {"uuid": licence.uuid, "pid": licence.pid})
        return licence

    def activate_as_device(self, *, uuid: str, auth_key: str, pid: str, home: str | None = None,
                           account: str | None = None, token: str | None = None,
                           hid: str | None = None) -> probes.ActivationReply:
        """One activation as a device would send it (§4.2), by a lab probe: licence ``uuid``/``auth_key``, product
        ``pid``, a fresh token for ``home`` of ``account`` unless ``token`` is given, hardware id ``hid`` (default:
        a new one). What the cloud answers is returned; its keys are secrets of the run."""
        if token is None:
            owner = account if account is not None else self.default_account
            token = self.activator(owner).get_token(home if home is not None else self.default_home(owner))
        reply = probes.activate_raw(probes.cloud_endpoints(self.cloud), uuid=uuid, auth_key=auth_key,
                                    pid=pid, token=token, hid=hid or probes.new_hid(), t=int(self.clock.time()))
        for secret in (reply.sec_key, reply.local_key):
            if secret:
                self.redactor.add(secret)
        self.evidence.record("lab", "raw activation", {"uuid": uuid, "pid": pid, "accepted": reply.accepted,
                                                       "error_code": reply.error_code, "dev_id": reply.dev_id})
        return reply

    # -- time ---------------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: cloud time travel where offered, else a real wait where the profile allows it.

        A real wait needs the test marked ``slow``; where neither is possible the test is INCONCLUSIVE.
        """
        if CloudCapability.TIME_TRAVEL in self.cloud.capabilities:
            self.cloud.advance_time(seconds)
            self.evidence.record("lab", "time travel", {"seconds": seconds})
            return
        if not self.profile.parameters.real_time_waits:
            raise Refused(
                f"cannot let {seconds:g} s pass: the {self.cloud.name} cloud adapter cannot travel in time and "
                f"profile {self.profile.name} does not allow real-time waits (parameters.real_time_waits)")
        if not self._slow:
            raise HarnessError(f"a real-time wait of {seconds:g} s needs the test marked @pytest.mark.slow")
        self.evidence.record("lab", "real-time wait", {"seconds": seconds})
        time.sleep(seconds)


__all__ = ["RETURN_TO_PAIRING_S", "SETTLE_S", "AppOptions", "DevicePreparer", "Lab", "WifiCredentials", "eventually",
           "release_device", "release_from_cloud", "reset_to_pairing_mode"]
