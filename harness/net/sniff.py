"""Sniffing an interface: EZ datagrams into a SmartConfig receiver or an air, and bounded packet taps.

:class:`EzSniffer` is the device side of the real-network path (PROTOCOL.md §2): a device in monitor mode
reads the EZ datagrams' lengths and multicast addresses without joining the network; here a scapy
``AsyncSniffer`` on an interface does the same at the IP level and turns each datagram into an
:class:`~harness.protocol.smartconfig.Observation`:

- UDP to port 30011 (§2.3): a ``length`` observation, the UDP payload length;
- UDP to a multicast address, port 30012 (§2.4): an ``address`` observation, the destination address.

Each observation goes to a *sink*: an emulated camera's air (anything with ``send(observation)``, e.g.
:class:`harness.emulator.air.Air`, whose listeners are the cameras), a
:class:`~harness.protocol.smartconfig.SmartConfigReceiver` (anything with ``feed``), or a plain callable. That
is the bridge that lets the emulated camera pair on a lab network: the camera listens on its air as ever, and
the sniffer puts the real datagrams on it.

Filtering: the kernel filter ``udp and (dst port 30011 or dst port 30012)`` is attached when scapy can
compile it (it needs ``tcpdump`` or libpcap on the machine); otherwise the same test runs in Python on every
packet (``filter_mode`` says which). Both give the same observations; the kernel filter only costs less on a
busy interface.

Direction: a packet socket sees a host's own outgoing packets as well. An app side and a camera on one
machine share the interface, so :class:`EzSniffer` keeps outgoing packets by default; on ``lo`` every packet
is seen twice (out and in), so :class:`PacketTap` drops outgoing ones there unless told otherwise.

Bounds: every tap keeps at most ``max_packets`` packets and stops by itself after ``max_s`` seconds.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Literal

from scapy.arch.common import compile_filter
from scapy.arch.linux import L2ListenSocket, get_last_packet_timestamp
from scapy.data import MTU
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Packet
from scapy.sendrecv import AsyncSniffer

from harness.protocol import smartconfig
from harness.protocol.errors import ProtocolError

EZ_BPF = f"udp and (dst port {smartconfig.BROADCAST_PORT} or dst port {smartconfig.MULTICAST_PORT})"

FilterMode = Literal["kernel", "python"]

#: a tap that nobody stops ends by itself after this long (seconds)
DEFAULT_MAX_S = 900.0
DEFAULT_MAX_PACKETS = 200_000
DRAIN_MAX_PACKETS = 100_000


class _ListenSocket(L2ListenSocket):
    """scapy's listening packet socket, optionally without the host's own outgoing packets."""

    def __init__(self, *args: Any, keep_outgoing: bool = True, **kwargs: Any) -> None:
        self.keep_outgoing = keep_outgoing
        super().__init__(*args, **kwargs)

    def recv_raw(self, x: int = MTU) -> tuple[Any, bytes | None, float | None]:
        data, sa_ll, ts = self._recv_raw(self.ins, x)
        if not self.keep_outgoing and sa_ll[2] == socket.PACKET_OUTGOING:
            return None, None, None
        if ts is None:
            ts = get_last_packet_timestamp(self.ins)
        return self.LL, data, ts


_compilable: dict[tuple[str, str], bool] = {}


def kernel_filter_available(bpf: str, interface: str) -> bool:
    """Whether scapy can compile ``bpf`` for ``interface`` here (it needs tcpdump or libpcap)."""
    key = (bpf, interface)
    if key not in _compilable:
        try:
            compile_filter(bpf, interface)
            _compilable[key] = True
        except Exception:  # scapy raises Scapy_Exception or OSError when no compiler is installed
            _compilable[key] = False
    return _compilable[key]


def port_matcher(*, udp_ports: Iterable[int] = (), tcp_ports: Iterable[int] = (),
                 udp_dports: Iterable[int] = ()) -> Callable[[Packet], bool]:
    """The Python twin of a port filter: UDP/TCP to or from the ports, or UDP to ``udp_dports``."""
    udp_any, tcp_any, udp_to = frozenset(udp_ports), frozenset(tcp_ports), frozenset(udp_dports)

    def matches(packet: Packet) -> bool:
        if UDP in packet:
            udp = packet[UDP]
            return bool(udp.dport in udp_to or udp.dport in udp_any or udp.sport in udp_any)
        if TCP in packet:
            tcp = packet[TCP]
            return bool(tcp.dport in tcp_any or tcp.sport in tcp_any)
        return False

    return matches


def port_bpf(*, udp_ports: Iterable[int] = (), tcp_ports: Iterable[int] = (), udp_dports: Iterable[int] = ()) -> str:
    """The BPF expression :func:`port_matcher` implements."""
    parts = [f"(udp and port {p})" for p in sorted(set(udp_ports))]
    parts += [f"(tcp and port {p})" for p in sorted(set(tcp_ports))]
    parts += [f"(udp and dst port {p})" for p in sorted(set(udp_dports))]
    if not parts:
        raise ValueError("a port filter needs at least one port")
    return " or ".join(parts)


class PacketTap:
    """A bounded AsyncSniffer on one interface: keeps matching packets and hands each to ``on_packet``.

    ``bpf`` is attached in the kernel when it compiles here; ``match`` is its Python twin, used when it does
    not (and always safe to apply twice). ``keep_outgoing=None`` means: drop outgoing packets on ``lo`` (each is
    seen twice there), keep them elsewhere.
    """

    def __init__(self, interface: str, *, bpf: str, match: Callable[[Packet], bool],
                 on_packet: Callable[[Packet], None] | None = None, keep_outgoing: bool | None = None,
                 store: bool = True, max_packets: int = DEFAULT_MAX_PACKETS, max_s: float = DEFAULT_MAX_S) -> None:
        if max_s <= 0 or max_packets <= 0:
            raise ValueError("a tap needs a positive max_s and max_packets")
        self.interface = interface
        self.bpf = bpf
        self._match = match
        self._on_packet = on_packet
        self.keep_outgoing = interface != "lo" if keep_outgoing is None else keep_outgoing
        self.max_s = max_s
        self.filter_mode: FilterMode = "kernel" if kernel_filter_available(bpf, interface) else "python"
        self._store = store
        self.packets: deque[Packet] = deque(maxlen=max_packets)
        self.seen = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._sniffer: Any = None
        self._socket: _ListenSocket | None = None
        self._watchdog: threading.Timer | None = None

    @property
    def running(self) -> bool:
        return self._sniffer is not None and bool(self._sniffer.running)

    def start(self) -> PacketTap:
        """Open the socket (packets are queued from here on) and start the sniffing thread."""
        if self._sniffer is not None:
            return self
        kernel = self.filter_mode == "kernel"
        try:
            self._socket = _ListenSocket(iface=self.interface, filter=self.bpf if kernel else None,
                                         nofilter=not kernel, promisc=False, keep_outgoing=self.keep_outgoing)
        except OSError as exc:
            raise OSError(f"cannot sniff on {self.interface!r}: {exc}") from exc
        self._sniffer = AsyncSniffer(opened_socket=self._socket, store=False, prn=self._handle, lfilter=self._match)
        self._sniffer.start()
        self._watchdog = threading.Timer(self.max_s, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def _expire(self) -> None:
        sniffer = self._sniffer
        if sniffer is not None and sniffer.running:
            self.errors.append(f"stopped after max_s={self.max_s} s")
            try:
                sniffer.stop(join=False)
            except Exception as exc:  # it ended by itself in between
                self.errors.append(f"expire: {exc}")

    def _handle(self, packet: Packet) -> None:
        with self._lock:
            self.seen += 1
            if self._store:
                self.packets.append(packet)
        if self._on_packet is not None:
            try:
                self._on_packet(packet)
            except Exception as exc:  # one bad packet must not end the capture
                if len(self.errors) < 100:
                    self.errors.append(f"{type(exc).__name__}: {exc}")

    def drain(self) -> None:
        """Take in what the kernel has already queued on the socket now, without waiting for anything more (the
        sniffing thread may be behind; a packet is handled by whichever of the two reads it)."""
        sock = self._socket
        if sock is None:
            return
        for _ in range(DRAIN_MAX_PACKETS):  # bounded, even against a flood
            try:
                ready, _, _ = select.select([sock.ins], [], [], 0)
                packet = sock.recv() if ready else None
            except (OSError, ValueError):  # closed meanwhile
                return
            if not ready:
                return
            if packet is not None and self._match(packet):
                self._handle(packet)

    def stop(self) -> list[Packet]:
        """Stop, take in what the kernel had queued, close the socket, return what was kept.

        A packet still on its way through the kernel's receive path (loopback delivers after ``sendto`` returns,
        later still under load) is not waited for: stop once the traffic to keep has been received."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        sniffer = self._sniffer
        if sniffer is not None:
            if sniffer.running:
                try:
                    sniffer.stop(join=True)
                except Exception as exc:  # already stopped by its timeout in between
                    self.errors.append(f"stop: {exc}")
            sniffer.join(timeout=5.0)
            self.drain()
        self._sniffer = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        with self._lock:
            return list(self.packets)

    def __enter__(self) -> PacketTap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- EZ --------------------------------------------------------------------------------------------------------

