"""The network adapter for a real interface: EZ datagrams and AP frames on a lab network.

:class:`ScapyNetworkAdapter` implements :class:`harness.adapters.contracts.NetworkAdapter` on an interface with
:class:`harness.net.send.InterfaceSender` (EZ per §2.5 and AP frames per §3 from sockets bound to the interface,
every datagram recorded as a :class:`~harness.net.send.WireRecord` in ``sent``); what the network refuses is an
:class:`~harness.adapters.contracts.AdapterError` (lab trouble, never the device's fault).

Access points: this adapter makes no Wi-Fi network (the ``hooks`` and ``hostapd`` network adapters do, and use
this one for their traffic). ``add_access_point`` records the credentials the lab's access point is *assumed* to
have (``access_points()`` and ``info()`` list the SSIDs, never a password) and passes them to a bridged air if there
is one (an emulated camera's, see :func:`scapy_network`); making the lab's AP match is the lab's job.

Root (or ``CAP_NET_RAW``) is needed for ``SO_BINDTODEVICE`` and for sniffing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.adapters.contracts import (
    AccessPoint,
    AdapterError,
    AirNetwork,
    ApAddress,
    NetworkAdapter,
    Security,
    WireNetwork,
)
from harness.net.send import RECORD_LIMIT, InterfaceSender, NetError, WireRecord, interface_ipv4
from harness.protocol import smartconfig


@contextlib.contextmanager
def _adapter_errors() -> Iterator[None]:
    try:
        yield
    except NetError as exc:
        raise AdapterError(str(exc)) from exc


class ScapyNetworkAdapter(InterfaceSender):
    """The air of a lab network, on ``interface`` (see the module docstring)."""

    name = "scapy"

    def __init__(self, interface: str, *, preamble_rounds: int = smartconfig.PREAMBLE_ROUNDS,
                 data_rounds: int = smartconfig.DATA_ROUNDS, gap_s: float = smartconfig.DATAGRAM_GAP_S,
                 attempts: int = 1, pause_s: float = 3.0, air: Any = None,
                 record_limit: int = RECORD_LIMIT) -> None:
        with _adapter_errors():
            super().__init__(interface, preamble_rounds=preamble_rounds, data_rounds=data_rounds, gap_s=gap_s,
                             attempts=attempts, pause_s=pause_s, record_limit=record_limit)
        #: an emulated camera's air that a sniffer feeds, which also learns the access points
        self.air = air
        self.sniffer: Any = None
        self._access_points: dict[bytes, Security] = {}
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> frozenset[str]:
        """EZ goes out on the interface; networks exist only on a bridged emulated camera's air."""
        from harness.adapters.contracts import NetworkCapability

        caps = {NetworkCapability.SEND_EZ.value}
        if self.air is not None:
            caps.add(NetworkCapability.CREATE_NETWORKS.value)
        return frozenset(caps)

    # -- access points -------------------------------------------------------------------------------------

    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        """Record the credentials the lab's access point is assumed to have (it cannot be created from here)."""
        chosen = Security(security) if security is not None else (Security.WPA2_PSK if password else Security.OPEN)
        with self._lock:
            self._access_points[ssid] = chosen
        if self.air is not None:
            self.air.add_access_point(ssid, password)

    def remove_access_point(self, ssid: bytes) -> None:
        with self._lock:
            self._access_points.pop(ssid, None)
        if self.air is not None:
            self.air.remove_access_point(ssid)

    def access_points(self) -> list[AccessPoint]:
        """The networks recorded (assumed to exist on the lab's access point, or made on a bridged air)."""
        with self._lock:
            return [AccessPoint(ssid, security) for ssid, security in self._access_points.items()]

    # -- EZ and AP (the contract's) ------------------------------------------------------------------------

    def ez_schedule(self, ssid: bytes, password: bytes, token: bytes, *,
                    channels: Sequence[str] = ("broadcast", "multicast"),
                    tail: str = "padded") -> list[smartconfig.Observation]:
        """One attempt's datagrams, in order (§2.5), with this adapter's rounds."""
        with _adapter_errors():
            return super().ez_schedule(ssid, password, token, channels=channels, tail=tail)

    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None:
        """Send ``attempts`` attempts of the §2.5 schedule, ``gap_s`` apart, ``pause_s`` between attempts."""
        with _adapter_errors():
            super().send_ez(ssid, password, token, channels=channels, tail=tail)

    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        """One §3.1 datagram to the device's UDP config port."""
        if address.udp_port is None:
            raise AdapterError("the device's AP offers no legacy UDP config port")
        with _adapter_errors():
            self.send_ap_udp(address.host, address.udp_port, frame)

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        """Send §3.2 frames over one TCP connection and collect as many replies (bounded by ``timeout``)."""
        if address.tcp_port is None:
            raise AdapterError("the device's AP offers no LPV3.5 TCP config port")
        with _adapter_errors():
            return self.send_ap_tcp(address.host, address.tcp_port, frames, timeout=timeout)

    # -- evidence and lifecycle ------------------------------------------------------------------------------

    def info(self) -> Mapping[str, Any]:
        details: dict[str, Any] = {
            "adapter": "scapy", "interface": self.interface, "source_ip": self.source_ip,
            "ez": {"preamble_rounds": self.preamble_rounds, "data_rounds": self.data_rounds, "gap_s": self.gap_s,
                   "attempts": self.attempts, "pause_s": self.pause_s},
            "access_points_assumed": [ap.ssid_text for ap in self.access_points()],
            "records": len(self.sent),
        }
        if self.sniffer is not None:
            details["sniffer"] = self.sniffer.info()
        return details

    def close(self) -> None:
        super().close()
        sniffer, self.sniffer = self.sniffer, None
        if sniffer is not None:
            sniffer.stop()


