"""What the network adapters that make real Wi-Fi networks share (``hooks``, ``hostapd``).

A :class:`LabWifiAdapter` makes and removes access points through its subclass (:meth:`~LabWifiAdapter._make`,
:meth:`~LabWifiAdapter._unmake`), within the networks it declares (its
:class:`~harness.adapters.contracts.AccessPointCapability`, from the profile's arguments), waits the declared
settle time after each change, remembers what is up (``access_points()``, never a password) and removes what it
made when it closes. The app side's traffic goes where the lab machine reaches the device: with an ``interface``,
through a :class:`~harness.adapters.scapy.ScapyNetworkAdapter` on it (EZ datagrams too, PROTOCOL.md §2); without
one, AP frames (§3) over plain sockets and no EZ (``send-ez`` is not offered).

Every password is taught to the process's redactors (:func:`harness.redaction.learn`) before anything runs.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from harness import evidence, redaction
from harness.adapters.contracts import (
    AccessPoint,
    AccessPointCapability,
    AdapterError,
    ApAddress,
    CannotMakeNetwork,
    CapabilityMissing,
    NetworkCapability,
    Security,
)
from harness.protocol import apconfig
from harness.protocol.errors import ProtocolError

log = logging.getLogger(__name__)

#: The profile arguments that declare which networks a lab makes (see :func:`capability_from_args`).
CAPABILITY_ARGS = ("ssid_min_bytes", "ssid_max_bytes", "non_ascii", "non_utf8", "securities", "password_non_ascii",
                   "wpa_passphrases_only", "settle_s", "max_networks")


def _count_arg(name: str, value: Any) -> int | None:
    """A count argument: SSID bytes in 1..32, or max_networks in 1..64 (None: any number)."""
    if value is None and name == "max_networks":
        return None
    top = 32 if "ssid" in name else 64
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise AdapterError(f"{name} must be an int in 1..{top}, got {value!r}")
    return value


def capability_from_args(defaults: AccessPointCapability, **args: Any) -> AccessPointCapability:
    """An :class:`AccessPointCapability` from a profile's arguments over ``defaults``; AdapterError naming a bad
    argument."""
    values: dict[str, Any] = {name: _count_arg(name, args.get(name, getattr(defaults, name)))
                              for name in ("ssid_min_bytes", "ssid_max_bytes", "max_networks")}
    if values["ssid_min_bytes"] > values["ssid_max_bytes"]:
        raise AdapterError("ssid_min_bytes is more than ssid_max_bytes")
    for name in ("non_ascii", "non_utf8", "password_non_ascii", "wpa_passphrases_only"):
        value = args.get(name, getattr(defaults, name))
        if not isinstance(value, bool):
            raise AdapterError(f"{name} must be true or false, got {value!r}")
        values[name] = value
    settle = args.get("settle_s", defaults.settle_s)
    if isinstance(settle, bool) or not isinstance(settle, int | float) or not 0 <= settle <= 600:
        raise AdapterError(f"settle_s must be a number of seconds in 0..600, got {settle!r}")
    raw = args.get("securities", sorted(s.value for s in defaults.securities))
    try:
        securities = frozenset(Security(s) for s in raw) if isinstance(raw, list | tuple) else None
    except ValueError:
        securities = None
    if not securities:
        raise AdapterError(f"securities must be a non-empty list of {', '.join(s.value for s in Security)}, "
                           f"got {raw!r}")
    return AccessPointCapability(securities=securities, settle_s=float(settle), **values)


def send_ap_legacy_plain(address: ApAddress, frame: bytes) -> None:
    """One §3.1 datagram to the device's UDP config port, over a plain socket (the route picks the interface)."""
    if address.udp_port is None:
        raise AdapterError("the device's AP offers no legacy UDP config port")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (address.host, address.udp_port))
    except OSError as exc:
        raise AdapterError(f"could not send to the device's AP at {address.host}:{address.udp_port}: {exc}") from exc


