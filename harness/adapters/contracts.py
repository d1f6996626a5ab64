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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PIL import Image

from harness.clock import Clock
from harness.errors import HarnessError
from harness.model import AttemptSummary, BindingMode, Role
from harness.model.licence import Licence  # re-exported: a value of the model the contracts carry

if TYPE_CHECKING:
    from harness.profiles import Profile


class AdapterError(Exception):
    """The adapter, the lab or the harness failed: an ERROR verdict, never the device's FAIL."""


class DeviceDidNotAct(Exception):
    """The device under test did not do what it was asked within the time it is given (take a QR code held in
    front of it, return to pairing mode after a reset): the device's failure (FAIL), never the harness's or the
    lab's (ERROR). ``action`` says what it did not do, ``timeout_s`` how long it had, ``observed`` what it did
    instead (its state, its last event)."""

    def __init__(self, action: str, timeout_s: float, observed: str = "") -> None:
        self.action = action
        self.timeout_s = timeout_s
        self.observed = observed
        super().__init__(f"the device did not {action} within {timeout_s:g} s"
                         + (f" ({observed})" if observed else ""))


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
    RAW_ATOP = "raw-atop"  # send a hand-built request to the device-facing ATOP endpoint (§4), e.g. to fuzz it
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


@runtime_checkable
class ReleasesDevices(Protocol):
    """A cloud adapter with :meth:`CloudAdapter.release_device` (one written before that method may lack it)."""

    def release_device(self, uuid: str) -> DeviceRecord | None: ...


@runtime_checkable
class WithCapabilities(Protocol):
    """An adapter that declares what it can do (every cloud and device adapter; a network adapter may)."""

    @property
    def capabilities(self) -> frozenset[str]: ...


@runtime_checkable
class WithCapabilityNote(Protocol):
    """An adapter that says, in a phrase, what limits its capabilities (the in-memory air: emulated devices only)."""

    @property
    def capability_note(self) -> str: ...


def network_can(network: NetworkAdapter, capability: str) -> bool:
    """Whether ``network`` offers ``capability``; a network adapter that declares no ``capabilities`` (one written
    before they existed) is taken to offer them all."""
    return not isinstance(network, WithCapabilities) or capability in network.capabilities


# ---- making Wi-Fi networks ----------------------------------------------------------------------------------
# A network adapter that offers CREATE_NETWORKS says which networks it can make in ``access_point_capability``
# (an :class:`AccessPointCapability`); a test that needs another is INCONCLUSIVE with the reason
# (:func:`cannot_make`), never FAIL, and the fuzz strategies draw only from what it can make.


class Security(enum.StrEnum):
    """How an access point the lab makes is secured."""

    OPEN = "open"
    WPA2_PSK = "wpa2-psk"
    WPA3_SAE = "wpa3-sae"


