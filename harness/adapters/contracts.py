"""The contracts between the suites (and the activator) and whatever plays the cloud, the device and the air.

Each contract is small and capability-based, as labgrid's protocols are: a suite asks for a contract,
never for a class, so the same suite runs against the emulated world, a real cloud, or a real camera.
Whatever an implementation cannot do (time travel on a real cloud, issuing licences on someone else's
platform) it leaves out of ``capabilities``; the tests that need it report N/A with the reason instead
of failing.

Errors: an adapter that cannot do its job (the lab is broken, a hook timed out, the cloud is
unreachable) raises :class:`AdapterError`; that is a harness or lab problem (ERROR), never reported
as the device's fault.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from harness.clock import Clock
from harness.model import AttemptSummary, BindingMode, Role


class AdapterError(Exception):
    """The adapter, the lab or the harness failed: an ERROR verdict, never the device's FAIL."""


class BindRefused(Exception):
    """The cloud refused to bind a device by its UUID (§11.6): an answer the suites judge, not a lab fault.

    ``code`` is the cloud's errorCode (``UUID_NOT_EXISTS``, ``DEVICE_OFFLINE``, ``DEVICE_ALREADY_BIND``, ...);
    :func:`harness.model.bind_refusal_code` gives the app-side code for it.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"the cloud refused the bind: {code}: {message}")


class CapabilityMissing(AdapterError):
    """The adapter does not offer a capability the caller needs (the test is N/A)."""

    def __init__(self, adapter: str, capability: str) -> None:
        self.adapter = adapter
        self.capability = capability
        super().__init__(f"the {adapter} adapter does not offer the capability '{capability}'")


class CloudCapability(enum.StrEnum):
    """Lab controls a cloud adapter may offer beyond the app API."""

    ISSUE_LICENCES = "issue-licences"
    REVOKE_LICENCES = "revoke-licences"
    CREATE_PRODUCTS = "create-products"
    TIME_TRAVEL = "time-travel"
    INSPECT_DEVICES = "inspect-devices"  # read a device record by licence UUID, including unbound ones
    BIND_BY_UUID = "bind-by-uuid"  # the app binds a waiting device by its UUID: a token pushed to it (§11.6)


class DeviceCapability(enum.StrEnum):
    """Things a device adapter can make its device do."""

    RESET = "reset"
    FACTORY_RESET = "factory-reset"
    POWER_CYCLE = "power-cycle"
    SCAN_QR = "scan-qr"
    AP_MODE = "ap-mode"
    AP_STATUS = "ap-status"  # ap_address() says whether the SoftAP is open right now (None once it closed)
    EZ_MODE = "ez-mode"
    EVENTS = "events"
    LIVENESS = "liveness"


class NetworkCapability(enum.StrEnum):
    """What a network adapter's traffic can do for the device under test (its ``capabilities``)."""

    CREATE_NETWORKS = "create-networks"  # an access point it adds is a network the device can join
    SEND_EZ = "send-ez"  # the EZ datagrams it sends reach the device


def network_can(network: NetworkAdapter, capability: str) -> bool:
    """Whether ``network`` offers ``capability``; a network adapter that declares no ``capabilities`` (one written
    before they existed) is taken to offer them all."""
    declared = getattr(network, "capabilities", None)
    return declared is None or capability in declared


@dataclass(frozen=True)
class Licence:
    """A device licence: UUID and AuthKey (§8). ``auth_key`` is a secret: its repr is redacted."""

    uuid: str
    auth_key: str = field(repr=False)
    pid: str = ""


@dataclass(frozen=True)
class Product:
    pid: str
    name: str
    category: str
    binding_mode: BindingMode


@dataclass(frozen=True)
class DeviceRecord:
    """What the cloud knows of a device, as the app API shows it."""

    dev_id: str
    uuid: str
    pid: str
    name: str
    home: str | None
    online: bool
    dps: Mapping[str, Any] = field(default_factory=dict)
    activations: int = 0
    owner: str | None = None  # the owner account of the home it is bound to (who may remove it)


@dataclass(frozen=True)
class Notification:
    account: str
    kind: str
    text: str
    dev_id: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class DeviceEvent:
    """One entry of a device's timeline, on the world's clock (``wall``: when on the wall clock, where the world's
    clock is virtual). Never holds a secret in clear."""

    at: float
    name: str
    details: Mapping[str, Any] = field(default_factory=dict)
    wall: float | None = None


@dataclass(frozen=True)
class ApAddress:
    """Where a device in AP mode listens: legacy 55AA over UDP, LPV3.5 6699 over TCP (§3)."""

    host: str
    udp_port: int | None
    tcp_port: int | None


