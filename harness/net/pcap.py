"""Packet evidence: what a pairing put on the air, and its HTTP and MQTT exchanges, as pcap files.

Three sources, one format (Ethernet pcap, which Wireshark and scapy open; the pairing frames dissect with
:mod:`harness.net.layers`):

- the in-memory air: :func:`air_log_to_pcap` turns :attr:`harness.emulator.air.Air.log` records into the
  datagrams a sniffer next to the phone would have seen: N zero bytes to 255.255.255.255:30011 for a length
  (§2.3), one zero byte to the multicast address on port 30012, TTL 1, to the matching ``01:00:5e`` MAC for an
  address (§2.4). Every record but ``held`` ones (a held observation is logged again when released) is a
  datagram; the record's ``fate`` (lost, duplicated, noise, ...) is kept in the packet's comment, where the
  pcap format has one (pcapng), and in :func:`air_record_packet`'s ``fate`` attribute.
- a real interface: :class:`~harness.net.send.WireRecord` lists (what the scapy adapter sent and received,
  :func:`wire_records_to_pcap`) and sniffed packets (:func:`write_packets`).
- loopback: :class:`PcapRecorder` sniffs ``lo`` (or any interfaces) for given ports while a pairing runs, e.g.
  the cloud's HTTP and MQTT ports (:func:`cloud_ports`), and writes what it saw; :class:`harness.net.ring.RingCapture`
  keeps a whole session's TCP and UDP of an interface, raw, to be cut by time and flow when a test fails
  (:func:`frames_to_packets` dissects the cut).

Secrets are masked before anything is written (:mod:`harness.net.masking`, whose names are re-exported here).
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapWriter

import harness.net.layers  # noqa: F401  (binds the pairing layers, so that written packets dissect on reading)
from harness.net.layers import multicast_mac
from harness.net.masking import (
    EzMasking,
    MaskedAirRecord,
    Masker,
    mask_air_records,
    mask_ez_sequence,
    mask_packets,
    mask_payload,
    mask_secret_fields,
    secret_masker,
)
from harness.net.ring import cloud_ports
from harness.net.sniff import PacketTap, port_bpf, port_matcher
from harness.protocol import smartconfig

#: §2.5: tuya-convert binds its sender to 10.42.42.1; synthesized air traffic comes from there
PHONE_IP = "10.42.42.1"
PHONE_MAC = "02:00:00:00:00:01"
_BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
_EZ_SOURCE_PORT = 6666  # any ephemeral port; Wireshark shows it, nothing depends on it


@functools.lru_cache(maxsize=4096)
def _air_datagram(kind: str, value: int | str, src_ip: str, src_mac: str) -> bytes:
    # built once per distinct value: a transmission repeats its values round after round
    observation = smartconfig.Observation("length" if kind == "length" else "address", value)
    host, port = observation.destination
    if observation.kind == "length":
        packet = Ether(src=src_mac, dst=_BROADCAST_MAC) / IP(src=src_ip, dst=host)
    else:
        packet = Ether(src=src_mac, dst=multicast_mac(host)) / IP(src=src_ip, dst=host, ttl=smartconfig.MULTICAST_TTL)
    return bytes(packet / UDP(sport=_EZ_SOURCE_PORT, dport=port) / Raw(observation.payload))


def air_record_packet(kind: str, value: int | str, *, t: float, fate: str = "delivered", src_ip: str = PHONE_IP,
                      src_mac: str = PHONE_MAC) -> Packet:
    """The datagram one air record stands for (see the module docstring)."""
    built: Packet = Ether(_air_datagram(kind, value, src_ip, src_mac))
    built.time = t
    built.comment = f"air: {fate}".encode()
    return built


def air_log_to_packets(records: Iterable[Any], *, src_ip: str = PHONE_IP, src_mac: str = PHONE_MAC) -> list[Packet]:
    """Packets for :class:`harness.emulator.air.AirRecord`-like records (``kind``, ``value``, ``t``, ``fate``)."""
    return [air_record_packet(r.kind, r.value, t=float(r.t), fate=str(r.fate), src_ip=src_ip, src_mac=src_mac)
            for r in records if r.fate != "held"]


def air_log_to_frames(records: Iterable[Any], *, src_ip: str = PHONE_IP,
                      src_mac: str = PHONE_MAC) -> list[tuple[float, bytes]]:
    """:func:`air_log_to_packets` as raw frames (time, bytes), without a scapy object per record: an EZ pairing
    that times out resends for minutes of world time, tens of thousands of datagrams."""
    return [(float(r.t), _air_datagram(r.kind, r.value, src_ip, src_mac)) for r in records if r.fate != "held"]


def air_log_to_pcap(records: Iterable[Any], path: str | Path, **kwargs: Any) -> int:
    """Write the air's log as a pcap; returns the number of packets."""
    return write_packets(air_log_to_packets(records, **kwargs), path)