@dataclass(frozen=True)
class AccessPoint:
    """A network the lab made: its SSID (bytes, as on the air) and security; never its password."""

    ssid: bytes
    security: Security = Security.WPA2_PSK

    @property
    def ssid_text(self) -> str:
        return self.ssid.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class AccessPointCapability:
    """Which networks a lab can make (a network adapter's ``access_point_capability``).

    SSIDs of ``ssid_min_bytes``..``ssid_max_bytes`` bytes; with non-ASCII (UTF-8) characters where ``non_ascii``;
    bytes that are no UTF-8 at all where ``non_utf8``; the ``securities`` it sets up; passwords with non-ASCII
    characters where ``password_non_ascii``, and only WPA passphrases (8..63 bytes or 64 hex digits) for WPA2-PSK
    where ``wpa_passphrases_only`` (a real access point refuses others). ``settle_s``: how long after a change the
    network is there for a device to see. ``max_networks``: how many at once (None: any; adding one more replaces
    the oldest).
    """

    ssid_min_bytes: int = 1
    ssid_max_bytes: int = 32
    non_ascii: bool = True
    non_utf8: bool = True
    securities: frozenset[Security] = frozenset(Security)
    password_non_ascii: bool = True
    wpa_passphrases_only: bool = False
    settle_s: float = 0.0
    max_networks: int | None = None

    def security_for(self, password: bytes) -> Security | None:
        """The security a network with ``password`` gets here: open for none, else WPA2-PSK (WPA3-SAE where only
        that is made); None when the lab makes neither."""
        if not password:
            return Security.OPEN if Security.OPEN in self.securities else None
        for security in (Security.WPA2_PSK, Security.WPA3_SAE):
            if security in self.securities:
                return security
        return None

    def describe(self) -> dict[str, Any]:
        return {"ssid_bytes": [self.ssid_min_bytes, self.ssid_max_bytes], "non_ascii": self.non_ascii,
                "non_utf8": self.non_utf8, "securities": sorted(s.value for s in self.securities),
                "password_non_ascii": self.password_non_ascii, "wpa_passphrases_only": self.wpa_passphrases_only,
                "settle_s": self.settle_s, "max_networks": self.max_networks}

    def problem(self, ssid: bytes, password: bytes, security: Security) -> str | None:
        """What of this network the lab cannot make, as "an SSID of 33 bytes (...)"; None when it can."""
        size = len(ssid)
        shown = ssid.decode("utf-8", "backslashreplace")
        if not self.ssid_min_bytes <= size <= self.ssid_max_bytes:
            return (f"an SSID of {size} bytes ({shown!r}): it makes SSIDs of {self.ssid_min_bytes} to "
                    f"{self.ssid_max_bytes} bytes")
        try:
            text = ssid.decode("utf-8")
        except UnicodeDecodeError:
            if not self.non_utf8:
                return f"an SSID of {size} bytes that are not UTF-8 ({shown!r}): it makes UTF-8 SSIDs only"
            text = ""
        if not self.non_ascii and not text.isascii():
            return (f"an SSID of {size} UTF-8 bytes with non-ASCII characters ({shown!r}): it makes ASCII SSIDs "
                    f"only")
        if security not in self.securities:
            made = ", ".join(sorted(s.value for s in self.securities)) or "none"
            return f"{'an' if security is Security.OPEN else 'a'} {security.value} network: it makes {made} networks"
        if security is Security.OPEN:
            return None if not password else "an open network with a password"
        if not password:
            return f"a {security.value} network without a password"
        if not self.password_non_ascii and not password.isascii():
            return "a network whose password has non-ASCII characters: it takes ASCII passwords only"
        if self.wpa_passphrases_only and security is Security.WPA2_PSK and not _wpa_passphrase(password):
            return (f"a WPA2-PSK network with a password of {len(password)} bytes: a WPA passphrase is 8 to 63 "
                    f"bytes or 64 hex digits")
        return None


def _wpa_passphrase(password: bytes) -> bool:
    if len(password) == 64:
        return all(c in b"0123456789abcdefABCDEF" for c in password)
    return 8 <= len(password) <= 63


class CannotMakeNetwork(AdapterError):
    """The lab cannot make the network asked for (a limit the adapter found beyond its declared capability):
    the test is INCONCLUSIVE with ``reason``, never FAIL."""

    def __init__(self, adapter: str, what: str, *, declared: bool = False) -> None:
        self.adapter = adapter
        self.what = what
        whose = f"the {adapter} network adapter's declared capability" if declared else f"the {adapter} network adapter"
        super().__init__(f"the lab cannot create {what} ({whose})")


#: What the in-memory air and other adapters that declare no limits can make: every network.
ANY_NETWORK = AccessPointCapability()


def access_point_capability(network: NetworkAdapter) -> AccessPointCapability | None:
    """Which networks ``network`` can make; None when it makes none (no CREATE_NETWORKS)."""
    if not network_can(network, NetworkCapability.CREATE_NETWORKS):
        return None
    declared = getattr(network, "access_point_capability", None)
    return declared if isinstance(declared, AccessPointCapability) else ANY_NETWORK


