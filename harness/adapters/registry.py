"""Resolving adapter names to implementations, and building a world from a profile.

A profile's ``[adapters]`` names each adapter either by a registered name or by a ``package.module:factory``
spec (DESIGN.md "Adapters"). Registered names come from the entry point group ``paircert.adapters``, as
``<kind>.<name>`` (``cloud.emulated``, ``device.operator``, ...), so a vendor's package adds its own device
adapter by declaring an entry point, with no change here.

A factory is called as ``factory(context, **args)`` where ``context`` is the :class:`WorldContext` built so
far (profile, clock, and the adapters already made: network first, then cloud, then device) and ``args``
comes from the profile (``env:`` secrets resolved at that moment only).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.adapters.contracts import AdapterError, CloudAdapter, DeviceAdapter, NetworkAdapter, World
from harness.clock import Clock, SystemClock, VirtualClock
from harness.profiles import Profile

ENTRY_POINT_GROUP = "paircert.adapters"
KINDS = ("network", "cloud", "device")

Factory = Callable[..., Any]


@dataclass
class WorldContext:
    """What a factory may use: the profile, the world's clock, the adapters made before it, shared objects."""

    profile: Profile
    clock: Clock
    seed: int
    network: NetworkAdapter | None = None
    cloud: CloudAdapter | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)


def _builtin() -> dict[str, str]:
    return {
        "network.air": "harness.adapters.factories:air_network",
        "network.scapy": "harness.adapters.scapy:scapy_network",
        "network.bleak": "harness.adapters.bleak:bleak_network",
        "network.hooks": "harness.adapters.hooks_network:hooks_network",
        "network.hostapd": "harness.adapters.hostapd:hostapd_network",
        "cloud.emulated": "harness.adapters.factories:emulated_cloud",
        "cloud.remote": "harness.adapters.remote:remote_cloud",
        "cloud.openapi": "harness.adapters.openapi:openapi_cloud",
        "device.emulated": "harness.adapters.factories:emulated_device",
        "device.operator": "harness.adapters.operator.device:operator_device",
    }


def _load(spec: str) -> Factory:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"cannot import adapter module {module_name!r}: {exc}") from exc
    try:
        factory: Factory = getattr(module, attr)
    except AttributeError:
        raise AdapterError(f"adapter module {module_name!r} has no factory {attr!r}") from None
    if not callable(factory):
        raise AdapterError(f"adapter factory {spec!r} is not callable")
    return factory


def registered() -> dict[str, str]:
    """Every registered ``<kind>.<name>`` with the spec it resolves to (built-ins, then entry points)."""
    names = _builtin()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        names[ep.name] = ep.value
    return names


_SPEC_ARGUMENT = {"cloud": "url", "network": "interface", "device": "address"}


def split_spec(kind: str, spec: str) -> tuple[str, dict[str, Any]]:
    """``remote:http://lab:8080`` is the registered ``remote`` with its main argument (DESIGN.md "Adapters");
    ``package.module:factory`` stays a factory spec. The main argument is ``url`` for a cloud, ``interface``
    for a network and ``address`` for a device."""
    head, sep, rest = spec.partition(":")
    if sep and f"{kind}.{head}" in registered():
        return head, {_SPEC_ARGUMENT[kind]: rest}
    return spec, {}


def resolve(kind: str, name: str) -> Factory:
    """The factory for adapter ``name`` of ``kind`` (a registered name or a ``package.module:factory`` spec)."""
    if kind not in KINDS:
        raise AdapterError(f"unknown adapter kind {kind!r}; expected one of {', '.join(KINDS)}")
    if ":" in name:
        return _load(name)
    names = registered()
    key = f"{kind}.{name}"
    if key not in names:
        known = sorted(k.split(".", 1)[1] for k in names if k.startswith(kind + "."))
        raise AdapterError(f"no {kind} adapter named {name!r}; registered: {', '.join(known)}")
    return _load(names[key])


@runtime_checkable
class Replicable(Protocol):
    """A device adapter that can make another device of its kind (the emulated one can)."""

    def make_another(self) -> DeviceAdapter: ...


