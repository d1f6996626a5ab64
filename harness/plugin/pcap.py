"""Packet evidence of failing tests: what the test put on the air, and its loopback HTTP, MQTT and AP exchanges.

DESIGN.md ("Evidence"): a test that FAILs or ERRORs gets, in its evidence directory, beside its timeline:

- ``traffic-air.pcap``: the in-memory air's records of the test (from a mark taken when it started, on the air's
  clock), as the datagrams a sniffer next to the phone would have seen (:func:`harness.net.pcap.air_log_to_packets`);
  with the scapy network adapter, ``traffic-wire.pcap``: what it sent and received on its interface.
- ``traffic-lo.pcap``: the test's TCP and UDP on ``lo`` to and from the cloud's ports (HTTP, MQTT) and the
  device's SoftAP (55AA and 6699 frames), cut by wall-clock time out of one capture per process
  (:class:`harness.net.pcap.RingCapture`): a sniffer started and stopped per test would cost every passing test
  a thread and a settling wait, where the ring costs a few microseconds per packet and is only dissected when a
  test fails. Every emulated port is written as the standard one, so that the frames dissect without "Decode As"
  (a note in the timeline says which): the camera's ephemeral AP ports as the real device's (UDP 6669, TCP 6668),
  the cloud's HTTP as 80 (443 with TLS), its MQTT as 1883 (8883 with TLS). Capturing needs root or CAP_NET_RAW on Linux;
  without it the timeline notes why there is no loopback capture.

Every frame is masked before it is written (:func:`harness.net.pcap.mask_air_records`,
:func:`harness.net.pcap.mask_packets`): each secret the run's redactor knows, and the Wi-Fi password wherever a
frame carries it, is overwritten same length, and what carried it re-encoded (CRCs, ciphertexts, checksums), so
that the frames still dissect. Passing tests cost only a mark (no pcap is written).

``PAIRCERT_PCAP``: ``auto`` (default), ``air`` (no loopback capture), ``off`` (no packet evidence).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.adapters.contracts import LabAir, NetworkAdapter, WireNetwork, World
    from harness.evidence import EvidenceRecorder
    from harness.net.ring import RingCapture
    from harness.redaction import Redactor

PCAP_TYPE = "application/vnd.tcpdump.pcap"
MODES = ("auto", "air", "off")
#: the real device's AP ports (PROTOCOL.md §3.1, §3.2) that an emulated camera's ephemeral ones are written as
AP_UDP_PORT = 6669
AP_TCP_PORT = 6668
#: the standard ports the cloud's are written as: HTTP and HTTPS (ATOP, the app API), MQTT and MQTT over TLS
HTTP_PORT, HTTPS_PORT, MQTT_PORT, MQTTS_PORT = 80, 443, 1883, 8883


@dataclass(frozen=True)
class TrafficMark:
    """Where a test's traffic starts: wall-clock time (loopback, wire records) and the air's log sequence."""

    wall: float
    air_seq: int


def _air(world: World | None) -> LabAir | None:
    """The in-memory air behind the world's network adapter, if it has one (:class:`AirNetwork`)."""
    from harness.adapters.contracts import AirNetwork

    network: NetworkAdapter | None = world.network if world is not None else None
    return network.air if isinstance(network, AirNetwork) else None


def _wire(world: World | None) -> WireNetwork | None:
    """The world's network adapter if it records what it sends on an interface (:class:`WireNetwork`)."""
    from harness.adapters.contracts import WireNetwork

    network: NetworkAdapter | None = world.network if world is not None else None
    return network if isinstance(network, WireNetwork) else None