def _cannot(network: NetworkAdapter, ssid: bytes, password: bytes,
            security: Security | str | None) -> tuple[CannotMakeNetwork | None, Security | None]:
    capability = access_point_capability(network)
    if capability is None:
        missing = CannotMakeNetwork(network.name, "networks")
        missing.args = (f"the lab cannot create networks: the {network.name} network adapter cannot create networks "
                        f"(the device knows only the lab's)",)
        return missing, None
    wanted = Security(security) if security is not None else capability.security_for(password)
    if wanted is None:
        made = ", ".join(sorted(s.value for s in capability.securities)) or "no"
        return CannotMakeNetwork(network.name, f"{'an open' if not password else 'a secured'} network: it makes "
                                               f"{made} networks", declared=True), None
    what = capability.problem(ssid, password, wanted)
    return (None if what is None else CannotMakeNetwork(network.name, what, declared=True)), wanted


def cannot_make(network: NetworkAdapter, ssid: bytes, password: bytes,
                security: Security | str | None = None) -> str | None:
    """Why the lab cannot make this network, as an INCONCLUSIVE reason ("the lab cannot create an SSID of 33
    bytes ..."); None when it can."""
    problem, _ = _cannot(network, ssid, password, security)
    return None if problem is None else str(problem)


def make_access_point(network: NetworkAdapter, ssid: bytes, password: bytes,
                      security: Security | str | None = None) -> Security:
    """Add the access point through ``network`` with the security its capability gives it, after checking that
    the lab can make it (:class:`CannotMakeNetwork` otherwise); an adapter written before security existed is
    called the old way for open and WPA2 networks."""
    problem, chosen = _cannot(network, ssid, password, security)
    if problem is not None:
        raise problem
    if chosen is None:
        raise HarnessError("broken invariant: chosen is not None")
    try:
        network.add_access_point(ssid, password, security=chosen)
    except TypeError as exc:  # an adapter without the security argument
        if "security" not in str(exc) or chosen is Security.WPA3_SAE:
            raise
        network.add_access_point(ssid, password)
    return chosen


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
    # The MQTT envelope version (§5: "2.1", "2.2", "2.3") of the device's last DP report the cloud read; None when
    # the cloud does not say (the lab cloud does, a vendor's cloud usually does not).
    report_pv: str | None = None


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
class RawReply:
    """What an endpoint answered a hand-built request: the HTTP status and the body, unread."""

    status: int
    body: bytes = field(repr=False)


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

    @property
    def region(self) -> str: ...

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
    def send_atop(self, query: str, body: bytes, *, method: str = "POST") -> RawReply: ...

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
    def wait_pairing_mode(self, timeout: float) -> None:
        """Return once the device is in pairing mode; :class:`DeviceDidNotAct` when it is not within ``timeout``
        s (the device's failure), :class:`AdapterError` when the lab could not tell (a hook broke)."""
        ...
    def present_qr(self, image: Image.Image) -> None:
        """Hold ``image`` in front of the device; :class:`DeviceDidNotAct` when it did not take the code (capture
        or refuse it) within the adapter's scan time."""
        ...
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
    the network cannot do are N/A or INCONCLUSIVE with the reason (see :func:`network_can`). One that creates
    networks says which in ``access_point_capability`` (:class:`AccessPointCapability`; absent: any).
    """

    name: str

    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        """Make (or replace) the network ``ssid`` (bytes, any value an SSID holds), secured as ``security``
        (default: open without a password, else WPA2-PSK), ready for a device once it returns."""
        ...
    def remove_access_point(self, ssid: bytes) -> None: ...
    def access_points(self) -> Sequence[AccessPoint]:
        """The networks this adapter made that are up now (never a password)."""
        ...
    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None: ...
    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None: ...
    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]: ...
    def info(self) -> Mapping[str, Any]: ...
    def close(self) -> None: ...


class SoftAp(Protocol):
    """Where a device's SoftAP config sockets listen, as an in-memory air publishes them while they are open."""

    @property
    def udp_port(self) -> int | None: ...
    @property
    def tcp_port(self) -> int | None: ...