@dataclass
class ProfileWorld:
    """The :class:`~harness.adapters.contracts.World` a profile names: the clock, the cloud, the device and the
    network, built by :func:`build_world`."""

    profile: Profile
    clock: Clock
    cloud: CloudAdapter
    device: DeviceAdapter
    network: NetworkAdapter
    seed: int
    context: WorldContext
    _device_factory: Callable[[], DeviceAdapter] | None = None
    _made: list[DeviceAdapter] = field(default_factory=list)

    def new_device(self) -> DeviceAdapter:
        """Another device of the same shape, where the world can make one (emulated devices can)."""
        if self._device_factory is None:
            raise AdapterError(f"the {self.device.name} device adapter cannot make another device")
        device = self._device_factory()
        self.context.closers.append(device.close)
        self._made.append(device)
        return device

    def secrets(self) -> list[str]:
        """The AuthKeys of the world's devices (the first, and every one :meth:`new_device` made)."""
        return [self.device.licence.auth_key, *(d.licence.auth_key for d in self._made)]

    def info(self) -> dict[str, Any]:
        return {"profile": self.profile.name, "profile_hash": self.profile.hash(), "seed": self.seed,
                "cloud": dict(self.cloud.info()), "device": dict(self.device.info()),
                "network": dict(self.network.info()), "firmware": self.profile.device.firmware}

    def close(self) -> None:
        errors: list[str] = []
        for closer in reversed(self.context.closers):
            try:
                closer()
            except Exception as exc:  # close everything; report what failed
                errors.append(f"{getattr(closer, '__qualname__', closer)}: {exc}")
        self.context.closers.clear()
        if errors:
            raise AdapterError("closing the world failed: " + "; ".join(errors))


def build_world(profile: Profile, *, cloud: str | None = None, device: str | None = None,
                network: str | None = None, seed: int | None = None, clock: Clock | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> ProfileWorld:
    """Build the world the profile names; ``cloud``/``device``/``network`` override the profile's adapters.

    ``overrides`` adds factory arguments per kind (e.g. ``{"device": {"faults": ["qr-mangles-utf8"]}}``),
    which is how the self-check runs the suites against a faulted emulator.
    """
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    specs = {
        "network": (network or profile.adapters.network.name, dict(profile.adapters.network.args)),
        "cloud": (cloud or profile.adapters.cloud.name, profile.adapters.cloud.resolved_args()),
        "device": (device or profile.adapters.device.name, profile.adapters.device.resolved_args()),
    }
    if profile.adapters.network.interface:
        specs["network"][1].setdefault("interface", profile.adapters.network.interface)
    for kind, (spec, args) in list(specs.items()):
        name, spec_args = split_spec(kind, spec)
        specs[kind] = (name, {**args, **spec_args})
    for kind, extra in (overrides or {}).items():
        specs[kind][1].update(extra)
    everything_emulated = specs["cloud"][0] == "emulated" and specs["device"][0] == "emulated"
    if clock is None:
        clock = VirtualClock() if everything_emulated else SystemClock()
    context = WorldContext(profile=profile, clock=clock, seed=seed)
    try:
        net = resolve("network", specs["network"][0])(context, **specs["network"][1])
        context.network = net
        context.closers.append(net.close)
        cl = resolve("cloud", specs["cloud"][0])(context, **specs["cloud"][1])
        context.cloud = cl
        context.closers.append(cl.close)
        device_factory = resolve("device", specs["device"][0])
        device_args = specs["device"][1]
        dev = device_factory(context, **device_args)
        context.closers.append(dev.close)
    except BaseException:
        for closer in reversed(context.closers):
            with contextlib.suppress(Exception):  # already failing: the original error is the one to report
                closer()
        raise
    return ProfileWorld(profile=profile, clock=clock, cloud=cl, device=dev, network=net, seed=seed, context=context,
                        _device_factory=dev.make_another if isinstance(dev, Replicable) else None)


if TYPE_CHECKING:  # mypy checks that a profile's world is a World
    def _meets_contracts(world: ProfileWorld) -> World:
        return world


__all__ = ["ENTRY_POINT_GROUP", "ProfileWorld", "Replicable", "WorldContext", "build_world", "registered", "resolve",
           "split_spec"]
