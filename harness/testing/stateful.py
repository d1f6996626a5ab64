"""The stateful pairing and binding model: a Hypothesis state machine over the adapters, checked against
:mod:`harness.model` after every step (REQ-FUZZ-005).

Like zarr's ``ZarrStoreStateMachine(store)``, the machine takes the system under test as a parameter (a
:class:`PairingTarget`: cloud, network and a pool of devices, all adapters, so a real cloud or device can sit
behind them) and keeps a plain model beside it: accounts, homes and roles, the tokens issued (as the model's
:class:`~harness.model.TokenRecord`), each device's binding, pending wipe and licence. Each example starts with
one account and home, into which the owner pairs the first device. Rules: get a token (any account, home, role:
accounts, homes and members are made as needed); pair (any device in pairing mode, any mode the profile claims, any
token, issued or guessed); pair a bound device into another home of its owner's (a move) or another account's (a
rebind); advance time; remove a device (with or without wipe); reset or factory-reset a device; revoke a licence.
Each rule calls ``note()``, and what the cloud did is compared with what :func:`~harness.model.check_token` and
:func:`~harness.model.decide_binding` say. Invariants after every step: a device is bound to at most one home (the
model's), online only when bound, a token is consumed at most once, and notifications are exactly what the binding
mode says (§6).

Capabilities gate the rules (``@precondition``): no time travel, no revocation, no resets where the adapters
do not offer them. No emulator import: the same machine runs against ``paircert cloud serve`` or another cloud.

    target = PairingTarget.from_world(world)
    run_pairing_machine(target, budget_settings("ci"))
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from harness.adapters.contracts import (
    AdapterError,
    CapabilityMissing,
    CloudAdapter,
    CloudCapability,
    DeviceAdapter,
    DeviceCapability,
    DeviceDidNotAct,
    NetworkAdapter,
    World,
    network_can,
)
from harness.app.activator import Activator, ActivatorMode, ApOptions, Outcome, pair
from harness.clock import wait_until
from harness.conformance.verdicts import DeviceFailure
from harness.errors import HarnessError
from harness.model import (
    Binding,
    BindingMode,
    Claim,
    CloudError,
    Role,
    TokenRecord,
    TokenVerdict,
    check_token,
    decide_binding,
)
from harness.profiles import Profile
from harness.testing.strategies import tokens as guessed_tokens

PAIRING_MODE_TIMEOUT_S = 30.0  # real seconds a reset device may take to reach pairing mode (the adapter's wait)
PAIR_TIMEOUT_S = 20.0  # world-clock seconds an activator waits (a success takes a few; refusals end sooner)
ADVANCES = (1.0, 61.0)  # plus the token lifetime's edges, see PairingMachine.advance_time
# World-clock seconds, waited on the world's clock (harness.clock.wait_until): on an emulated world they cost what
# the world needs to settle, so a device that never acts costs a failing example milliseconds, not seconds.
ONLINE_SETTLE_S = 2.0  # a removed device may take this long to drop off MQTT (§5/§6)
REMOVAL_SETTLE_S = 3.0  # a removed online device may take this long to be told and return to pairing mode (§6)
SETTLE_POLL_S = 0.1  # world-clock seconds between looks (each look lets the emulated world run what is ready)


def _check(condition: bool, message: str) -> None:
    """A check of the device or cloud against the model: a :class:`~harness.conformance.verdicts.DeviceFailure`
    (FAIL in the suites), which, unlike a bare ``assert``, also holds under ``python -O``."""
    if not condition:
        raise DeviceFailure(message)


def _watched(method: Callable[..., Any]) -> Callable[..., Any]:
    """Tell the machine's ``on_failure`` hook (a campaign's clock) that a rule or invariant failed."""
    @functools.wraps(method)
    def wrapper(self: PairingMachine, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except AssertionError:
            if self.on_failure is not None:
                self.on_failure()
            raise

    return wrapper


class DeviceCrashed(AssertionError):
    """The device under test lost liveness (its own verdict: CRASH), with the inputs that preceded it."""

    def __init__(self, message: str, inputs: Any = None) -> None:
        super().__init__(message)
        self.inputs = inputs


class DevicePool:
    """The devices a machine plays with: a fixed list, topped up from ``make`` when a licence is revoked."""

    def __init__(self, devices: Sequence[DeviceAdapter], make: Callable[[], DeviceAdapter] | None = None, *,
                 keep: Sequence[DeviceAdapter] = ()) -> None:
        if not devices:
            raise ValueError("a device pool needs at least one device")
        self.devices = list(devices)
        self.make = make
        self.keep = {id(d) for d in keep}  # never revoked nor switched off (the run's own device under test)
        self.spent: set[str] = set()

    def may_revoke(self, device: DeviceAdapter) -> bool:
        return self.make is not None and id(device) not in self.keep

    @property
    def can_replace(self) -> bool:
        return self.make is not None

    def retire(self, device: DeviceAdapter) -> None:
        """``device``'s licence is gone: switch it off (it must not answer EZ meant for the others) and replace
        it, where the world can make devices."""
        self.spent.add(device.licence.uuid)
        if self.make is not None:
            index = self.devices.index(device)
            device.close()
            self.devices[index] = self.make()


@dataclass
class PairingTarget:
    """The system under test as the machine sees it: adapters, the profile's claims and the lab's Wi-Fi."""

    cloud: CloudAdapter
    network: NetworkAdapter
    pool: DevicePool
    binding_mode: BindingMode
    modes: Sequence[str]  # "qr", "ez", "ap-legacy", "ap-lpv35"
    token_ttl_s: float
    ssid: str = "paircert-stateful"
    password: str = field(default="stateful-pass", repr=False)
    #: how long the app waits for one pairing (world-clock seconds): on real time, the profile's activator timeout
    pair_timeout_s: float = PAIR_TIMEOUT_S

    def __post_init__(self) -> None:
        self.network.add_access_point(self.ssid.encode("utf-8"), self.password.encode("utf-8"))

    @classmethod
    def from_world(cls, world: World, *, profile: Profile | None = None, devices: int = 2) -> PairingTarget:
        """A target from a :class:`~harness.adapters.contracts.World` and its profile (default: the world's)."""
        profile = profile if profile is not None else world.profile
        caps = profile.capabilities
        make: Callable[[], DeviceAdapter] | None = world.new_device
        pool_devices = [world.device]
        try:
            pool_devices += [world.new_device() for _ in range(devices - 1)]
        except AdapterError:
            make = None
        network = world.network
        modes: list[str] = [m for m in caps.pairing_modes
                            if m != "ap" and (m != "ez" or network_can(network, "send-ez"))]
        if "ap" in caps.pairing_modes:
            modes += [f"ap-{variant}" for variant in caps.ap_variants]
        lab: dict[str, str] = {}
        wifi = profile.parameters.wifi
        if wifi is not None and not network_can(network, "create-networks"):  # the device knows only the lab's
            lab = {"ssid": wifi.ssid, "password": wifi.password.resolve().get_secret_value() if wifi.password else ""}
        # on real time each refused pairing waits out the app's timeout: the profile's, not the model's default
        pair_timeout_s = PAIR_TIMEOUT_S if world.clock.is_virtual else min(
            PAIR_TIMEOUT_S, float(profile.parameters.activator_timeout_s))
        return cls(cloud=world.cloud, network=network, pool=DevicePool(pool_devices, make, keep=[world.device]),
                   binding_mode=BindingMode(caps.binding_mode), modes=modes,
                   token_ttl_s=float(profile.parameters.token_ttl_s), pair_timeout_s=pair_timeout_s, **lab)


@dataclass
class ModelHome:
    home: str
    owner: str
    members: dict[str, Role]

    def admins(self) -> set[str]:
        """Who a medium rebind notifies (§6: "the administrator of the home"): the owner and admins."""
        return {a for a, r in self.members.items() if r in (Role.OWNER, Role.ADMIN)}


@dataclass(frozen=True)
class TokenHandle:
    """A token the app got (or guessed): who asked, for which home, in which role."""

    token: str
    account: str | None = None
    home: str | None = None
    role: Role | None = None

    @property
    def issued(self) -> bool:
        return self.home is not None


@dataclass
class ModelDevice:
    adapter: DeviceAdapter
    binding: Binding | None = None
    wipe_pending: bool = True
    revoked: bool = False
    pairing_mode: bool = True
    dev_id: str | None = None

    @property
    def uuid(self) -> str:
        return self.adapter.licence.uuid


def _in_pairing_mode(device: DeviceAdapter) -> bool:
    """Whether ``device`` is in pairing mode now (the adapter's own wait, not waiting)."""
    try:
        device.wait_pairing_mode(0.0)
    except (AdapterError, DeviceDidNotAct):  # either way it is not in pairing mode
        return False
    return True


def _footprint(record: Any) -> tuple[str | None, int]:
    """A device record's (home, activation history length); (None, 0) when the cloud lists no record."""
    return (None, 0) if record is None else (record.home, record.activations)


def _clean_slate(cloud: CloudAdapter, device: DeviceAdapter, known: ModelDevice | None) -> None:
    """Factory-reset, removed (and wiped) by its owner, in pairing mode: the lab's start position. The reset comes
    first: a device still retrying a refused activation (§11.7) must not bind with its stale token."""
    if DeviceCapability.FACTORY_RESET in device.capabilities:
        device.factory_reset()
    elif DeviceCapability.RESET in device.capabilities:
        device.reset()
    try:
        cloud.release_device(device.licence.uuid)
    except CapabilityMissing:
        record = cloud.device_by_uuid(device.licence.uuid) \
            if CloudCapability.INSPECT_DEVICES in cloud.capabilities else None
        if record is not None and record.home is not None and record.owner is not None:
            cloud.remove_device(record.dev_id, account=record.owner, wipe=True)
        elif record is None and known is not None and known.binding is not None and known.dev_id is not None:
            cloud.remove_device(known.dev_id, account=known.binding.account, wipe=True)
    device.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)


