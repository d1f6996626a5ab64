"""The app side's traffic on a real interface: EZ datagrams and AP frames on a lab network, recorded as it goes.

:class:`InterfaceSender` does the sending for the ``scapy`` network adapter
(:class:`harness.adapters.scapy.ScapyNetworkAdapter`) and for ``python -m harness.net``:

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

Root (or ``CAP_NET_RAW``) is needed for ``SO_BINDTODEVICE``. Whatever the network refuses is a
:class:`NetError`: lab trouble, never the device's fault.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.protocol import apconfig, smartconfig
from harness.protocol.errors import ProtocolError

Protocol = Literal["udp", "tcp"]
Direction = Literal["sent", "received"]

_SIOCGIFADDR = 0x8915
RECORD_LIMIT = 100_000


class NetError(Exception):
    """The interface or the network refused what was asked (the lab's trouble, never the device's fault)."""


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


class InterfaceSender:
    """EZ rounds and AP frames on ``interface``, each datagram and payload recorded (see the module docstring)."""

    def __init__(self, interface: str, *, preamble_rounds: int = smartconfig.PREAMBLE_ROUNDS,
                 data_rounds: int = smartconfig.DATA_ROUNDS, gap_s: float = smartconfig.DATAGRAM_GAP_S,
                 attempts: int = 1, pause_s: float = 3.0, record_limit: int = RECORD_LIMIT) -> None:
        try:
            self.ifindex = socket.if_nametoindex(interface)
        except OSError as exc:
            raise NetError(f"no network interface named {interface!r}: {exc}") from exc
        for name, value in (("preamble_rounds", preamble_rounds), ("data_rounds", data_rounds)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise NetError(f"{name} must be an int in 0..1000, got {value!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise NetError(f"attempts must be an int in 1..100, got {attempts!r}")
        if not 0 <= gap_s <= 1.0 or not 0 <= pause_s <= 60.0:
            raise NetError("gap_s must be in [0, 1] s and pause_s in [0, 60] s")
        self.interface = interface
        self.preamble_rounds = preamble_rounds
        self.data_rounds = data_rounds
        self.gap_s = gap_s
        self.attempts = attempts
        self.pause_s = pause_s
        self.sent: deque[WireRecord] = deque(maxlen=record_limit)
        self._closed = threading.Event()

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
            raise NetError(f"cannot bind a socket to {self.interface!r} (root or CAP_NET_RAW needed): {exc}") \
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
        """One attempt's datagrams, in order (§2.5), with this sender's rounds."""
        try:
            return smartconfig.transmission_schedule(
                ssid, password, token, channels=tuple(channels),  # type: ignore[arg-type]
                tail=tail,  # type: ignore[arg-type]
                preamble_rounds=self.preamble_rounds, data_rounds=self.data_rounds)
        except ProtocolError as exc:
            raise NetError(f"cannot encode the EZ transmission: {exc}") from exc

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
            raise NetError(f"sending EZ datagrams on {self.interface!r} failed: {exc}") from exc
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

    def send_ap_udp(self, host: str, port: int, frame: bytes) -> None:
        """One §3.1 datagram to the device's UDP config port."""
        loopback = _is_loopback(host)
        try:
            with self._udp_socket(bind_device=not loopback) as sock:
                sock.sendto(frame, (host, port))
                self._record("udp", "sent", self._local(sock, "127.0.0.1" if loopback else self.source_ip),
                             (host, port), frame)
        except OSError as exc:
            raise NetError(f"could not send to the device's AP at {host}:{port}: {exc}") from exc

    def send_ap_tcp(self, host: str, port: int, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        """Send §3.2 frames over one TCP connection and collect as many replies (bounded by ``timeout``)."""
        peer = (host, port)
        replies: list[bytes] = []
        buffer = apconfig.Lpv35FrameBuffer(key=apconfig.LPV35_APP_KEY)
        deadline = time.monotonic() + timeout
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if not _is_loopback(host):
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
            raise NetError(f"could not reach the device's AP at {peer[0]}:{peer[1]}: {exc}") from exc
        finally:
            sock.close()
        return replies

    # -- evidence and lifecycle ------------------------------------------------------------------------------

    def write_pcap(self, path: str) -> int:
        """Write everything recorded in :attr:`sent` as a pcap; returns the number of packets."""
        from harness.net.pcap import wire_records_to_pcap

        return wire_records_to_pcap(list(self.sent), path)

    def close(self) -> None:
        """Stop any EZ attempt in progress (at its next datagram or pause)."""
        self._closed.set()


__all__ = ["InterfaceSender", "NetError", "WireRecord", "interface_ipv4"]