def send_ap_lpv35_plain(address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
    """Send LPV3.5 frames over TCP (plain: Python's ssl has no TLS-PSK, §3.2) and collect as many replies."""
    if address.tcp_port is None:
        raise AdapterError("the device's AP offers no LPV3.5 TCP config port")
    replies: list[bytes] = []
    buffer = apconfig.Lpv35FrameBuffer(key=apconfig.LPV35_APP_KEY)
    try:
        with socket.create_connection((address.host, address.tcp_port), timeout=timeout) as sock:
            for frame in frames:
                sock.sendall(frame)
            sock.settimeout(timeout)
            while len(replies) < len(frames):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                buffer.receive_data(chunk)
                while (reply := buffer.next_frame()) is not None:
                    replies.append(apconfig.encode_lpv35_frame(reply.type, reply.data, seq=reply.seq,
                                                               key=apconfig.LPV35_APP_KEY, nonce=reply.nonce))
    except (TimeoutError, ProtocolError):
        pass  # too few (or malformed) replies: what the device did is judged by the suites, not here
    except OSError as exc:
        raise AdapterError(f"could not reach the device's AP at {address.host}:{address.tcp_port}: {exc}") from exc
    return replies


class LabWifiAdapter:
    """A network adapter that makes real access points (see the module docstring); subclasses make them."""

    name = "lab-wifi"
    #: whether making a network replaces the one up (one access point, reconfigured) instead of adding one more
    replaces_in_place = False

    def __init__(self, capability: AccessPointCapability, *, interface: str | None = None,
                 traffic: Any = None) -> None:
        self.access_point_capability = capability
        self.interface = interface
        #: the app side's traffic on the lab interface (a ScapyNetworkAdapter), or None: plain sockets, no EZ
        self.traffic = traffic
        self._up: dict[bytes, Security] = {}
        self._order: list[bytes] = []
        self._lock = threading.RLock()
        self._closed = threading.Event()

    @property
    def capabilities(self) -> frozenset[str]:
        caps = {NetworkCapability.CREATE_NETWORKS.value}
        if self.traffic is not None:
            caps.add(NetworkCapability.SEND_EZ.value)
        return frozenset(caps)

    @property
    def capability_note(self) -> str:
        return "" if self.traffic is not None else "no lab interface given: it sends no EZ datagrams"

    # -- what subclasses do --------------------------------------------------------------------------------

    def _make(self, ssid: bytes, password: bytes, security: Security) -> None:
        raise NotImplementedError

    def _unmake(self, ssid: bytes) -> None:
        raise NotImplementedError

    # -- the contract ----------------------------------------------------------------------------------------

    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        """Make the network (replacing one of the same SSID, and the oldest beyond ``max_networks``), then wait the
        declared settle time; CannotMakeNetwork for one outside the declared capability."""
        capability = self.access_point_capability
        chosen = Security(security) if security is not None else capability.security_for(password)
        if chosen is None:
            raise CannotMakeNetwork(self.name, f"{'an open' if not password else 'a secured'} network")
        problem = capability.problem(ssid, password, chosen)
        if problem is not None:
            raise CannotMakeNetwork(self.name, problem)
        if password:
            redaction.learn(password.decode("utf-8", "surrogateescape"))
        with self._lock:
            if self._closed.is_set():
                raise AdapterError(f"the {self.name} network adapter is closed")
            limit = capability.max_networks
            while limit is not None and len(self._order) >= limit and ssid not in self._up:
                if self.replaces_in_place:  # the next _make replaces it: only forget that it was up
                    old = self._order.pop(0)
                    self._up.pop(old, None)
                    self._note("access point replaced", old)
                else:
                    self._forget(self._order[0])
            self._make(ssid, password, chosen)
            self._up[ssid] = chosen
            if ssid in self._order:
                self._order.remove(ssid)
            self._order.append(ssid)
        self._note("access point up", ssid, security=chosen.value)
        if capability.settle_s > 0:
            self._closed.wait(capability.settle_s)  # the lab's declared settle time, bounded, ended by close()

    def remove_access_point(self, ssid: bytes) -> None:
        with self._lock:
            if ssid not in self._up:
                return
            self._forget(ssid)

    def _forget(self, ssid: bytes) -> None:
        self._unmake(ssid)
        self._up.pop(ssid, None)
        if ssid in self._order:
            self._order.remove(ssid)
        self._note("access point removed", ssid)

    def access_points(self) -> list[AccessPoint]:
        with self._lock:
            return [AccessPoint(ssid, self._up[ssid]) for ssid in self._order]

    def _note(self, what: str, ssid: bytes, **details: Any) -> None:
        recorder = evidence.current()
        text = ssid.decode("utf-8", "backslashreplace")
        log.info("%s: %s (%s)", what, text, self.name)
        if recorder is not None:
            recorder.record("network", what, {"adapter": self.name, "ssid": text, "ssid_hex": ssid.hex(), **details})

    # -- the app side's traffic --------------------------------------------------------------------------------

    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None:
        if self.traffic is None:
            raise CapabilityMissing(self.name, f"{NetworkCapability.SEND_EZ.value} (no lab interface given)")
        self.traffic.send_ez(ssid, password, token, channels=channels, tail=tail)

    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        if self.traffic is not None:
            self.traffic.send_ap_legacy(address, frame)
        else:
            send_ap_legacy_plain(address, frame)

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        if self.traffic is not None:
            replies: list[bytes] = self.traffic.send_ap_lpv35(address, frames, timeout=timeout)
            return replies
        return send_ap_lpv35_plain(address, frames, timeout=timeout)

    def info(self) -> Mapping[str, Any]:
        return {"adapter": self.name, "interface": self.interface,
                "access_points": [{"ssid": ap.ssid_text, "ssid_hex": ap.ssid.hex(), "security": ap.security.value}
                                  for ap in self.access_points()],
                "makes": self.access_point_capability.describe()}

    def close(self) -> None:
        """Remove every network still up (a failure is logged: the run is over), then stop the traffic."""
        self._closed.set()
        with self._lock:
            for ssid in list(self._order):
                try:
                    self._forget(ssid)
                except Exception as exc:  # closing: remove what can be removed, say what could not
                    log.warning("could not remove the network %r at close: %s", ssid, exc)
                    self._up.pop(ssid, None)
                    self._order.remove(ssid)
        if self.traffic is not None:
            self.traffic.close()


def lab_traffic(interface: str | None) -> Any:
    """The app side's traffic on ``interface`` (a ScapyNetworkAdapter), or None without one."""
    if interface is None:
        return None
    from harness.adapters.scapy import ScapyNetworkAdapter

    return ScapyNetworkAdapter(interface)


__all__ = ["CAPABILITY_ARGS", "LabWifiAdapter", "capability_from_args", "lab_traffic", "send_ap_legacy_plain",
           "send_ap_lpv35_plain"]
