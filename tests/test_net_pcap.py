"""Packet evidence: the in-memory air as a pcap, and a loopback capture of a pairing's HTTP, MQTT and AP traffic."""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from harness.adapters.contracts import ApAddress
from harness.adapters.registry import ProfileWorld, build_world
from harness.app.activator import Activator, ActivatorMode, ApOptions, pair
from harness.emulator.air import Air
from harness.net.layers import EzAddress, EzLength, TuyaAp55AA, TuyaLpv35, bind_ap_ports
from harness.net.pcap import (
    PcapRecorder,
    air_log_to_pcap,
    cloud_ports,
    frames_to_packets,
    mask_air_records,
    mask_ez_sequence,
    mask_packets,
    mask_payload,
    mask_secret_fields,
    mask_wire_records,
    multicast_mac,
    secret_masker,
    wire_record_packet,
    wire_records_to_pcap,
    write_frames,
    write_packets,
)
from harness.net.ring import RingCapture, select_flows
from harness.net.send import WireRecord
from harness.profiles import load_profile
from harness.protocol import apconfig, smartconfig
from harness.redaction import Redactor

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
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        for sock in (listener, other):
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(10.0)
        port, other_port = listener.getsockname()[1], other.getsockname()[1]
        recorder = PcapRecorder(["lo"], udp_ports=[port], max_s=20).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(5):
                sender.sendto(bytes([i]) * 3, ("127.0.0.1", port))
                sender.sendto(b"other", ("127.0.0.1", other_port))
        # Loopback delivers in the kernel's receive path, after sendto returns; packet sockets (the taps) get a
        # datagram before the UDP socket does, so once both listeners have all ten the taps have seen them all.
        received = [listener.recv(64) for _ in range(5)] + [other.recv(64) for _ in range(5)]
        assert received == [bytes([i]) * 3 for i in range(5)] + [b"other"] * 5
        packets = recorder.stop(tmp_path / "lo.pcap")
    assert [bytes(p[UDP].payload) for p in packets] == [bytes([i]) * 3 for i in range(5)]
    assert len(rdpcap(str(tmp_path / "lo.pcap"))) == 5


# ---------------------------------------------------------------------------------------------- a pairing


@pytest.fixture(scope="module")
def world() -> Iterator[ProfileWorld]:
    # Plain HTTP and MQTT, so that the capture shows the ATOP POST and the MQTT CONNECT in clear (with TLS on, as
    # camera-strong has it, the same flows are TLS records).
    profile = load_profile("camera-strong")
    plain = profile.model_copy(update={"parameters": profile.parameters.model_copy(update={"tls": False})})
    built = build_world(plain, seed=11)
    try:
        yield built
    finally:
        built.close()


@needs_raw_sockets
def test_a_pairing_recorded_on_loopback_shows_atop_mqtt_and_the_ap_frame(world: ProfileWorld, tmp_path: Path) -> None:
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


# ---------------------------------------------------------------------------------------------- masking

SECRET = "hunter22-SECRET"


def _decode(values: list[tuple[str, int | str]]) -> smartconfig.EzCredentials | None:
    receiver = smartconfig.SmartConfigReceiver()
    for kind, value in values:
        receiver.feed(smartconfig.Observation(kind, value))  # type: ignore[arg-type]
    return receiver.result


@pytest.mark.parametrize("tail", ["padded", "tuya-convert"])
@pytest.mark.parametrize("password", [b"", b"hunter22", SECRET.encode(), b"p" * 49, b"q" * 64])
def test_an_ez_transmission_is_rebuilt_with_its_password_masked_same_length(tail: str, password: bytes) -> None:
    schedule = smartconfig.transmission_schedule(b"HomeNet", password, b"AY" + SECRET.encode()[:12], tail=tail,  # type: ignore[arg-type]
                                                 preamble_rounds=2, data_rounds=2)
    sent = [(o.kind, o.value) for o in schedule]
    result = mask_ez_sequence(sent, secret_masker(Redactor([SECRET[:12]])))
    assert [type(v) for v in result.values] == [type(v) for _, v in sent] and result.zeroed == 0
    masked = [(kind, value) for (kind, _), value in zip(sent, result.values, strict=True)]
    assert result.bodies == 2 and result.sections == 6
    credentials = _decode(masked)
    assert credentials is not None
    assert credentials.password == b"*" * len(password) and credentials.ssid == b"HomeNet"
    assert credentials.token == b"AY" + b"*" * 12
    for channel in ("broadcast", "multicast"):  # each channel alone decodes to the same
        alone = [(k, v) for k, v in masked if (k == "length") == (channel == "broadcast")]
        assert _decode(alone) == credentials