def scapy_network(context: Any, *, interface: str, sniff: bool | None = None, **args: Any) -> ScapyNetworkAdapter:
    """The ``scapy`` network adapter for a profile: ``[adapters.network] name = "scapy"``, ``interface = ...``.

    ``args`` are :class:`ScapyNetworkAdapter`'s settings (``preamble_rounds``, ``data_rounds``, ``gap_s``,
    ``attempts``, ``pause_s``). With an emulated device (``sniff`` defaults to whether the profile's device
    adapter is ``emulated``), the world also gets an air for the camera, fed by an :class:`EzSniffer` on the
    interface that keeps this host's own datagrams: the camera hears what the app side sends on the lab
    network.
    """
    adapter = ScapyNetworkAdapter(interface, **args)
    if sniff is None:
        sniff = getattr(context.profile.adapters.device, "name", None) == "emulated"
    if sniff:
        # Glue for the registry, as harness.adapters.factories is: the classes above know no emulator.
        from harness.emulator.air import Air
        from harness.net.sniff import EzSniffer

        air = Air(seed=context.seed, clock=context.clock)
        context.shared["air"] = air
        adapter.air = air
        try:
            adapter.sniffer = EzSniffer(interface, air, keep_outgoing=True).start()
        except OSError as exc:
            raise AdapterError(f"cannot sniff EZ datagrams on {interface!r}: {exc}") from exc
    return adapter


# The arguments the profile may give (the preflight checks them): the factory passes them on with **args.
scapy_network.accepted_args = ("interface", "sniff", "preamble_rounds", "data_rounds", "gap_s",  # type: ignore[attr-defined]
                               "attempts", "pause_s", "record_limit")

if TYPE_CHECKING:  # mypy checks that the adapter meets its contracts
    def _meets_contracts(network: ScapyNetworkAdapter) -> tuple[NetworkAdapter, AirNetwork, WireNetwork]:
        return network, network, network


__all__ = ["ScapyNetworkAdapter", "WireRecord", "interface_ipv4", "scapy_network"]  # the last two: net.send's