class PairingMachine(RuleBasedStateMachine):
    """Pairing and binding against a plain model; see the module docstring. Build with a :class:`PairingTarget`."""

    issued = Bundle("tokens")

    def __init__(self, target: PairingTarget, on_failure: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.on_failure = on_failure
        self.target = target
        self.cloud = target.cloud
        self.clock = target.cloud.clock
        self.model_homes: dict[str, ModelHome] = {}
        self.model_accounts: list[str] = []
        self.model_tokens: dict[str, TokenRecord] = {}
        self.expected_notices: Counter[str] = Counter()
        self.devices: list[ModelDevice] = []
        self.handles: dict[str, TokenHandle] = {}
        self.log: list[str] = []  # what the notes said, for a campaign's failure file
        self._names = 0

    def _note(self, text: str) -> None:
        note(text)
        self.log.append(text)

    # -- capabilities ---------------------------------------------------------------------------------------

    def _cloud_can(self, capability: CloudCapability) -> bool:
        return capability.value in self.cloud.capabilities

    def _device_can(self, capability: DeviceCapability) -> bool:
        return all(capability.value in d.adapter.capabilities for d in self.devices)

    def _name(self, kind: str) -> str:
        self._names += 1
        return f"sm-{kind}{self._names}"

    # -- set-up and lab rules -------------------------------------------------------------------------------

    @initialize(data=st.data())
    @_watched
    def start(self, data: st.DataObject) -> None:
        """Every example starts from clean devices and one account with one home, where the owner pairs the first
        device (the usual first step, so that every example's steps start from a bound device)."""
        spent = self.target.pool.spent
        for device in list(self.target.pool.devices):
            _clean_slate(self.cloud, device, None)
        self.devices = [ModelDevice(d, revoked=d.licence.uuid in spent) for d in self.target.pool.devices]
        self._note(f"devices: {[d.uuid for d in self.devices]}; binding mode {self.target.binding_mode}; "
             f"modes {list(self.target.modes)}")
        home = self._new_account_with_home()
        first = next((d for d in self.devices if not d.revoked), None)
        if first is not None:
            self._pair_device(data, self._token_for(home, Role.OWNER, True), first)

    def _new_account_with_home(self) -> str:
        account = self.cloud.create_account(self._name("account"))
        home = self.cloud.create_home(account, self._name("home"))
        self.model_accounts.append(account)
        self.model_homes[home] = ModelHome(home, account, {account: Role.OWNER})
        self._note(f"account {account} owns home {home}")
        return home

    def _another_home(self, owner: str) -> str:
        home = self.cloud.create_home(owner, self._name("home"))
        self.model_homes[home] = ModelHome(home, owner, {owner: Role.OWNER})
        self._note(f"account {owner} also owns home {home}")
        return home

    @rule(target=issued, data=st.data(), where=st.sampled_from(["existing", "existing", "new-account", "new-home"]),
          role=st.sampled_from(Role), existing=st.booleans())
    @_watched
    def get_token(self, data: st.DataObject, where: str, role: Role, existing: bool) -> TokenHandle:
        """A token for any home (an existing one, a new account's, another home of an owner), asked by its owner,
        or by an admin or member (an account that already exists elsewhere, or a new one)."""
        return self._issue_token(data, where, role, existing)

    def _issue_token(self, data: st.DataObject, where: str, role: Role, existing: bool) -> TokenHandle:
        home = data.draw(st.sampled_from(list(self.model_homes)), label="home")  # creation order: ids are random
        if where == "new-account":
            home = self._new_account_with_home()
        elif where == "new-home":
            home = self._another_home(self.model_homes[home].owner)
        return self._token_for(home, role, existing)

    def _token_for(self, home: str, role: Role, existing: bool) -> TokenHandle:
        """A token for ``home`` asked by its owner, or by an admin or member (one it has, an account that exists
        elsewhere, or a new one)."""
        model_home = self.model_homes[home]
        if role is Role.OWNER:
            account = model_home.owner
        elif existing and role.value in {r.value for a, r in model_home.members.items() if a != model_home.owner}:
            account = next(a for a, r in model_home.members.items() if r is role and a != model_home.owner)
        else:
            candidates = [a for a in self.model_accounts if a not in model_home.members]
            account = candidates[0] if existing and candidates else self.cloud.create_account(self._name("account"))
            if account not in self.model_accounts:
                self.model_accounts.append(account)
            self.cloud.add_member(home, account, role)
            model_home.members[account] = role
        token = self.cloud.get_token(home, account)
        now = self.clock.time()
        self.model_tokens[token] = TokenRecord(region=token[:2], token=token[2:10], secret=token[10:], home=home,
                                               account=account, issued_at=now, ttl_s=self.target.token_ttl_s)
        self._note(f"token {token} for home {home}, asked by {account} ({role})")
        handle = TokenHandle(token, account, home, role)
        self.handles[token] = handle
        return handle

    @rule(target=issued, data=st.data(), where=st.sampled_from(["existing", "new-account", "new-home"]),
          role=st.sampled_from(Role), existing=st.booleans())
    @_watched
    def get_token_and_pair(self, data: st.DataObject, where: str, role: Role, existing: bool) -> TokenHandle:
        """The usual flow: get a token and pair a device in pairing mode with it straight away."""
        handle = self._issue_token(data, where, role, existing)
        if self._pairable():
            self.pair_device(data, handle)
        return handle

    def _movable(self) -> list[ModelDevice]:
        pairable = {id(d) for d in self._pairable()}
        return [d for d in self._bound() if id(d) in pairable]

    @precondition(lambda self: bool(self._movable()))
    @rule(target=issued, data=st.data(), role=st.sampled_from(Role), new_home=st.booleans(), existing=st.booleans())
    @_watched
    def pair_a_bound_device_into_another_home_of_its_owner(self, data: st.DataObject, role: Role, new_home: bool,
                                                           existing: bool) -> TokenHandle:
        """A move (§6: allowed whatever the binding mode, nobody is told): a bound device is reset and paired into
        another home of its owner's, with a token asked by that home's owner, an admin or a member."""
        return self._pair_bound_device_elsewhere(data, True, role, new_home, existing)

    @precondition(lambda self: bool(self._movable()))
    @rule(target=issued, data=st.data(), role=st.sampled_from(Role), new_home=st.booleans(), existing=st.booleans())
    @_watched
    def pair_a_bound_device_into_another_accounts_home(self, data: st.DataObject, role: Role, new_home: bool,
                                                       existing: bool) -> TokenHandle:
        """A rebind (§6: refused, or allowed and the previous home's admins told or not, as the binding mode says):
        a bound device is reset and paired into a home another account owns."""
        return self._pair_bound_device_elsewhere(data, False, role, new_home, existing)

    def _pair_bound_device_elsewhere(self, data: st.DataObject, same_owner: bool, role: Role, new_home: bool,
                                     existing: bool) -> TokenHandle:
        md = data.draw(st.sampled_from(self._movable()), label="device")
        if md.binding is None:
            raise HarnessError("broken invariant: md.binding is not None")
        owner, current = md.binding.account, md.binding.home
        homes = [h for h, m in self.model_homes.items() if (m.owner == owner) is same_owner and h != current]
        if homes and not new_home:
            home = data.draw(st.sampled_from(homes), label="home")
        else:
            home = self._another_home(owner) if same_owner else self._new_account_with_home()
        handle = self._token_for(home, role, existing)
        self._pair_device(data, handle, md)
        return handle

    @precondition(lambda self: self._cloud_can(CloudCapability.TIME_TRAVEL) and bool(self._pairable()))
    @rule(target=issued, data=st.data(), role=st.sampled_from(Role), late=st.sampled_from([1.0, 30.0, 3600.0]))
    @_watched
    def pair_after_the_token_expires(self, data: st.DataObject, role: Role, late: float) -> TokenHandle:
        """Get a token, let its lifetime pass (plus ``late`` seconds), then pair with it (§0 step 6: 10 minutes)."""
        handle = self._issue_token(data, "existing", role, True)
        seconds = self.model_tokens[handle.token].expires_at - self.clock.time() + late
        self._note(f"advance time by {seconds:g} s, past the token's lifetime")
        self.cloud.advance_time(seconds)
        self.pair_device(data, handle)
        return handle

    # -- pairing -------------------------------------------------------------------------------------------

    def _in_pairing_mode(self) -> list[ModelDevice]:
        return [d for d in self.devices if d.pairing_mode]

    def _pairable(self) -> list[ModelDevice]:
        """Devices in pairing mode, and (where the adapter can reset them) any device."""
        return self.devices if self._device_can(DeviceCapability.RESET) else self._in_pairing_mode()

    @precondition(lambda self: bool(self._pairable()))
    @rule(data=st.data(), handle=st.one_of(issued, issued, issued, guessed_tokens().map(TokenHandle)))
    @_watched
    def pair_device(self, data: st.DataObject, handle: TokenHandle) -> None:
        """Pair any device (reset first when it is not in pairing mode), in any claimed mode, with an issued or a
        guessed token."""
        self._pair_device(data, handle)

    def _pair_device(self, data: st.DataObject, handle: TokenHandle, md: ModelDevice | None = None) -> None:
        """Pair ``md`` (else any pairable device) with ``handle`` and compare what the cloud did with the model."""
        if md is None:
            md = data.draw(st.sampled_from(self._pairable()), label="device")
        if not md.pairing_mode:  # the user presses reset first: the cloud keeps the binding (§6 normal reset)
            self._note(f"reset {md.uuid} to put it in pairing mode")
            md.adapter.reset()
            md.adapter.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)
            md.pairing_mode = True
        ready = self._in_pairing_mode()
        # EZ is heard by every device in pairing mode (§2: broadcast on the air): aim it only at a lone listener.
        modes = [m for m in self.target.modes if m != "ez" or len(ready) == 1] or list(self.target.modes)
        mode = data.draw(st.sampled_from(modes), label="mode")
        self._note(f"pair {md.uuid} in {mode} with {'issued' if handle.issued else 'guessed'} token {handle.token}")
        cloud = self.cloud
        before = len(cloud.token_attempts(handle.token))
        record_before = self._record(md)
        outcome = self._pair(md.adapter, mode, handle)
        attempts = list(cloud.token_attempts(handle.token))[before:]
        activated = [a for a in attempts if a.outcome == "activated"]
        at = attempts[0].at if attempts else self.clock.time()
        expected, decision_note, notify = self._expect(md, handle, at)
        seen = sorted({a.error_code or a.outcome for a in attempts})
        self._note(f"  outcome ok={outcome.ok} code={outcome.code}; {len(attempts)} cloud attempt(s): {seen}; "
             f"model says {decision_note}")
        if "liveness" in md.adapter.capabilities and not md.adapter.is_alive():
            raise DeviceCrashed(f"device {md.uuid} lost liveness pairing in {mode}", inputs={"token": handle.token})
        if expected:
            if handle.home is None or handle.account is None:
                raise HarnessError("broken invariant: handle.home is not None and handle.account is not None")
            _check(bool(activated),
                   f"§6: the model says this pairing binds ({decision_note}), but the cloud refused it")
            record = self._record(md)
            _check(record is not None and record.home == handle.home,
                   f"§0/§6: the device must be bound in the token's home {handle.home}, the cloud has it in "
                   f"{None if record is None else record.home}")
            if record is None:
                raise HarnessError("broken invariant: record is not None")
            _check(outcome.ok, f"the activator reported failure ({outcome.error}) for a pairing the cloud bound")
            previous = md.binding
            owner = self.model_homes[handle.home].owner
            md.binding = Binding(account=owner, home=handle.home)
            md.wipe_pending = False
            md.pairing_mode = False
            md.dev_id = record.dev_id
            self.model_tokens[handle.token] = self.model_tokens[handle.token].consume(at)
            if notify and previous is not None:
                for admin in self.model_homes[previous.home].admins():
                    self.expected_notices[admin] += 1
        else:
            _check(not activated, f"§0/§6: the model refuses this pairing ({decision_note}), but the cloud bound it")
            # A cloud keeps attempts only for tokens it issued: a guessed token's activation shows in the device's
            # record (its home and activation history), not in token_attempts.
            now_in, before_in = _footprint(self._record(md)), _footprint(record_before)
            _check(now_in == before_in, f"§0/§6: the model refuses this pairing ({decision_note}), but the cloud "
                                        f"activated the device (home, activations: {before_in} before, {now_in} now)")
            _check(not outcome.ok, f"the activator reported success for a pairing the model refuses ({decision_note})")
            # A refused device returns to pairing mode; a genuine one retries the same token every second until
            # it gives up (§11.7), so the user presses reset (the cloud keeps any binding, §6 normal reset).
            if DeviceCapability.RESET in md.adapter.capabilities:
                md.adapter.reset()
            md.adapter.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)

    def _used(self) -> list[TokenHandle]:
        return [self.handles[t] for t, r in self.model_tokens.items() if r.consumed_at is not None]

    @precondition(lambda self: bool(self._used()) and bool(self._pairable()))
    @rule(data=st.data())
    @_watched
    def pair_with_a_used_token(self, data: st.DataObject) -> None:
        """Try a token a pairing already consumed again (seed: "invalidated upon successful pairing")."""
        handle = data.draw(st.sampled_from(self._used()), label="used token")
        self.pair_device(data, handle)

    def _unused(self) -> list[TokenHandle]:
        return [self.handles[t] for t, r in self.model_tokens.items() if r.consumed_at is None]

    @precondition(lambda self: bool(self._unused()) and bool(self._pairable()))
    @rule(data=st.data())
    @_watched
    def pair_with_an_unused_token(self, data: st.DataObject) -> None:
        """Pair with a token issued earlier and not used yet: valid, or expired by now (§0 step 6)."""
        handle = data.draw(st.sampled_from(self._unused()), label="unused token")
        self.pair_device(data, handle)

    def _pair(self, device: DeviceAdapter, mode: str, handle: TokenHandle) -> Outcome:
        account = handle.account or self.model_accounts[0]
        variant = mode.partition("-")[2] or "legacy"
        activator = Activator(self.cloud, account=account, device=device, network=self.target.network,
                              ap=ApOptions(variant=variant))
        for attempt in (1, 2):
            outcome = pair(activator, ActivatorMode(mode.partition("-")[0]), self.target.ssid, self.target.password,
                           handle.token, timeout=self.target.pair_timeout_s)
            fault = outcome.error.harness_fault if outcome.error is not None else None
            if fault is None:
                return outcome
            if attempt == 1:  # e.g. the SoftAP was reopening as the app connected: once more once it is up again
                device.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)
        raise AdapterError(f"the harness failed while pairing: {outcome.error}") from fault

    def _expect(self, md: ModelDevice, handle: TokenHandle, at: float) -> tuple[bool, str, bool]:
        """What the model says of this claim at ``at``: (binds?, why, notify the previous home's admins?)."""
        if md.revoked:
            return False, f"{CloudError.LICENSE_REVOKED}: the licence is revoked", False
        record = self.model_tokens.get(handle.token)
        verdict = check_token(record, now=at, region=self.cloud.region)
        if verdict is not TokenVerdict.VALID:
            return False, f"token {verdict.value}", False
        if handle.home is None or handle.account is None or handle.role is None:
            raise HarnessError("broken invariant: a token handle has a home, an account and a role")
        home = self.model_homes[handle.home]
        claim = Claim(account=handle.account, role=handle.role, home=handle.home, home_owner=home.owner)
        decision = decide_binding(md.binding, self.target.binding_mode, claim, data_wipe_pending=md.wipe_pending)
        return decision.allowed, f"binding rule {decision.rule}", decision.notify_previous_home_admins

    def _record(self, md: ModelDevice) -> Any:
        if self._cloud_can(CloudCapability.INSPECT_DEVICES):
            return self.cloud.device_by_uuid(md.uuid)
        for home in self.model_homes:
            for record in self.cloud.list_devices(home):
                if record.uuid == md.uuid:
                    return record
        return None

    # -- time, removal, resets, licences ---------------------------------------------------------------------

    @precondition(lambda self: self._cloud_can(CloudCapability.TIME_TRAVEL))
    @rule(which=st.sampled_from(["short", "minute", "edge-before", "edge-after", "long"]))
    @_watched
    def advance_time(self, which: str) -> None:
        """Let time pass: a little, or to just before or just after the newest unused token's lifetime (§0 step 6)."""
        ttl = self.target.token_ttl_s
        unused = [self.model_tokens[h.token] for h in self._unused()]
        left = (unused[-1].expires_at - self.clock.time()) if unused else ttl
        seconds = {"short": ADVANCES[0], "minute": ADVANCES[1], "edge-before": max(1.0, left - 30.0),
                   "edge-after": max(1.0, left + 1.0), "long": 3 * ttl}[which]
        self._note(f"advance time by {seconds:g} s")
        self.cloud.advance_time(seconds)

    def _revocable(self) -> list[ModelDevice]:
        return [d for d in self.devices if not d.revoked and self.target.pool.may_revoke(d.adapter)]

    def _bound(self) -> list[ModelDevice]:
        return [d for d in self.devices if d.binding is not None]

    @precondition(lambda self: bool(self._bound()))
    @rule(data=st.data(), wipe=st.booleans())
    @_watched
    def remove_device(self, data: st.DataObject, wipe: bool) -> None:
        """The owner removes a bound device ("Remove device", or "Remove and wipe data", §6)."""
        md = data.draw(st.sampled_from(self._bound()), label="device")
        if md.binding is None or md.dev_id is None:
            raise HarnessError("broken invariant: md.binding is not None and md.dev_id is not None")
        self._note(f"owner {md.binding.account} removes {md.uuid} (wipe={wipe})")
        self.cloud.remove_device(md.dev_id, account=md.binding.account, wipe=wipe)
        md.binding = None
        md.wipe_pending = wipe
        if not md.pairing_mode:
            told = wait_until(self.clock, functools.partial(_in_pairing_mode, md.adapter), REMOVAL_SETTLE_S,
                              poll_s=SETTLE_POLL_S)
            _check(told, f"§6: a removed device is told and returns to pairing mode; it was not in pairing mode "
                         f"{REMOVAL_SETTLE_S:g} s (world clock) after the removal")
            md.pairing_mode = True

    @precondition(lambda self: self._device_can(DeviceCapability.RESET))
    @rule(data=st.data(), factory=st.booleans())
    @_watched
    def reset_device(self, data: st.DataObject, factory: bool) -> None:
        """The reset button (the binding stays in the cloud) or a factory reset, then pairing mode."""
        md = data.draw(st.sampled_from(self.devices), label="device")
        if factory and not self._device_can(DeviceCapability.FACTORY_RESET):
            factory = False
        self._note(f"{'factory-' if factory else ''}reset {md.uuid}")
        if factory:
            md.adapter.factory_reset()
        else:
            md.adapter.reset()
        md.adapter.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)
        md.pairing_mode = True

    @precondition(lambda self: self._cloud_can(CloudCapability.REVOKE_LICENCES) and bool(self._revocable()))
    @rule(data=st.data())
    @_watched
    def revoke_licence(self, data: st.DataObject) -> None:
        """The lab revokes a device's licence: it may never activate again (§8)."""
        md = data.draw(st.sampled_from(self._revocable()), label="device")
        self._note(f"revoke the licence of {md.uuid}")
        self.cloud.revoke_licence(md.uuid)
        md.revoked = True
        self.target.pool.spent.add(md.uuid)
        # §8: the lab tries the revoked device at once with a valid owner's token: it must activate nothing.
        if md.pairing_mode or self._device_can(DeviceCapability.RESET):
            home = data.draw(st.sampled_from(list(self.model_homes)), label="home")
            self._pair_device(data, self._token_for(home, Role.OWNER, True), md)

    # -- invariants --------------------------------------------------------------------------------------------

    @invariant()
    @_watched
    def each_device_is_bound_to_at_most_the_models_home(self) -> None:
        for md in self.devices:
            homes = [h for h in self.model_homes if any(r.uuid == md.uuid for r in self.cloud.list_devices(h))]
            _check(len(homes) <= 1, f"§6: device {md.uuid} is listed in {len(homes)} homes: {homes}")
            want = [] if md.binding is None else [md.binding.home]
            _check(homes == want, f"§6: device {md.uuid} is in {homes or 'no home'}; the model says {want or 'none'}")

    @invariant()
    @_watched
    def a_device_is_online_only_when_bound(self) -> None:
        if not self._cloud_can(CloudCapability.INSPECT_DEVICES):
            return
        for md in self.devices:
            # Eventually: a removed device is told over MQTT and goes offline a moment later (§5/§6).
            settled = wait_until(self.clock, functools.partial(self._settled_offline, md), ONLINE_SETTLE_S,
                                 poll_s=SETTLE_POLL_S)
            _check(settled, f"§6: device {md.uuid} is online but bound to no home {ONLINE_SETTLE_S:g} s after")

    def _settled_offline(self, md: ModelDevice) -> bool:
        """Not online while bound to no home (a removed device is told over MQTT and goes offline, §5/§6)."""
        record = self.cloud.device_by_uuid(md.uuid)
        return not (record is not None and record.online and record.home is None)

    @invariant()
    @_watched
    def a_token_is_consumed_at_most_once(self) -> None:
        for token in self.model_tokens:
            wins = [a for a in self.cloud.token_attempts(token) if a.outcome == "activated"]
            _check(len(wins) <= 1, f"§0: token {token} activated {len(wins)} times (single use)")

    @invariant()
    @_watched
    def notifications_are_as_the_binding_mode_says(self) -> None:
        ours = {d.dev_id for d in self.devices if d.dev_id is not None}
        for account in self.model_accounts:
            got = [n for n in self.cloud.notifications(account) if n.dev_id in ours]
            want = self.expected_notices[account]
            _check(len(got) == want,
                   f"§6 {self.target.binding_mode} binding: account {account} has {len(got)} rebind notification(s), "
                   f"the model says {want}")

    def teardown(self) -> None:
        pool = self.target.pool
        for md in self.devices:
            if md.revoked and md.adapter in pool.devices:
                pool.retire(md.adapter)