def observation_of(packet: Packet) -> smartconfig.Observation | None:
    """The EZ observation a datagram carries (§2.3 length, §2.4 address), or None if it carries none."""
    if IP not in packet or UDP not in packet:
        return None
    udp = packet[UDP]
    if udp.dport == smartconfig.BROADCAST_PORT:
        if udp.len is None or udp.len < 8:
            return None
        return smartconfig.Observation("length", int(udp.len) - 8)
    if udp.dport == smartconfig.MULTICAST_PORT:
        destination = str(packet[IP].dst)
        if ipaddress.IPv4Address(destination).is_multicast:
            return smartconfig.Observation("address", destination)
    return None


EzSink = Any  # an air (``send``), a SmartConfigReceiver (``feed``) or a callable taking an Observation


def _deliverer(sink: EzSink) -> Callable[[smartconfig.Observation], None]:
    for method in ("send", "feed"):
        bound = getattr(sink, method, None)
        if callable(bound):
            return bound  # type: ignore[no-any-return]
    if callable(sink):
        return sink  # type: ignore[no-any-return]
    raise TypeError(f"an EZ sink needs send(observation), feed(observation) or to be callable, not {sink!r}")


class EzSniffer:
    """Sniff EZ datagrams on ``interface`` and hand each observation to ``sink`` (see the module docstring)."""

    def __init__(self, interface: str, sink: EzSink, *, keep_outgoing: bool = True, store: bool = True,
                 max_packets: int = DEFAULT_MAX_PACKETS, max_s: float = DEFAULT_MAX_S) -> None:
        self._deliver = _deliverer(sink)
        self.observations = 0
        self.refused = 0
        self._tap = PacketTap(interface, bpf=EZ_BPF,
                              match=port_matcher(udp_dports=(smartconfig.BROADCAST_PORT, smartconfig.MULTICAST_PORT)),
                              on_packet=self._on_packet, keep_outgoing=keep_outgoing, store=store,
                              max_packets=max_packets, max_s=max_s)

    @property
    def interface(self) -> str:
        return self._tap.interface

    @property
    def filter_mode(self) -> FilterMode:
        return self._tap.filter_mode

    @property
    def running(self) -> bool:
        return self._tap.running

    @property
    def packets(self) -> list[Packet]:
        """The EZ datagrams seen (bounded), for evidence."""
        return list(self._tap.packets)

    def _on_packet(self, packet: Packet) -> None:
        observation = observation_of(packet)
        if observation is None:
            return
        try:
            self._deliver(observation)
        except ProtocolError:
            self.refused += 1  # the receiver judged it; the sniffer only carries
            return
        self.observations += 1

    def start(self) -> EzSniffer:
        self._tap.start()
        return self

    def stop(self) -> list[Packet]:
        return self._tap.stop()

    def info(self) -> dict[str, Any]:
        return {"interface": self.interface, "filter": EZ_BPF, "filter_mode": self.filter_mode,
                "observations": self.observations, "refused": self.refused, "errors": list(self._tap.errors)}

    def __enter__(self) -> EzSniffer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "EZ_BPF",
    "EzSniffer",
    "PacketTap",
    "kernel_filter_available",
    "observation_of",
    "port_bpf",
    "port_matcher",
]