def test_the_air_log_is_masked_per_transmission_whatever_the_air_did() -> None:
    air = Air(seed=5, loss=0.1, duplicate=0.1, reorder=0.1, noise=0.1)
    air.send_all(smartconfig.transmission_schedule(b"HomeNet", SECRET.encode(), b"AY12345678abcd",
                                                   preamble_rounds=2, data_rounds=2))
    air.flush()
    air.send_all(smartconfig.transmission_schedule(b"Other", b"second-pass", b"AY12345678abcd",
                                                   preamble_rounds=1, data_rounds=1, channels=("broadcast",)))
    log = air.log
    assert {r.fate for r in log} >= {"lost", "duplicated", "held", "released", "noise"}
    records, notes = mask_air_records(log, secret_masker())
    assert len(records) == len(log) and "2 transmission(s)" in notes[0]
    for tx, expected in ((1, (b"HomeNet", len(SECRET))), (2, (b"Other", len(b"second-pass")))):
        clean = {r.index: (m.kind, m.value) for r, m in zip(log, records, strict=True) if r.tx == tx and
                 r.index is not None}
        credentials = _decode([clean[i] for i in sorted(clean)])
        assert credentials is not None and (credentials.ssid, len(credentials.password)) == expected
        assert set(credentials.password) == {ord("*")}
    assert [m.value for r, m in zip(log, records, strict=True) if r.fate == "noise"] == \
        [r.value for r in log if r.fate == "noise"]
    path_packets = air_log_to_pcap(records, Path(os.devnull))
    assert path_packets == len([r for r in records if r.fate != "held"])


def test_what_is_no_body_is_zeroed() -> None:
    body = smartconfig.encode_broadcast(b"HomeNet", SECRET.encode(), b"AY12345678abcd")
    sections = smartconfig.encode_multicast(b"HomeNet", SECRET.encode(), b"AY12345678abcd")
    cut = [("length", v) for v in body[:-6]] + [("address", a) for a in sections[4:-3]]
    result = mask_ez_sequence(cut, secret_masker())  # type: ignore[arg-type]
    assert result.bodies == 0 and result.sections == 1 and result.zeroed > 0  # only the password section is whole
    lengths = [int(v) for (k, _), v in zip(cut, result.values, strict=True) if k == "length"]
    assert lengths[:4] == body[:4] and set(lengths[4:]) == {0x80, 0x100}
    addresses = [str(v) for (k, _), v in zip(cut, result.values, strict=True) if k == "address"]
    assert all(a.endswith(".0.0") for a in addresses if int(a.split(".")[1]) >= smartconfig.TOKEN_BASE)
    assert all(not a.endswith(".0.0") for a in addresses if int(a.split(".")[1]) < smartconfig.TOKEN_BASE)


def test_json_members_named_like_secrets_are_masked_with_their_escapes() -> None:
    data = b'{"ssid":"net","passwd":"a\\"b\\\\c","localKey":"0123456789abcdef","token":"AY1"}'
    masked = mask_secret_fields(data)
    assert len(masked) == len(data)
    assert masked == b'{"ssid":"net","passwd":"*******","localKey":"****************","token":"AY1"}'


def test_learned_secrets_are_masked_same_length_in_every_spelling() -> None:
    redactor = Redactor([SECRET])
    raw = SECRET.encode()
    data = b"|".join([raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw),
                      urllib.parse.quote(SECRET).encode()])
    masked = redactor.mask_bytes(data)
    assert len(masked) == len(data) and set(masked) <= {ord("*"), ord("|")}


def test_a_55aa_frame_is_rebuilt_masked_with_its_crc_and_a_wrong_crc_stays_wrong() -> None:
    mask = secret_masker(Redactor([SECRET]))
    frame = apconfig.encode_ap_config("HomeNet", SECRET, "AY12345678abcd", style="compact")
    notes: list[str] = []
    clean = mask_payload(frame, mask, notes)
    assert len(clean) == len(frame) and SECRET.encode() not in clean
    config = apconfig.decode_ap_config(clean)  # the CRC-32 holds
    assert config.password == "*" * len(SECRET) and config.ssid == "HomeNet"
    broken = frame[:-8] + bytes([frame[-8] ^ 0xFF]) + frame[-7:]
    unclean = mask_payload(broken, mask, notes)
    assert unclean[-8:-4] == broken[-8:-4] and any("kept wrong" in n for n in notes)
    assert apconfig.decode_ap_config(unclean, check_crc=False).password == "*" * len(SECRET)


def test_an_lpv35_frame_is_opened_masked_and_sealed_again_with_its_nonce() -> None:
    mask = secret_masker(Redactor([SECRET]))
    nonce = b"n" * 12
    sealed = apconfig.encode_ap_cfg_request("HomeNet", SECRET, "AY12345678abcd", seq=3, nonce=nonce)
    other = apconfig.encode_lpv35_frame(0x14, b'{"passwd":"x"}', seq=4, key=b"k" * 16, nonce=nonce)
    notes: list[str] = []
    clean = mask_payload(sealed + other, mask, notes)
    assert len(clean) == len(sealed + other)
    opened = apconfig.decode_lpv35_frame(clean[:len(sealed)], key=apconfig.LPV35_APP_KEY)
    assert opened.nonce == nonce and opened.seq == 3
    assert apconfig.parse_ap_cfg_request(opened.data).password == "*" * len(SECRET)
    rest = clean[len(sealed):]
    assert rest[:30] == other[:30] and not any(rest[30:-4]) and rest[-4:] == apconfig.LPV35_SUFFIX
    assert any("does not open" in n for n in notes)


