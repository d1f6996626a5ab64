"""Packet evidence: what a pairing put on the air, and its HTTP and MQTT exchanges, as pcap files.

Three sources, one format (Ethernet pcap, which Wireshark and scapy open; the pairing frames dissect with
:mod:`harness.net.layers`):

- the in-memory air: :func:`air_log_to_pcap` turns :attr:`harness.emulator.air.Air.log` records into the
  datagrams a sniffer next to the phone would have seen: N zero bytes to 255.255.255.255:30011 for a length
  (§2.3), one zero byte to the multicast address on port 30012, TTL 1, to the matching ``01:00:5e`` MAC for an
  address (§2.4). Every record but ``held`` ones (a held observation is logged again when released) is a
  datagram; the record's ``fate`` (lost, duplicated, noise, ...) is kept in the packet's comment, where the
  pcap format has one (pcapng), and in :func:`air_record_packet`'s ``fate`` attribute.
- a real interface: :class:`~harness.net.adapter.WireRecord` lists (what the scapy adapter sent and received,
  :func:`wire_records_to_pcap`) and sniffed packets (:func:`write_packets`).
- loopback: :class:`PcapRecorder` sniffs ``lo`` (or any interfaces) for given ports while a pairing runs, e.g.
  the cloud's HTTP and MQTT ports (:func:`cloud_ports`), and writes what it saw.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapWriter

import harness.net.layers  # noqa: F401  (binds the pairing layers, so that written packets dissect on reading)
from harness.net.sniff import PacketTap, port_bpf, port_matcher
from harness.protocol import smartconfig

#: §2.5: tuya-convert binds its sender to 10.42.42.1; synthesized air traffic comes from there
PHONE_IP = "10.42.42.1"
PHONE_MAC = "02:00:00:00:00:01"
_BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
_EZ_SOURCE_PORT = 6666  # any ephemeral port; Wireshark shows it, nothing depends on it


def multicast_mac(address: str) -> str:
    """The Ethernet address of an IPv4 multicast group: ``01:00:5e`` and the low 23 bits (§2.4 step 5)."""
    packed = ipaddress.IPv4Address(address).packed
    return f"01:00:5e:{packed[1] & 0x7F:02x}:{packed[2]:02x}:{packed[3]:02x}"


def air_record_packet(kind: str, value: int | str, *, t: float, fate: str = "delivered", src_ip: str = PHONE_IP,
                      src_mac: str = PHONE_MAC) -> Packet:
    """The datagram one air record stands for (see the module docstring)."""
    observation = smartconfig.Observation("length" if kind == "length" else "address", value)
    host, port = observation.destination
    if observation.kind == "length":
        packet = Ether(src=src_mac, dst=_BROADCAST_MAC) / IP(src=src_ip, dst=host)
    else:
        packet = Ether(src=src_mac, dst=multicast_mac(host)) / IP(src=src_ip, dst=host, ttl=smartconfig.MULTICAST_TTL)
    packet = packet / UDP(sport=_EZ_SOURCE_PORT, dport=port) / Raw(observation.payload)
    built: Packet = Ether(bytes(packet))
    built.time = t
    built.comment = f"air: {fate}".encode()
    return built


def air_log_to_packets(records: Iterable[Any], *, src_ip: str = PHONE_IP, src_mac: str = PHONE_MAC) -> list[Packet]:
    """Packets for :class:`harness.emulator.air.AirRecord`-like records (``kind``, ``value``, ``t``, ``fate``)."""
    return [air_record_packet(r.kind, r.value, t=float(r.t), fate=str(r.fate), src_ip=src_ip, src_mac=src_mac)
            for r in records if r.fate != "held"]


def air_log_to_pcap(records: Iterable[Any], path: str | Path, **kwargs: Any) -> int:
    """Write the air's log as a pcap; returns the number of packets."""
    return write_packets(air_log_to_packets(records, **kwargs), path)


def wire_record_packet(record: Any) -> Packet:
    """The packet for one :class:`~harness.net.adapter.WireRecord` (TCP payloads as PSH/ACK segments)."""
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


def wire_records_to_pcap(records: Iterable[Any], path: str | Path) -> int:
    return write_packets([wire_record_packet(r) for r in records], path)


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
                tap.stop(settle_s=0)
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


__all__ = [
    "PHONE_IP",
    "PcapRecorder",
    "air_log_to_packets",
    "air_log_to_pcap",
    "air_record_packet",
    "cloud_ports",
    "multicast_mac",
    "wire_record_packet",
    "wire_records_to_pcap",
    "write_packets",
]