class MachineFactory:
    """Makes a :class:`PairingMachine` per example (the budget is Hypothesis's: ``max_examples`` machines of at
    most ``stateful_step_count`` steps). ``reproduce`` replays a saved blob."""

    def __init__(self, target: PairingTarget, *, reproduce: tuple[str, bytes] | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.target = target
        self.on_failure = on_failure
        self.failed = False
        self.last: PairingMachine | None = None
        if reproduce is not None:
            self._hypothesis_internal_use_reproduce_failure = reproduce

    def _failure(self) -> None:
        self.failed = True
        if self.on_failure is not None:
            self.on_failure()

    def __call__(self) -> PairingMachine:
        self.last = PairingMachine(self.target, on_failure=self._failure)
        return self.last


def run_pairing_machine(target: PairingTarget, budget: settings, *,
                        reproduce: tuple[str, bytes] | None = None) -> None:
    """Run :class:`PairingMachine` on ``target`` as a Hypothesis test with ``budget`` (counted: its
    ``max_examples`` and ``stateful_step_count``; derandomized, the same steps on every run); raises on a
    failure. ``reproduce`` is a ``(hypothesis version, blob)`` pair from a saved failure."""
    run_state_machine_as_test(MachineFactory(target, reproduce=reproduce), settings=budget)  # type: ignore[arg-type]


__all__ = ["DeviceCrashed", "DevicePool", "MachineFactory", "PairingMachine", "PairingTarget", "TokenHandle",
           "run_pairing_machine"]
