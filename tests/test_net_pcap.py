"""Packet evidence: the in-memory air as a pcap, and a loopback capture of a pairing's HTTP, MQTT and AP traffic."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.utils import rdpcap

from harness.activator import Activator, ActivatorMode, ApOptions, pair
from harness.adapters.contracts import ApAddress
from harness.adapters.registry import World, build_world
from harness.emulator.air import Air
from harness.net.adapter import WireRecord
from harness.net.layers import EzAddress, EzLength, TuyaAp55AA, TuyaLpv35, bind_ap_ports
from harness.net.pcap import (
    PcapRecorder,
    air_log_to_pcap,
    cloud_ports,
    multicast_mac,
    wire_records_to_pcap,
    write_packets,
)
from harness.profiles import load_profile
from harness.protocol import apconfig, smartconfig

needs_raw_sockets = pytest.mark.skipif(os.geteuid() != 0, reason="sniffing loopback needs root (CAP_NET_RAW)")


def test_the_air_log_becomes_datagrams_that_dissect(tmp_path: Path) -> None:
    air = Air(seed=3, loss=0.05, duplicate=0.05, noise=0.05)
    schedule = smartconfig.transmission_schedule(b"HomeNet", b"hunter22", b"AY12345678abcd", preamble_rounds=2,
                                                 data_rounds=2)
    air.send_all(schedule)
    air.flush()
    path = tmp_path / "air.pcap"
    written = air_log_to_pcap(air.log, path)
    packets = rdpcap(str(path))
    assert written == len(packets) == len([r for r in air.log if r.fate != "held"])
    sent = [(r.kind, r.value) for r in air.log if r.fate != "held"]
    seen = [("length", p[EzLength].value) if EzLength in p else ("address", p[EzAddress].value) for p in packets]
    assert sorted(seen, key=str) == sorted(sent, key=str)
    first_address = next(p for p in packets if EzAddress in p)
    assert first_address[IP].ttl == 1 and first_address[UDP].dport == 30012
    assert first_address.dst == multicast_mac(first_address[IP].dst)
    first_length = next(p for p in packets if EzLength in p)
    assert first_length[IP].dst == "255.255.255.255" and first_length.dst == "ff:ff:ff:ff:ff:ff"


def test_an_empty_capture_is_still_a_pcap(tmp_path: Path) -> None:
    assert write_packets([], tmp_path / "empty.pcap") == 0
    assert len(rdpcap(str(tmp_path / "empty.pcap"))) == 0


def test_wire_records_become_packets_that_dissect(tmp_path: Path) -> None:
    legacy = apconfig.encode_ap_config("HomeNet", "pw", "AY12345678abcd")
    sealed = apconfig.encode_ap_cfg_request("HomeNet", "pw", "AY12345678abcd", seq=1, nonce=b"n" * 12)
    records = [
        WireRecord(1.0, "udp", "sent", ("10.231.0.1", 40000), ("255.255.255.255", 30011), bytes(7), "veth0"),
        WireRecord(1.1, "udp", "sent", ("10.231.0.1", 40001), ("226.120.89.84", 30012), b"\x00", "veth0"),
        WireRecord(1.2, "udp", "sent", ("10.231.0.1", 40002), ("10.231.0.2", 6669), legacy, "veth0"),
        WireRecord(1.3, "tcp", "sent", ("10.231.0.1", 40003), ("10.231.0.2", 6668), sealed, "veth0"),
    ]
    wire_records_to_pcap(records, tmp_path / "wire.pcap")
    packets = rdpcap(str(tmp_path / "wire.pcap"))
    assert packets[0][EzLength].value == 7
    assert packets[1][EzAddress].value == "226.120.89.84" and packets[1][IP].ttl == 1
    assert packets[2][TuyaAp55AA].frame().payload == apconfig.decode_ap_frame(legacy).payload
    assert packets[3][TuyaLpv35].open().data == apconfig.decode_lpv35_frame(sealed, key=apconfig.LPV35_APP_KEY).data


def test_cloud_ports_come_from_the_adapter_info() -> None:
    info = {"atop_url": "http://127.0.0.1:41000/d.json", "app_url": "http://127.0.0.1:41001", "mqtt": "127.0.0.1:41002"}
    assert cloud_ports(info) == [41000, 41001, 41002]


@needs_raw_sockets
def test_the_recorder_keeps_only_its_ports_and_each_packet_once(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        recorder = PcapRecorder(["lo"], udp_ports=[port], max_s=20).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(5):
                sender.sendto(bytes([i]) * 3, ("127.0.0.1", port))
                sender.sendto(b"other", ("127.0.0.1", port + 1 if port < 65535 else port - 1))
        packets = recorder.stop(tmp_path / "lo.pcap")
    assert [bytes(p[UDP].payload) for p in packets] == [bytes([i]) * 3 for i in range(5)]
    assert len(rdpcap(str(tmp_path / "lo.pcap"))) == 5


# ---------------------------------------------------------------------------------------------- a pairing


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = build_world(load_profile("camera-strong"), seed=11)
    try:
        yield built
    finally:
        built.close()


@needs_raw_sockets
def test_a_pairing_recorded_on_loopback_shows_atop_mqtt_and_the_ap_frame(world: World, tmp_path: Path) -> None:
    account = world.cloud.create_account("alice")
    home = world.cloud.create_home(account, "flat")
    world.network.add_access_point(b"HomeNet", b"hunter22")
    world.device.factory_reset()
    world.device.wait_pairing_mode(10)
    address = world.device.ap_address()
    assert isinstance(address, ApAddress) and address.udp_port
    bind_ap_ports(udp_port=address.udp_port)  # the emulated camera's ephemeral port, dissected as 6669 is
    atop_port, *_ = cloud_ports({"atop_url": world.cloud.info()["atop_url"]})
    mqtt_port = int(str(world.cloud.info()["mqtt"]).rpartition(":")[2])
    recorder = PcapRecorder(["lo"], tcp_ports=cloud_ports(world.cloud.info()), udp_ports=[address.udp_port],
                            max_s=60)
    recorder.start()
    try:
        activator = Activator(world.cloud, account=account, device=world.device, network=world.network,
                              ap=ApOptions(variant="legacy"))
        outcome = pair(activator, ActivatorMode.AP, "HomeNet", "hunter22", activator.get_token(home), timeout=100,
                       real_timeout_s=30)
    finally:
        recorder.stop(tmp_path / "pairing.pcap")
    assert outcome.ok, outcome.error

    packets = rdpcap(str(tmp_path / "pairing.pcap"))
    to_atop = [bytes(p[TCP].payload) for p in packets if TCP in p and p[TCP].dport == atop_port]
    assert any(payload.startswith(b"POST ") for payload in to_atop), "no HTTP POST to the ATOP endpoint"
    to_mqtt = [bytes(p[TCP].payload) for p in packets if TCP in p and p[TCP].dport == mqtt_port]
    # MQTT CONNECT: fixed header type 1 (0x10), then the protocol name "MQTT" or "MQIsdp"
    assert any(payload[:1] == b"\x10" and (b"MQTT" in payload[:16] or b"MQIsdp" in payload[:16])
               for payload in to_mqtt), "no MQTT CONNECT to the broker"
    ap_frames = [p[TuyaAp55AA] for p in packets if TuyaAp55AA in p and p[UDP].dport == address.udp_port]
    assert ap_frames, "no 55AA frame to the camera's AP"
    config = apconfig.parse_ap_config_payload(ap_frames[0].frame().payload)
    assert config.ssid == "HomeNet"