def wire_record_packet(record: Any) -> Packet:
    """The packet for one :class:`~harness.net.send.WireRecord` (TCP payloads as PSH/ACK segments)."""
    (src, sport), (dst, dport) = record.src, record.dst
    ip = IP(src=src, dst=dst)
    if record.protocol == "udp" and ipaddress.IPv4Address(dst).is_multicast:
        ether = Ether(src=PHONE_MAC, dst=multicast_mac(dst))
        ip.ttl = smartconfig.MULTICAST_TTL
    elif record.protocol == "udp" and dst == smartconfig.BROADCAST_ADDRESS:
        ether = Ether(src=PHONE_MAC, dst=_BROADCAST_MAC)
    else:
        ether = Ether(src=PHONE_MAC, dst="02:00:00:00:00:02")
    transport = UDP(sport=sport, dport=dport) if record.protocol == "udp" else TCP(sport=sport, dport=dport, flags="PA")
    packet: Packet = Ether(bytes(ether / ip / transport / Raw(record.payload)))
    packet.time = float(record.t)
    return packet


class _Datagram(NamedTuple):
    t: float
    protocol: str
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


@functools.lru_cache(maxsize=4096)
def _wire_datagram(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    return bytes(wire_record_packet(_Datagram(0.0, "udp", src, dst, payload)))


def _wire_ez_observation(record: Any) -> tuple[str, int | str] | None:
    if record.protocol != "udp":
        return None
    host, port = record.dst
    if port == smartconfig.BROADCAST_PORT:
        return "length", len(record.payload)
    if port == smartconfig.MULTICAST_PORT and ipaddress.IPv4Address(host).is_multicast:
        return "address", str(host)
    return None


def mask_wire_records(records: Iterable[Any], mask: Masker) -> tuple[list[tuple[float, bytes]], list[str]]:
    """:class:`~harness.net.send.WireRecord` lists as masked raw frames (time, bytes), and notes: the EZ
    datagrams as one sequence (:func:`mask_ez_sequence`, built without a scapy object each: a schedule is
    thousands of them), the rest through :func:`mask_packets`."""
    records = list(records)
    ez = [(n, observation) for n, r in enumerate(records) if (observation := _wire_ez_observation(r)) is not None]
    result = mask_ez_sequence([observation for _, observation in ez], mask)
    masked = {n: value for (n, _), value in zip(ez, result.values, strict=True)}
    frames: list[tuple[float, bytes]] = []
    others: list[Packet] = []
    for n, record in enumerate(records):
        if n not in masked:
            others.append(wire_record_packet(record))
            continue
        value = masked[n]
        if isinstance(value, int):
            dst, payload = (smartconfig.BROADCAST_ADDRESS, smartconfig.BROADCAST_PORT), bytes(value)
        else:
            dst, payload = (value, smartconfig.MULTICAST_PORT), b"\x00"
        frames.append((float(record.t), _wire_datagram(tuple(record.src), dst, payload)))
    packets, notes = mask_packets(others, mask, ez=False)
    frames += [(float(p.time), bytes(p)) for p in packets]
    if ez:
        notes.insert(0, f"EZ: {len(ez)} datagram(s) rebuilt with the password masked ({result.bodies} broadcast "
                        f"bodies, {result.sections} multicast sections, {result.zeroed} unparseable values zeroed)")
    return sorted(frames, key=lambda frame: frame[0]), notes


def wire_records_to_pcap(records: Iterable[Any], path: str | Path) -> int:
    return write_packets([wire_record_packet(r) for r in records], path)


_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # microseconds, Ethernet
_PCAP_RECORD = struct.Struct("<IIII")


def write_frames(frames: Iterable[tuple[float, bytes]], path: str | Path) -> int:
    """Write raw Ethernet frames (time, bytes) as a classic pcap, in time order; returns the count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(frames, key=lambda frame: frame[0])
    chunks = [_PCAP_HEADER]
    for t, data in ordered:
        micros = round(t * 1_000_000)
        chunks.append(_PCAP_RECORD.pack(micros // 1_000_000, micros % 1_000_000, len(data), len(data)))
        chunks.append(data)
    target.write_bytes(b"".join(chunks))
    return len(ordered)


def write_packets(packets: Sequence[Packet], path: str | Path) -> int:
    """Write ``packets`` (in time order) to a pcap at ``path``, creating its folder; returns the count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(packets, key=lambda p: float(p.time))
    writer = PcapWriter(str(target), linktype=1, sync=False)
    try:
        if not ordered:
            writer.write_header(None)
        for packet in ordered:
            writer.write(packet)
    finally:
        writer.close()
    return len(ordered)


class PcapRecorder:
    """Record the traffic of some ports on some interfaces while something runs, then write it as a pcap.

        recorder = PcapRecorder(["lo"], tcp_ports=cloud_ports(world.cloud.info())).start()
        ...  # the pairing
        recorder.stop("evidence/pairing.pcap")

    Bounded: at most ``max_packets`` per interface, and each tap ends by itself after ``max_s`` seconds.
    """

    def __init__(self, interfaces: Sequence[str] = ("lo",), *, tcp_ports: Iterable[int] = (),
                 udp_ports: Iterable[int] = (), udp_dports: Iterable[int] = (), max_packets: int = 100_000,
                 max_s: float = 900.0) -> None:
        tcp, udp, udp_to = sorted(set(tcp_ports)), sorted(set(udp_ports)), sorted(set(udp_dports))
        self.bpf = port_bpf(udp_ports=udp, tcp_ports=tcp, udp_dports=udp_to)
        match = port_matcher(udp_ports=udp, tcp_ports=tcp, udp_dports=udp_to)
        self._taps = [PacketTap(name, bpf=self.bpf, match=match, max_packets=max_packets, max_s=max_s)
                      for name in interfaces]
        self.packets: list[Packet] = []

    def start(self) -> PcapRecorder:
        started: list[PacketTap] = []
        try:
            for tap in self._taps:
                started.append(tap.start())
        except BaseException:
            for tap in started:
                tap.stop()
            raise
        return self

    def stop(self, path: str | Path | None = None) -> list[Packet]:
        """Stop every tap; write the packets to ``path`` when given; return them in time order."""
        packets = [packet for tap in self._taps for packet in tap.stop()]
        self.packets = sorted(packets, key=lambda p: float(p.time))
        if path is not None:
            write_packets(self.packets, path)
        return self.packets

    def info(self) -> dict[str, Any]:
        return {"interfaces": [t.interface for t in self._taps], "filter": self.bpf,
                "filter_mode": sorted({t.filter_mode for t in self._taps}), "packets": len(self.packets)}

    def __enter__(self) -> PcapRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rename_ports(packets: Iterable[Packet], *, udp: Mapping[int, int] | None = None,
                 tcp: Mapping[int, int] | None = None) -> None:
    """Write some ports as others, in place, both directions (e.g. an emulated camera's ephemeral AP ports as
    the real device's 6669 and 6668, so that the frames dissect without "Decode As"); checksums are left for
    :func:`mask_packets`' rebuild or :func:`write_packets` to recompute."""
    for packet in packets:
        for layer, table in ((UDP, udp), (TCP, tcp)):
            if table and layer in packet:
                segment = packet[layer]
                if segment.sport in table:
                    segment.sport = table[segment.sport]
                if segment.dport in table:
                    segment.dport = table[segment.dport]
                del segment.chksum




def frames_to_packets(frames: Iterable[tuple[float, bytes]]) -> list[Packet]:
    """Raw Ethernet frames with their times (e.g. a :class:`harness.net.ring.RingCapture` cut) as packets."""
    packets: list[Packet] = []
    for t, data in frames:
        packet = Ether(data)
        packet.time = t
        packets.append(packet)
    return packets

__all__ = [
    "PHONE_IP",
    "EzMasking",
    "MaskedAirRecord",
    "Masker",
    "PcapRecorder",
    "air_log_to_frames",
    "air_log_to_packets",
    "air_log_to_pcap",
    "air_record_packet",
    "cloud_ports",
    "frames_to_packets",
    "mask_air_records",
    "mask_ez_sequence",
    "mask_packets",
    "mask_payload",
    "mask_secret_fields",
    "mask_wire_records",
    "multicast_mac",
    "rename_ports",
    "secret_masker",
    "wire_record_packet",
    "wire_records_to_pcap",
    "write_frames",
    "write_packets",
]
