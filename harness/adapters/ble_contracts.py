"""The Bluetooth LE part of the network contract (PROTOCOL.md §9.12): the app's side of a BLE radio."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.adapters.contracts import AdapterError, CapabilityMissing, NetworkAdapter

# A network adapter that has a Bluetooth LE radio offers the app's side of it as its ``ble`` attribute, a
# :class:`BleCentral` (a GATT client: scan, connect, write, notifications). :func:`ble_central` gets it, or says
# why there is none (N/A). Radio trouble (no controller, a dropped link, a refused write) is an AdapterError.


class BleUnavailable(CapabilityMissing):
    """The network has no usable BLE radio here (no adapter, no controller): the tests that need it are N/A."""

    def __init__(self, adapter: str, reason: str) -> None:
        AdapterError.__init__(self, f"the {adapter} network adapter has no usable Bluetooth LE radio: {reason}")
        self.adapter = adapter
        self.capability = "ble"
        self.reason = reason


class BleLinkLost(AdapterError):
    """The BLE link went down (the peer disconnected, or the radio lost it) while the app was using it."""


@dataclass(frozen=True)
class BleAdvertisement:
    """One advertiser a scan saw, in bleak's terms (§9.12): service data keyed by the 128-bit UUID string and
    manufacturer data keyed by the company ID, each value starting right after the UUID or the ID."""

    address: str
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    name: str | None = None
    rssi: int | None = None


@runtime_checkable
class BleLink(Protocol):
    """One connection of the app (GATT central) to a device; every method may raise :class:`BleLinkLost`."""

    address: str

    @property
    def att_mtu(self) -> int: ...
    @property
    def connected(self) -> bool: ...
    def start_notify(self, characteristic: str, callback: Callable[[bytes], None]) -> None: ...
    def on_disconnect(self, callback: Callable[[str], None]) -> None: ...
    def write(self, characteristic: str, data: bytes, *, response: bool = False) -> None: ...
    def disconnect(self) -> None: ...


@runtime_checkable
class BleCentral(Protocol):
    """The app's Bluetooth LE central: scan by service UUID, connect (§9.12)."""

    name: str

    def unavailable_reason(self) -> str | None: ...
    def scan(self, service_uuids: Sequence[str], *, timeout: float,
             until: Callable[[Sequence[BleAdvertisement]], bool] | None = None) -> list[BleAdvertisement]: ...
    def connect(self, address: str, *, timeout: float, att_mtu: int = 247) -> BleLink: ...
    def info(self) -> Mapping[str, Any]: ...


@runtime_checkable
class BleNetwork(Protocol):
    """A network adapter with a Bluetooth LE radio: its ``ble`` is the app's central (None: no radio)."""

    @property
    def ble(self) -> BleCentral | None: ...


def ble_central(network: NetworkAdapter) -> BleCentral:
    """The network's BLE central; :class:`CapabilityMissing` (N/A) when it has none or none usable here."""
    central = network.ble if isinstance(network, BleNetwork) else None
    if central is None:
        raise CapabilityMissing(network.name, "ble")
    reason = central.unavailable_reason()
    if reason is not None:
        raise BleUnavailable(network.name, reason)
    return central


__all__ = ["BleAdvertisement", "BleCentral", "BleLink", "BleLinkLost", "BleNetwork", "BleUnavailable", "ble_central"]