class TrafficEvidence:
    """Per process: the loopback ring (started with the first test, when it can run), marks, the pcaps of failures."""

    def __init__(self, redactor: Redactor, *, mode: str | None = None, interface: str = "lo") -> None:
        self.redactor = redactor
        chosen = (mode or os.environ.get("PAIRCERT_PCAP") or "auto").strip().lower()
        self.mode = chosen if chosen in MODES else "auto"
        self.interface = interface
        self.ring: RingCapture | None = None
        self.reason: str | None = None if self.mode == "auto" else f"PAIRCERT_PCAP={self.mode}"
        self._started = False

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def begin(self, world: World | None) -> TrafficMark | None:
        """Mark where a test starts (cheap); the first call starts the loopback ring."""
        if not self.enabled:
            return None
        if not self._started:
            self._started = True
            if self.mode == "auto":
                self._start_ring()
        air = _air(world)
        return TrafficMark(time.time(), int(air.seq) if air is not None else 0)

    def _start_ring(self) -> None:
        from harness.net.ring import RingCapture, capture_unavailable

        self.reason = capture_unavailable(self.interface)
        if self.reason is not None:
            return
        try:
            self.ring = RingCapture(self.interface).start()
        except OSError as exc:
            self.reason = f"cannot capture on {self.interface!r}: {exc}"

    def close(self) -> None:
        ring, self.ring = self.ring, None
        if ring is not None:
            ring.stop()

    # -- a failed test ------------------------------------------------------------------------------------

    def write(self, world: World | None, mark: TrafficMark | None, recorder: EvidenceRecorder,
              directory: Path) -> list[str]:
        """Write the test's masked pcaps into ``directory`` and list them in its timeline; the file names."""
        if not self.enabled or mark is None:
            return []
        return self._write(world, mark, recorder, directory)

    def _write(self, world: World | None, mark: TrafficMark, recorder: EvidenceRecorder,
               directory: Path) -> list[str]:
        if world is None:
            recorder.note("no packet evidence", reason="no world was built")
            return []
        written: list[str] = []
        for source in (self._air_pcap, self._wire_pcap, self._loopback_pcap):
            try:
                name = source(world, mark, recorder, directory)
            except Exception as exc:  # evidence is best effort; the verdict stands
                recorder.note("packet evidence failed", source=source.__name__.strip("_"),
                              error=f"{type(exc).__name__}: {exc}")
                continue
            if name is not None:
                written.append(name)
        return written

    def _mask(self) -> Any:
        from harness.net.pcap import secret_masker

        return secret_masker(self.redactor)

    def _attach(self, recorder: EvidenceRecorder, directory: Path, name: str, packets: list[Any],
                **details: Any) -> str:
        """Write scapy packets, or raw frames (time, bytes), as ``name`` and list it in the timeline."""
        from harness.net.pcap import write_frames, write_packets

        frames = [(float(p.time), bytes(p)) if not isinstance(p, tuple) else p for p in packets]
        count = write_frames(frames, directory / name) if frames else write_packets([], directory / name)
        recorder.record("attachment", name, {"type": PCAP_TYPE, "packets": count, **details})
        return name

    def _air_pcap(self, world: World, mark: TrafficMark, recorder: EvidenceRecorder,
                  directory: Path) -> str | None:
        air = _air(world)
        if air is None or _wire(world) is not None:
            return None
        from harness.net.pcap import air_log_to_frames, mask_air_records

        records = air.log_since(mark.air_seq)
        if not records:
            return None
        # the air carries EZ observations only: their datagrams are zero bytes, the records are what to mask
        masked, notes = mask_air_records(records, self._mask())
        return self._attach(recorder, directory, "traffic-air.pcap", air_log_to_frames(masked),
                            source="in-memory air", clock="the world's clock", masking=notes)

    def _wire_pcap(self, world: World, mark: TrafficMark, recorder: EvidenceRecorder,
                   directory: Path) -> str | None:
        wire = _wire(world)
        if wire is None:
            return None
        from harness.net.pcap import mask_wire_records

        records = [r for r in list(wire.sent) if float(r.t) >= mark.wall]
        if not records:
            return None
        packets, notes = mask_wire_records(records, self._mask())
        return self._attach(recorder, directory, "traffic-wire.pcap", packets, source=f"network adapter "
                            f"records on {wire.interface}", masking=notes)

    def _loopback_pcap(self, world: World, mark: TrafficMark, recorder: EvidenceRecorder,
                       directory: Path) -> str | None:
        if self.ring is None:
            if self.reason is not None:
                recorder.note("no loopback capture", reason=self.reason)
            return None
        from harness.net.ring import select_flows

        udp_ap, tcp_ap = _ap_ports(world, recorder)
        tcp = _cloud_ports(world)
        frames = select_flows(self.ring.window(mark.wall), tcp_ports=tcp | tcp_ap, udp_ports=udp_ap)
        if not frames:
            recorder.note("no loopback traffic", interface=self.interface, cloud_ports=sorted(tcp))
            return None
        from harness.net.pcap import frames_to_packets, mask_packets, rename_ports

        cloud_names = _standard_cloud_ports(world)
        renamed = {"udp": {p: AP_UDP_PORT for p in udp_ap if p != AP_UDP_PORT},
                   "tcp": {**{p: new for p, new in cloud_names.items() if p != new},
                           **{p: AP_TCP_PORT for p in tcp_ap if p != AP_TCP_PORT}}}
        packets = frames_to_packets(frames)
        rename_ports(packets, udp=renamed["udp"], tcp=renamed["tcp"])
        packets, notes = mask_packets(packets, self._mask())
        details: dict[str, Any] = {"source": f"capture on {self.interface}", "clock": "wall clock",
                                   "cloud_ports": sorted(tcp), "masking": notes}
        if renamed["udp"] or renamed["tcp"]:
            details["ports_renamed"] = {f"{kind} {port}": new for kind, table in renamed.items()
                                        for port, new in sorted(table.items())}
        info = self.ring.info()
        if info["evicted"]:
            details["ring_evicted_frames"] = info["evicted"]
        return self._attach(recorder, directory, "traffic-lo.pcap", packets, **details)


