"""MQTT 3.1.1 packets (harness.protocol.mqttpacket): bytes as the spec lays them out, round trips, the reader fed
whole and one byte at a time, and the fuzz invariant (parse or RemoteProtocolError, nothing else)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.protocol.errors import LocalProtocolError, RemoteProtocolError
from harness.protocol.mqttpacket import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketReader,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    decode_packet,
)

# (packet, its bytes as MQTT 3.1.1 lays them out)
VECTORS: list[tuple[Packet, bytes]] = [
    # §3.1: fixed header 0x10, "MQTT" level 4, flags user+password+clean (0xC2), keepalive 120, then the strings
    (Connect("dev1", "dev1", "pw", keepalive=120),
     bytes.fromhex("101a") + b"\x00\x04MQTT\x04\xc2\x00\x78" + b"\x00\x04dev1" + b"\x00\x04dev1" + b"\x00\x02pw"),
    (Connect("c", keepalive=0, clean_session=False), bytes.fromhex("100d") + b"\x00\x04MQTT\x04\x00\x00\x00\x00\x01c"),
    (ConnAck(False, 0), bytes.fromhex("20020000")),
    (ConnAck(True, 5), bytes.fromhex("20020105")),
    (Publish("a/b", b"hi"), bytes.fromhex("3007") + b"\x00\x03a/bhi"),
    (Publish("a/b", b"hi", qos=1, packet_id=10, retain=True, dup=True),
     bytes.fromhex("3b09") + b"\x00\x03a/b\x00\x0ahi"),
    (PubAck(513), bytes.fromhex("40020201")),
    (Subscribe(1, (("smart/device/in/x", 1),)), bytes.fromhex("8216") + b"\x00\x01\x00\x11smart/device/in/x\x01"),
    (SubAck(1, (1, 0x80)), bytes.fromhex("9004") + b"\x00\x01\x01\x80"),
    (PingReq(), bytes.fromhex("c000")),
    (PingResp(), bytes.fromhex("d000")),
    (Disconnect(), bytes.fromhex("e000")),
]


@pytest.mark.parametrize(("packet", "wire"), VECTORS, ids=[type(p).__name__ for p, _ in VECTORS])
def test_packets_encode_as_the_spec_lays_them_out_and_decode_back(packet: Packet, wire: bytes) -> None:
    assert packet.encode() == wire
    assert decode_packet(wire) == packet


def test_the_remaining_length_takes_more_bytes_past_127() -> None:
    # MQTT 3.1.1 §2.2.3: 321 = 0xC1 0x02
    packet = Publish("t", b"x" * 318)
    wire = packet.encode()
    assert wire[1:3] == bytes([0xC1, 0x02]) and len(wire) == 3 + 321
    assert decode_packet(wire) == packet


def test_the_reader_takes_a_stream_whole_or_one_byte_at_a_time() -> None:
    stream = b"".join(wire for _, wire in VECTORS)
    whole = PacketReader()
    whole.feed(stream)
    got = []
    while (packet := whole.next_packet()) is not None:
        got.append(packet)
    assert got == [p for p, _ in VECTORS]
    trickle = PacketReader()
    got = []
    for byte in stream:
        trickle.feed(bytes([byte]))
        while (packet := trickle.next_packet()) is not None:
            got.append(packet)
    assert got == [p for p, _ in VECTORS] and trickle.buffered == 0


@pytest.mark.parametrize(("wire", "why"), [
    (bytes.fromhex("3002000178"), "truncated"),             # topic length 1 but the body ends
    (bytes.fromhex("36050001740001"), "QoS 3"),
    (bytes.fromhex("3405000174000178"), "QoS 2"),
    (bytes.fromhex("32050001740000"), "identifier 0"),
    (bytes.fromhex("300400012b78"), "wildcard"),
    (bytes.fromhex("21020000"), "flags"),
    (bytes.fromhex("20020009"), "return code"),
    (bytes.fromhex("20020200"), "reserved"),
    (bytes.fromhex("9003000103"), "return codes"),
    (bytes.fromhex("f000"), "reserved"),
    (bytes.fromhex("00"), "not exactly one"),
    (bytes.fromhex("30ffffffff7f"), "four bytes"),
    (bytes.fromhex("c00100"), "too many"),
    (bytes.fromhex("300500025f") + b"\xff\xfe", "UTF-8"),
])
def test_malformed_packets_are_remote_protocol_errors(wire: bytes, why: str) -> None:
    with pytest.raises(RemoteProtocolError, match=why):
        decode_packet(wire)


def test_a_broken_stream_stays_broken() -> None:
    reader = PacketReader()
    reader.feed(bytes.fromhex("f000"))
    with pytest.raises(RemoteProtocolError):
        reader.next_packet()
    with pytest.raises(RemoteProtocolError):
        reader.feed(PingResp().encode())


def test_a_reader_refuses_a_packet_larger_than_its_limit_before_buffering_it() -> None:
    reader = PacketReader(max_packet=100)
    reader.feed(bytes([0x30]) + bytes([0xE9, 0x07]))  # announces 1001 bytes
    with pytest.raises(RemoteProtocolError, match="over this reader"):
        reader.next_packet()


@pytest.mark.parametrize("build", [
    lambda: Publish("a/#", b""), lambda: Publish("a", b"", qos=1), lambda: Publish("a", b"", packet_id=3),
    lambda: Publish("a", b"", qos=2, packet_id=1), lambda: Connect("c", password="p"),
    lambda: Connect("c", keepalive=70000), lambda: Subscribe(0, (("a", 1),)), lambda: Subscribe(1, ()),
    lambda: Connect("a\x00b"),
])
def test_packets_that_break_the_spec_cannot_be_built(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


def test_the_password_is_not_in_the_repr() -> None:
    assert "s3cret-pass" not in repr(Connect("c", "u", "s3cret-pass"))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_a_remote_protocol_error(data: bytes) -> None:
    reader = PacketReader(max_packet=4096)
    try:
        reader.feed(data)
        while reader.next_packet() is not None:
            pass
    except RemoteProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_characters="\x00+#", blacklist_categories=("Cs",)), min_size=1,
               max_size=40), st.binary(max_size=300), st.integers(1, 0xFFFF), st.booleans())
def test_any_valid_publish_round_trips(topic: str, payload: bytes, packet_id: int, retain: bool) -> None:
    packet = Publish(topic, payload, qos=1, packet_id=packet_id, retain=retain)
    assert decode_packet(packet.encode()) == packet
