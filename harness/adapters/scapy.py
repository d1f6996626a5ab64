"""The network adapter for a real interface: EZ datagrams and AP frames on a lab network.

:class:`ScapyNetworkAdapter` implements :class:`harness.adapters.contracts.NetworkAdapter` on an interface:

- **EZ** (PROTOCOL.md §2): the transmission schedule of §2.5 (tuya-convert's order: preamble rounds of
  {multicast preamble, broadcast preamble}, then data rounds of {multicast preamble, multicast body, broadcast
  body}) played with ``gap_s`` between datagrams: a datagram of N zero bytes to 255.255.255.255:30011 for
  each length (§2.3), one zero byte to ``226.x.y.z``:30012 with TTL 1 for each address (§2.4). The rounds,
  the gap, and how many attempts with what pause (tuya-convert's ``main.py`` makes 10, 3 s apart) are
  settings; the defaults are tuya-convert's one attempt.
- **AP** (§3): the legacy 55AA frame as one UDP datagram to the device's address, the LPV3.5 frames over a
  TCP connection, whose replies are collected (as plain TCP: Python's ``ssl`` has no TLS-PSK, §3.2; the
  emulated camera speaks the same).

Sending uses plain sockets bound to the interface (``SO_BINDTODEVICE``; ``SO_BROADCAST`` for §2.3;
``IP_MULTICAST_IF`` and ``IP_MULTICAST_TTL`` = 1 for §2.4), not scapy's ``send``: the kernel then builds the
same Ethernet, IP and UDP headers a phone's stack would, picks the route and the source address, and sends at
the gap asked for, where a scapy packet per datagram costs a fraction of a millisecond of Python each. Unicast
AP traffic to a loopback address (an emulated camera in the same process) goes over ``lo`` instead. Every
datagram and TCP payload sent or received is recorded as a :class:`WireRecord` (``sent``), which
:mod:`harness.net.pcap` writes as a pcap.

Access points: this adapter makes no Wi-Fi network (the ``hooks`` and ``hostapd`` network adapters do, and use
this one for their traffic). ``add_access_point`` records the credentials the lab's access point is *assumed* to
have (``access_points()`` and ``info()`` list the SSIDs, never a password) and passes them to a bridged air if there
is one (an emulated camera's, see :func:`scapy_network`); making the lab's AP match is the lab's job.

Root (or ``CAP_NET_RAW``) is needed for ``SO_BINDTODEVICE`` and for sniffing.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.adapters.contracts import AccessPoint, AdapterError, ApAddress, Security
from harness.protocol import apconfig, smartconfig
from harness.protocol.errors import ProtocolError

Protocol = Literal["udp", "tcp"]
Direction = Literal["sent", "received"]

_SIOCGIFADDR = 0x8915
_RECORD_LIMIT = 100_000


@dataclass(frozen=True)
class WireRecord:
    """One datagram or TCP payload on the interface, for evidence (``src``/``dst`` are (host, port))."""

    t: float
    protocol: Protocol
    direction: Direction
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes
    interface: str


def interface_ipv4(interface: str) -> str | None:
    """The interface's IPv4 address, or None when it has none (or does not exist)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", interface.encode()[:15])
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class ScapyNetworkAdapter:
    """The air of a lab network, on ``interface`` (see the module docstring)."""

    name = "scapy"

    def __init__(self, interface: str, *, preamble_rounds: int = smartconfig.PREAMBLE_ROUNDS,
                 data_rounds: int = smartconfig.DATA_ROUNDS, gap_s: float = smartconfig.DATAGRAM_GAP_S,
                 attempts: int = 1, pause_s: float = 3.0, air: Any = None,
                 record_limit: int = _RECORD_LIMIT) -> None:
        try:
            self.ifindex = socket.if_nametoindex(interface)
        except OSError as exc:
            raise AdapterError(f"no network interface named {interface!r}: {exc}") from exc
        for name, value in (("preamble_rounds", preamble_rounds), ("data_rounds", data_rounds)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise AdapterError(f"{name} must be an int in 0..1000, got {value!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise AdapterError(f"attempts must be an int in 1..100, got {attempts!r}")
        if not 0 <= gap_s <= 1.0 or not 0 <= pause_s <= 60.0:
            raise AdapterError("gap_s must be in [0, 1] s and pause_s in [0, 60] s")
        self.interface = interface
        self.preamble_rounds = preamble_rounds
        self.data_rounds = data_rounds
        self.gap_s = gap_s
        self.attempts = attempts
        self.pause_s = pause_s
        #: an emulated camera's air that a sniffer feeds, which also learns the access points
        self.air = air
        self.sniffer: Any = None
        self.sent: deque[WireRecord] = deque(maxlen=record_limit)
        self._access_points: dict[bytes, Security] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()

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

    # -- sockets and records -----------------------------------------------------------------------------------

    @property
    def source_ip(self) -> str:
        return interface_ipv4(self.interface) or "0.0.0.0"

    def _udp_socket(self, *, bind_device: bool = True) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if bind_device:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode())
        except OSError as exc:
            sock.close()
            raise AdapterError(f"cannot bind a socket to {self.interface!r} (root or CAP_NET_RAW needed): {exc}") \
                from exc
        return sock

    def _record(self, protocol: Protocol, direction: Direction, src: tuple[str, int], dst: tuple[str, int],
                payload: bytes) -> None:
        self.sent.append(WireRecord(time.time(), protocol, direction, src, dst, payload, self.interface))

    @staticmethod
    def _local(sock: socket.socket, fallback_ip: str) -> tuple[str, int]:
        host, port = sock.getsockname()[:2]
        return (fallback_ip if host == "0.0.0.0" else str(host), int(port))

    # -- EZ ------------------------------------------------------------------------------------------------

    def ez_schedule(self, ssid: bytes, password: bytes, token: bytes, *,
                    channels: Sequence[str] = ("broadcast", "multicast"),
                    tail: str = "padded") -> list[smartconfig.Observation]:
        """One attempt's datagrams, in order (§2.5), with this adapter's rounds."""
        try:
            return smartconfig.transmission_schedule(
                ssid, password, token, channels=tuple(channels),  # type: ignore[arg-type]
                tail=tail,  # type: ignore[arg-type]
                preamble_rounds=self.preamble_rounds, data_rounds=self.data_rounds)
        except ProtocolError as exc:
            raise AdapterError(f"cannot encode the EZ transmission: {exc}") from exc

    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None:
        """Send ``attempts`` attempts of the §2.5 schedule, ``gap_s`` apart, ``pause_s`` between attempts."""
        schedule = self.ez_schedule(ssid, password, token, channels=channels, tail=tail)
        source = self.source_ip
        broadcast = self._udp_socket()
        multicast = self._udp_socket()
        try:
            broadcast.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            # §2.4: "IP_MULTICAST_TTL = 1", out of the chosen interface (struct ip_mreqn: any address, ifindex)
            multicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, smartconfig.MULTICAST_TTL)
            multicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                 struct.pack("4s4si", bytes(4), bytes(4), self.ifindex))
            multicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            for attempt in range(self.attempts):
                if attempt and self._closed.wait(self.pause_s):
                    return
                self._play(schedule, broadcast, multicast, source)
        except OSError as exc:
            raise AdapterError(f"sending EZ datagrams on {self.interface!r} failed: {exc}") from exc
        finally:
            broadcast.close()
            multicast.close()

    def _play(self, schedule: Sequence[smartconfig.Observation], broadcast: socket.socket,
              multicast: socket.socket, source: str) -> None:
        start = time.monotonic()
        for i, observation in enumerate(schedule):
            if self._closed.is_set():
                return
            # paced against the start, so that the gaps do not drift with the time each send takes
            delay = start + i * self.gap_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sock = broadcast if observation.kind == "length" else multicast
            destination = observation.destination
            payload = observation.payload
            sock.sendto(payload, destination)
            self._record("udp", "sent", self._local(sock, source), destination, payload)

    # -- AP ------------------------------------------------------------------------------------------------

    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        """One §3.1 datagram to the device's UDP config port."""
        if address.udp_port is None:
            raise AdapterError("the device's AP offers no legacy UDP config port")
        loopback = _is_loopback(address.host)
        try:
            with self._udp_socket(bind_device=not loopback) as sock:
                sock.sendto(frame, (address.host, address.udp_port))
                self._record("udp", "sent", self._local(sock, "127.0.0.1" if loopback else self.source_ip),
                             (address.host, address.udp_port), frame)
        except OSError as exc:
            raise AdapterError(f"could not send to the device's AP at {address.host}:{address.udp_port}: {exc}") \
                from exc

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        """Send §3.2 frames over one TCP connection and collect as many replies (bounded by ``timeout``)."""
        if address.tcp_port is None:
            raise AdapterError("the device's AP offers no LPV3.5 TCP config port")
        peer = (address.host, address.tcp_port)
        replies: list[bytes] = []
        buffer = apconfig.Lpv35FrameBuffer(key=apconfig.LPV35_APP_KEY)
        deadline = time.monotonic() + timeout
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if not _is_loopback(address.host):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode())
            sock.settimeout(timeout)
            sock.connect(peer)
            local = self._local(sock, self.source_ip)
            for frame in frames:
                sock.sendall(frame)
                self._record("tcp", "sent", local, peer, frame)
            while len(replies) < len(frames) and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                self._record("tcp", "received", peer, local, chunk)
                buffer.receive_data(chunk)
                while (reply := buffer.next_frame()) is not None:
                    replies.append(apconfig.encode_lpv35_frame(reply.type, reply.data, seq=reply.seq,
                                                               key=apconfig.LPV35_APP_KEY, nonce=reply.nonce))
        except TimeoutError:
            pass  # too few replies: what the device did is judged by the suites
        except ProtocolError:
            pass  # a malformed reply is the device's; the suites see the replies that did decode
        except OSError as exc:
            raise AdapterError(f"could not reach the device's AP at {peer[0]}:{peer[1]}: {exc}") from exc
        finally:
            sock.close()
        return replies

    # -- evidence and lifecycle ------------------------------------------------------------------------------

    def write_pcap(self, path: str) -> int:
        """Write everything recorded in :attr:`sent` as a pcap; returns the number of packets."""
        from harness.net.pcap import wire_records_to_pcap

        return wire_records_to_pcap(list(self.sent), path)

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
        self._closed.set()
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

__all__ = ["ScapyNetworkAdapter", "WireRecord", "interface_ipv4", "scapy_network"]