def _mqtt_connect(password: bytes, *, level: int = 4) -> bytes:
    def string(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    variable = string(b"MQTT") + bytes([level, 0xC2]) + (60).to_bytes(2, "big")
    if level == 5:
        variable += b"\x03\x21\x00\x0a"  # properties: receive maximum 10
    payload = string(b"client") + string(b"user") + string(password)
    body = variable + payload
    return b"\x10" + bytes([len(body)]) + body


@pytest.mark.parametrize("level", [4, 5])
def test_an_mqtt_connect_password_is_masked_even_when_nobody_learned_it(level: int) -> None:
    connect = _mqtt_connect(b"not-learned-pw", level=level)
    clean = mask_payload(connect + b"\x30\x02\x00\x00", secret_masker())
    assert clean == connect.replace(b"not-learned-pw", b"*" * 14) + b"\x30\x02\x00\x00"


def test_a_secret_split_across_tcp_segments_is_masked_and_checksums_hold() -> None:
    body = f'POST /x HTTP/1.1\r\n\r\n{{"note":"{SECRET}"}}'.encode()
    cut = body.index(SECRET.encode()) + 4
    base = Ether() / IP(src="127.0.0.1", dst="127.0.0.1")
    segments = [base / TCP(sport=40000, dport=8080, seq=1000, flags="PA") / Raw(body[:cut]),
                base / TCP(sport=40000, dport=8080, seq=1000 + cut, flags="PA") / Raw(body[cut:])]
    for n, segment in enumerate(segments):
        segment.time = float(n)
    packets, _ = mask_packets(segments, secret_masker(Redactor([SECRET])))
    joined = b"".join(bytes(p[TCP].payload) for p in packets)
    assert len(joined) == len(body) and SECRET.encode()[:4] not in joined and b"*" * len(SECRET) in joined
    for packet in packets:
        again = packet.copy()
        del again[TCP].chksum
        assert Ether(bytes(again))[TCP].chksum == packet[TCP].chksum
    assert [float(p.time) for p in packets] == [0.0, 1.0]


def test_wire_records_are_masked_ez_and_ap_alike(tmp_path: Path) -> None:
    records = [WireRecord(float(n), "udp", "sent", ("10.231.0.1", 40000), o.destination, o.payload, "veth0")
               for n, o in enumerate(smartconfig.transmission_schedule(b"HomeNet", SECRET.encode(), b"AY12345678abcd",
                                                                        preamble_rounds=1, data_rounds=1))]
    legacy = apconfig.encode_ap_config("HomeNet", SECRET, "AY12345678abcd")
    records.append(WireRecord(1e6, "udp", "sent", ("10.231.0.1", 40002), ("10.231.0.2", 6669), legacy, "veth0"))
    packets, notes = mask_packets([wire_record_packet(r) for r in records], secret_masker(Redactor([SECRET])))
    observations = [("length", len(bytes(p[UDP].payload))) if p[UDP].dport == 30011 else ("address", p[IP].dst)
                    for p in packets if p[UDP].dport in (30011, 30012)]
    credentials = _decode(observations)  # type: ignore[arg-type]
    assert credentials is not None and credentials.password == b"*" * len(SECRET)
    assert packets[-1][TuyaAp55AA].frame().payload.count(b"*") == len(SECRET)
    assert any(n.startswith("EZ:") for n in notes)
    frames, notes = mask_wire_records(records, secret_masker(Redactor([SECRET])))  # raw, for long schedules
    assert write_frames(frames, tmp_path / "wire.pcap") == len(records)
    again = rdpcap(str(tmp_path / "wire.pcap"))
    assert [bytes(p) for p in again] == [bytes(p) for p in packets]
    assert [float(p.time) for p in again] == [r.t for r in records] and notes[0].startswith("EZ:")


@needs_raw_sockets
def test_the_ring_keeps_loopback_frames_and_a_cut_selects_flows_by_port() -> None:
    ring = RingCapture("lo", poll_s=0.05).start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mine, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            mine.bind(("127.0.0.1", 0))
            other.bind(("127.0.0.1", 0))
            port, other_port = mine.getsockname()[1], other.getsockname()[1]
            start = time.time()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for i in range(3):
                    sender.sendto(bytes([i]) * 5, ("127.0.0.1", port))
                    sender.sendto(b"not mine", ("127.0.0.1", other_port))
            # the kernel hands loopback frames to packet sockets a moment later (softirq): poll, bounded
            deadline = time.monotonic() + 5.0
            while len(frames := select_flows(ring.window(start), udp_ports=[port])) < 3 \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        ring.stop()
    packets = frames_to_packets(frames)
    assert [bytes(p[UDP].payload) for p in packets] == [bytes([i]) * 5 for i in range(3)]
    assert all(start - 1 <= float(p.time) <= time.time() for p in packets)
    assert not ring.running
