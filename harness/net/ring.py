"""A session-long packet capture of one interface, kept raw in a bounded ring and cut by time and flow.

Packet evidence of failing tests (:mod:`harness.plugin.pcap`) needs a test's loopback traffic (the cloud's HTTP
and MQTT, the device's SoftAP frames) without starting a sniffer per test: :class:`RingCapture` runs once per
process, keeps every IPv4 TCP and UDP frame with its kernel timestamp and never dissects; :meth:`RingCapture.window`
cuts a test's time span and :func:`select_flows` its flows, still as raw frames
(:func:`harness.net.pcap.frames_to_packets` dissects them). Flows are chosen by port only, never by content:
other processes on the same host (another paircert run, say) speak the same protocols on ``lo``. No scapy here:
importing this module is cheap.

Linux only (``AF_PACKET``); opening the socket needs root or CAP_NET_RAW (:func:`capture_unavailable` says why
it cannot run).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

_ETH_P_ALL = 0x0003
_SO_TIMESTAMP = 29  # Linux; SCM_TIMESTAMP has the same number, a struct timeval follows
_SO_RCVBUFFORCE = 33
_TIMEVAL = struct.Struct("@ll")
_ETHER_HEADER = 14


def capture_unavailable(interface: str = "lo") -> str | None:
    """Why a :class:`RingCapture` cannot run here (None when it can): it needs Linux packet sockets and root or
    CAP_NET_RAW."""
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        return "packet capture needs Linux packet sockets (AF_PACKET), which this platform lacks"
    try:
        with socket.socket(family, socket.SOCK_RAW, socket.htons(_ETH_P_ALL)) as probe:
            probe.bind((interface, 0))
    except PermissionError as exc:
        return f"capturing on {interface!r} needs root or CAP_NET_RAW ({exc})"
    except OSError as exc:
        return f"cannot capture on {interface!r}: {exc}"
    return None


class RingCapture:
    """Every IPv4 TCP and UDP frame of ``interface`` (``lo``), kept raw with its kernel timestamp in a ring of at
    most ``max_bytes``, from :meth:`start` to :meth:`stop`.

    Built for evidence of failing tests: one capture per process instead of a sniffer per test. A thread wakes
    every ``poll_s`` and drains the socket (the kernel queues in between, in a receive buffer of ``buffer_bytes``),
    so the cost while tests pass is a few microseconds per packet and no dissection at all; :meth:`window` cuts
    the frames of a time span and dissects only those. Outgoing copies are dropped on ``lo`` (each packet is seen
    out and in there). Frames of other processes on the same interface are in the ring too: cut them out by flow
    (:func:`select_flows`).
    """

    def __init__(self, interface: str = "lo", *, max_bytes: int = 32 * 1024 * 1024, poll_s: float = 0.1,
                 buffer_bytes: int = 8 * 1024 * 1024, keep_outgoing: bool | None = None) -> None:
        self.interface = interface
        self.max_bytes = max_bytes
        self.poll_s = poll_s
        self.buffer_bytes = buffer_bytes
        self.keep_outgoing = interface != "lo" if keep_outgoing is None else keep_outgoing
        self.frames: deque[tuple[float, bytes]] = deque()
        self.bytes = 0
        self.evicted = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._sock is not None

    def start(self) -> RingCapture:
        """Open the packet socket (raises OSError, e.g. PermissionError without CAP_NET_RAW) and start draining."""
        if self._sock is not None:
            return self
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        try:
            sock.bind((self.interface, 0))
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, self.buffer_bytes)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer_bytes)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMP, 1)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"paircert-ring-{self.interface}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.drain()

    def drain(self) -> int:
        """Move what the kernel queued into the ring now; returns the number of frames kept."""
        kept = 0
        with self._lock:
            sock = self._sock
            if sock is None:
                return 0
            space = socket.CMSG_SPACE(_TIMEVAL.size)
            while True:
                try:
                    data, ancillary, _, address = sock.recvmsg(65600, space)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if not self.keep_outgoing and address[2] == socket.PACKET_OUTGOING:
                    continue
                # IPv4 (ethertype 0x0800) carrying TCP (6) or UDP (17)
                if len(data) < _ETHER_HEADER + 20 or data[12:14] != b"\x08\x00" or data[23] not in (6, 17):
                    continue
                t = time.time()
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMP and len(value) >= _TIMEVAL.size:
                        seconds, micros = _TIMEVAL.unpack_from(value)
                        t = seconds + micros / 1e6
                self.frames.append((t, data))
                self.bytes += len(data)
                kept += 1
            while self.bytes > self.max_bytes and self.frames:
                _, old = self.frames.popleft()
                self.bytes -= len(old)
                self.evicted += 1
        return kept

    def window(self, start: float, end: float | None = None) -> list[tuple[float, bytes]]:
        """The raw frames (time, bytes) captured in [start, end] (end: now), after draining what is queued."""
        self.drain()
        with self._lock:
            return [(t, data) for t, data in self.frames if t >= start and (end is None or t <= end)]

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {"interface": self.interface, "frames": len(self.frames), "bytes": self.bytes,
                    "evicted": self.evicted, "max_bytes": self.max_bytes}


def _frame_ports(data: bytes) -> tuple[int, int, int] | None:
    """(IP protocol, source port, destination port) of a raw Ethernet/IPv4 TCP or UDP frame."""
    ip = _ETHER_HEADER
    if len(data) < ip + 20:
        return None
    transport = ip + (data[ip] & 0x0F) * 4
    if len(data) < transport + 4:
        return None
    sport, dport = struct.unpack_from("!HH", data, transport)
    return data[ip + 9], sport, dport


def cloud_ports(info: Mapping[str, Any]) -> list[int]:
    """The TCP ports of a cloud adapter's ``info()``: its ATOP/app HTTP URLs and ``host:port`` of MQTT."""
    ports: set[int] = set()
    for key in ("atop_url", "app_url"):
        url = info.get(key)
        if url:
            parts = urlsplit(str(url))
            if parts.port:
                ports.add(parts.port)
            elif parts.scheme in ("http", "https"):
                ports.add(80 if parts.scheme == "http" else 443)
    mqtt = info.get("mqtt")
    if mqtt and str(mqtt).rpartition(":")[2].isdigit():
        ports.add(int(str(mqtt).rpartition(":")[2]))
    return sorted(ports)


def select_flows(frames: Iterable[tuple[float, bytes]], *, tcp_ports: Iterable[int] = (),
                 udp_ports: Iterable[int] = ()) -> list[tuple[float, bytes]]:
    """The frames (time, bytes) with an end on one of the ports (a TCP port for TCP, a UDP port for UDP), in time
    order: the flows of one's own servers, whoever else shares the interface."""
    tcp, udp = frozenset(tcp_ports), frozenset(udp_ports)
    kept = []
    for t, data in frames:
        ports = _frame_ports(data)
        if ports is None:
            continue
        wanted = tcp if ports[0] == 6 else udp if ports[0] == 17 else frozenset()
        if ports[1] in wanted or ports[2] in wanted:
            kept.append((t, data))
    kept.sort(key=lambda frame: frame[0])
    return kept

__all__ = ["RingCapture", "capture_unavailable", "cloud_ports", "select_flows"]