class LabAir(Protocol):
    """An in-memory air (DESIGN.md "Air"; :class:`harness.emulator.air.Air` is one): the lab may put raw EZ
    lengths and multicast addresses on it, make it lossy, duplicating, reordering or noisy, and read its log for
    evidence."""

    loss: float
    duplicate: float
    reorder: float
    noise: float

    @property
    def seq(self) -> int: ...
    @property
    def device_aps(self) -> Sequence[SoftAp]: ...
    def send_length(self, n: int) -> None: ...
    def send_address(self, ip: str) -> None: ...
    def flush(self) -> None: ...
    def log_since(self, seq: int) -> Sequence[object]: ...


@runtime_checkable
class AirNetwork(Protocol):
    """A network adapter with an in-memory air behind it (``air``; ``scapy`` bridged to an emulated camera)."""

    @property
    def air(self) -> LabAir | None: ...


class WireRecordLike(Protocol):
    """One datagram or TCP payload a network adapter recorded (:class:`harness.net.send.WireRecord` is one)."""

    @property
    def t(self) -> float: ...


@runtime_checkable
class WireNetwork(Protocol):
    """A network adapter that records what it sent and received on an interface (``scapy``)."""

    @property
    def interface(self) -> str: ...
    @property
    def sent(self) -> Sequence[WireRecordLike]: ...


@runtime_checkable
class World(Protocol):
    """The adapters one run uses, on one clock, for one profile (DESIGN.md "Adapters"): all that the plugin, the
    lab, the probes and the report may ask of a world. :func:`harness.adapters.registry.build_world` builds one from
    a profile; a ``pytest_paircert_make_world`` hook may return any other."""

    @property
    def profile(self) -> Profile: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def cloud(self) -> CloudAdapter: ...
    @property
    def device(self) -> DeviceAdapter: ...
    @property
    def network(self) -> NetworkAdapter: ...
    def new_device(self) -> DeviceAdapter:
        """Another device of the same shape (AdapterError where the world cannot make one)."""
        ...
    def secrets(self) -> Sequence[str]:
        """Every secret the world holds that no report, log or evidence may show (its devices' AuthKeys, ...)."""
        ...
    def info(self) -> Mapping[str, Any]:
        """What the run was tested with, for the report (never a secret)."""
        ...
    def close(self) -> None: ...


def require(adapter: CloudAdapter | DeviceAdapter, capability: str) -> None:
    """Raise :class:`CapabilityMissing` unless ``adapter`` offers ``capability``."""
    if capability not in adapter.capabilities:
        raise CapabilityMissing(adapter.name, capability)


__all__ = [
    "ANY_NETWORK",
    "AccessPoint",
    "AccessPointCapability",
    "AdapterError",
    "AirNetwork",
    "ApAddress",
    "BindRefused",
    "CannotMakeNetwork",
    "CapabilityMissing",
    "CloudAdapter",
    "CloudCapability",
    "DeviceAdapter",
    "DeviceCapability",
    "DeviceDidNotAct",
    "DeviceEvent",
    "DeviceRecord",
    "LabAir",
    "Licence",
    "NetworkAdapter",
    "NetworkCapability",
    "Notification",
    "Product",
    "RawReply",
    "ReleasesDevices",
    "Security",
    "SoftAp",
    "WireNetwork",
    "WireRecordLike",
    "WithCapabilities",
    "WithCapabilityNote",
    "World",
    "access_point_capability",
    "cannot_make",
    "make_access_point",
    "network_can",
    "require",
]