@runtime_checkable
class CloudAdapter(Protocol):
    """The cloud as the app and the lab see it."""

    name: str
    capabilities: frozenset[str]
    clock: Clock
    region: str

    # The app API.
    def create_account(self, name: str) -> str: ...
    def create_home(self, account: str, name: str) -> str: ...
    def add_member(self, home: str, account: str, role: Role) -> None: ...
    def get_token(self, home: str, account: str) -> str: ...
    def bind_device_by_uuid(self, home: str, uuid: str, *, account: str) -> str: ...
    def token_attempts(self, token: str) -> Sequence[AttemptSummary]: ...
    def list_devices(self, home: str) -> Sequence[DeviceRecord]: ...
    def device(self, dev_id: str) -> DeviceRecord | None: ...
    def remove_device(self, dev_id: str, *, account: str, wipe: bool = False) -> None: ...
    def notifications(self, account: str) -> Sequence[Notification]: ...
    def send_dps(self, dev_id: str, dps: Mapping[str, Any], *, account: str) -> None: ...

    # Lab controls, each behind a capability (CapabilityMissing when absent).
    def create_product(self, name: str, category: str, binding_mode: BindingMode) -> Product: ...
    def issue_licence(self, pid: str) -> Licence: ...
    def revoke_licence(self, uuid: str) -> None: ...
    def device_by_uuid(self, uuid: str) -> DeviceRecord | None: ...
    def release_device(self, uuid: str) -> DeviceRecord | None:
        """Between tests: the owner of the home the device holding licence ``uuid`` is bound to removes it, with
        a data wipe. The record as it was, or None when it was bound nowhere; CapabilityMissing when the cloud
        offers no way to find the device's owner."""
        ...
    def advance_time(self, seconds: float) -> None: ...

    def info(self) -> Mapping[str, Any]: ...
    def close(self) -> None: ...


@runtime_checkable
class DeviceAdapter(Protocol):
    """The device under test, emulated or real."""

    name: str
    capabilities: frozenset[str]
    licence: Licence
    pid: str

    def factory_reset(self) -> None: ...
    def reset(self) -> None: ...
    def power_cycle(self) -> None: ...
    def wait_pairing_mode(self, timeout: float) -> None: ...
    def present_qr(self, image: Image.Image) -> None: ...
    def ap_address(self) -> ApAddress | None: ...
    def events(self) -> Sequence[DeviceEvent]: ...
    def is_alive(self) -> bool: ...
    def info(self) -> Mapping[str, Any]: ...
    def close(self) -> None: ...


@runtime_checkable
class NetworkAdapter(Protocol):
    """The Wi-Fi air: access points, EZ datagrams, AP frames.

    An adapter may declare ``capabilities`` (:class:`NetworkCapability` values): the in-memory air creates
    networks and carries EZ only for the emulated devices on it, not for a real camera; tests that need what
    the network cannot do are N/A or INCONCLUSIVE with the reason (see :func:`network_can`).
    """

    name: str

    def add_access_point(self, ssid: bytes, password: bytes) -> None: ...
    def remove_access_point(self, ssid: bytes) -> None: ...
    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None: ...
    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None: ...
    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]: ...
    def info(self) -> Mapping[str, Any]: ...
    def close(self) -> None: ...


# ---- BLE (PROTOCOL.md §9.12) -------------------------------------------------------------------------------
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


def ble_central(network: NetworkAdapter) -> BleCentral:
    """The network's BLE central; :class:`CapabilityMissing` (N/A) when it has none or none usable here."""
    central = getattr(network, "ble", None)
    if central is None:
        raise CapabilityMissing(network.name, "ble")
    reason = central.unavailable_reason()
    if reason is not None:
        raise BleUnavailable(network.name, reason)
    assert isinstance(central, BleCentral)
    return central


# ---- end of BLE ---------------------------------------------------------------------------------------------


def require(adapter: CloudAdapter | DeviceAdapter, capability: str) -> None:
    """Raise :class:`CapabilityMissing` unless ``adapter`` offers ``capability``."""
    if capability not in adapter.capabilities:
        raise CapabilityMissing(adapter.name, capability)


__all__ = [
    "AdapterError",
    "ApAddress",
    "BindRefused",
    "BleAdvertisement",
    "BleCentral",
    "BleLink",
    "BleLinkLost",
    "BleUnavailable",
    "CapabilityMissing",
    "CloudAdapter",
    "CloudCapability",
    "DeviceAdapter",
    "DeviceCapability",
    "DeviceEvent",
    "DeviceRecord",
    "Licence",
    "NetworkAdapter",
    "NetworkCapability",
    "Notification",
    "Product",
    "ble_central",
    "network_can",
    "require",
]