def _cloud_ports(world: World) -> set[int]:
    """The TCP ports of the cloud's HTTP and MQTT endpoints (its ``info()``); none when it cannot say."""
    from harness.net.ring import cloud_ports

    try:
        return set(cloud_ports(world.cloud.info()))
    except Exception:  # a cloud that cannot say: its traffic is cut out by nothing but the AP frames
        return set()


def _standard_cloud_ports(world: World) -> dict[int, int]:
    """The cloud's TCP ports -> the standard ones (HTTP 80, HTTPS 443, MQTT 1883, MQTT over TLS 8883)."""
    from urllib.parse import urlsplit

    try:
        info = dict(world.cloud.info())
    except Exception:  # a cloud that cannot say: its ports stay as they are
        return {}
    table: dict[int, int] = {}
    for key in ("atop_url", "app_url"):
        parts = urlsplit(str(info.get(key) or ""))
        if parts.port and parts.scheme in ("http", "https"):
            table[parts.port] = HTTPS_PORT if parts.scheme == "https" else HTTP_PORT
    host_port = str(info.get("mqtt") or "").rpartition(":")[2]
    if host_port.isdigit() and int(host_port) not in table:
        table[int(host_port)] = MQTTS_PORT if info.get("mqtt_tls", info.get("tls")) else MQTT_PORT
    return table


def _ports_in(details: Mapping[str, Any]) -> tuple[set[int], set[int]]:
    udp, tcp = details.get("udp_port"), details.get("tcp_port")
    return ({int(udp)} if isinstance(udp, int) and udp else set(),
            {int(tcp)} if isinstance(tcp, int) and tcp else set())


def _ap_ports(world: World, recorder: EvidenceRecorder) -> tuple[set[int], set[int]]:
    """The device SoftAP ports the test may have used: open ones on the air, and the ``ap-open`` device events."""
    udp: set[int] = set()
    tcp: set[int] = set()
    air = _air(world)
    for ap in air.device_aps if air is not None else ():
        udp |= {int(ap.udp_port)} if ap.udp_port else set()
        tcp |= {int(ap.tcp_port)} if ap.tcp_port else set()
    for entry in recorder.timeline:
        if entry.kind == "device" and entry.name == "ap-open":
            more_udp, more_tcp = _ports_in(entry.details)
            udp |= more_udp
            tcp |= more_tcp
    return udp, tcp


__all__ = ["AP_TCP_PORT", "AP_UDP_PORT", "HTTPS_PORT", "HTTP_PORT", "MODES", "MQTTS_PORT", "MQTT_PORT", "PCAP_TYPE",
           "TrafficEvidence", "TrafficMark"]
