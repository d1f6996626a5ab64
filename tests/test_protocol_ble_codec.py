"""BLE provisioning codec layers (PROTOCOL.md §9.3-§9.7): round trips, refusals with their reasons, and the
decoder invariant (any bytes, whole or cut at every length, parse or raise ProtocolError, nothing else)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol.ble import (
    AdvertisementV3,
    AdvertisementV4,
    BleError,
    BleFault,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    DeviceInfoTail,
    Envelope,
    Frame,
    Generation,
    NetworkStatusReport,
    OtherCommand,
    PacketAbandoned,
    Padding,
    PairAnswer,
    PairRequest,
    ReassembledPacket,
    Reassembler,
    ResetAnswer,
    ResetRequest,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    advertise_v3,
    advertise_v4,
    ble_id,
    frame_control,
    generation_of,
    parse_advertisement,
    parse_app_message,
    parse_device_message,
    parse_scan_record,
    parse_wifi_json,
    seal,
    split_packet,
)
from harness.protocol.ble import security as sec
from harness.protocol.ble.advertisement import (
    FRAME_CONTROL_BSDK,
    FRAME_CONTROL_CK,
    FRAME_CONTROL_TUYAOPEN,
    ManufacturerDataV3,
    ManufacturerDataV4,
    ServiceDataV3,
    ServiceDataV4,
    parse_ad_structures,
)
from harness.protocol.ble.messages import BSDK_WIFI_KEYS, Cmd
from harness.protocol.ble.transport import SubPacket, decode_varint, encode_varint
from harness.protocol.errors import LocalProtocolError, ProtocolError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTH_KEY = b"keyAbCdEfGhIjKlMnOpQrStUvWxYz012"
UUID = "uuid0123456789abcdef"
ID16 = ble_id(UUID)
KEY = bytes(range(16))
IV = bytes(range(16, 32))


# ---------------------------------------------------------------------------------------------- §9.4 transport


def test_varint_examples_and_limits() -> None:
    assert encode_varint(33) == b"\x21" and encode_varint(161) == b"\xa1\x01"  # §9.4's examples
    assert decode_varint(b"\xa1\x01") == (161, 2)
    assert decode_varint(encode_varint((1 << 28) - 1)) == ((1 << 28) - 1, 4)
    with pytest.raises(LocalProtocolError):
        encode_varint(1 << 28)
    for bad in (b"", b"\x80", b"\xff\xff\xff\xff\x01"):
        with pytest.raises(BleError) as caught:
            decode_varint(bad)
        assert caught.value.reason is BleFault.SUB_PACKET


@FAST
@given(value=st.integers(0, (1 << 28) - 1))
def test_varint_round_trips(value: int) -> None:
    assert decode_varint(encode_varint(value) + b"tail") == (value, len(encode_varint(value)))


def _packets(writes: list[bytes], receiver: Reassembler | None = None) -> list[object]:
    receiver = receiver or Reassembler()
    return [event for write in writes for event in receiver.receive(write)]


@FAST
@given(packet=st.binary(min_size=1, max_size=600), size=st.integers(5, 244), version=st.integers(0, 15),
       seq=st.integers(0, 40))
def test_split_and_reassemble_round_trip_for_any_write_size(packet: bytes, size: int, version: int, seq: int) -> None:
    writes = split_packet(packet, size, version=version, seq=seq)
    assert all(len(w) <= size for w in writes)
    assert _packets(writes) == [ReassembledPacket(packet, version, seq % 16, len(writes))]


@FAST
@given(packet=st.binary(min_size=1, max_size=300), size=st.integers(5, 40), data=st.data())
def test_reassembly_tolerates_reordering_and_duplicates(packet: bytes, size: int, data: st.DataObject) -> None:
    writes = split_packet(packet, size)
    order = data.draw(st.permutations(writes))
    dupes = data.draw(st.lists(st.sampled_from(writes), max_size=4))
    positions = [data.draw(st.integers(0, len(order) + i)) for i in range(len(dupes))]
    stream = list(order)
    for write, at in zip(dupes, positions, strict=True):
        stream.insert(at, write)
    receiver = Reassembler()
    events = _packets(stream, receiver)
    assert [e.data for e in events if isinstance(e, ReassembledPacket)] == [packet]
    assert not any(isinstance(e, PacketAbandoned) for e in events)
    assert not receiver.in_progress and receiver.held_bytes == 0


def test_a_lost_sub_packet_shows_when_the_next_packet_begins() -> None:
    first, second = bytes(range(60)), bytes(range(100, 130))
    writes = split_packet(first, 20)
    receiver = Reassembler()
    assert _packets([writes[0], writes[2]], receiver) == []
    assert receiver.in_progress
    events = _packets(split_packet(second, 20), receiver)
    assert events[0] == PacketAbandoned(total_len=60, received=len(writes[0]) - 3 + len(writes[2]) - 1, missing=(1,))
    assert isinstance(events[1], ReassembledPacket) and events[1].data == second
    assert receiver.abandoned == 1


def test_a_late_duplicate_of_a_completed_packet_is_ignored() -> None:
    writes = split_packet(b"x" * 50, 20)
    receiver = Reassembler()
    assert len(_packets(writes, receiver)) == 1
    assert _packets(writes, receiver) == []  # the whole packet again: every sub-packet is a late duplicate
    assert receiver.duplicates == len(writes)


def test_continuations_before_their_first_sub_packet_are_adopted() -> None:
    packet = bytes(range(70))
    writes = split_packet(packet, 20)
    assert [e.data for e in _packets(writes[1:] + writes[:1]) if isinstance(e, ReassembledPacket)] == [packet]


def test_bytes_past_total_len_are_cut_off() -> None:
    """§9.4: CK pads its last notification past the packet; a receiver caps at total_len."""
    writes = split_packet(b"abcdefghij" * 3, 20)
    padded = [*writes[:-1], writes[-1] + b"\x00" * 5]
    (packet,) = _packets(padded)
    assert isinstance(packet, ReassembledPacket) and packet.data == b"abcdefghij" * 3


@pytest.mark.parametrize(("writes", "reason"), [
    ([b"\x00\x00\x40"], BleFault.TOO_LONG),  # total_len 0
    ([b"\x00" + encode_varint(5000) + b"\x40xx"], BleFault.TOO_LONG),  # above max_packet_len
    ([b"\x00\x05"], BleFault.SUB_PACKET),  # no version byte
    ([b"\x00\x30\x40" + bytes(10), b"\x01"], BleFault.REASSEMBLY),  # empty continuation
    ([b"\x00\x30\x40" + bytes(10), b"\x31abc"], BleFault.REASSEMBLY),  # number beyond any packet of 48 bytes
    ([b"\x00\x30\x40" + bytes(10), b"\x01abc", b"\x01abd"], BleFault.REASSEMBLY),  # conflicting duplicate
])
def test_reassembly_refusals_say_why(writes: list[bytes], reason: BleFault) -> None:
    receiver = Reassembler()
    with pytest.raises(BleError) as caught:
        _packets(writes, receiver)
    assert caught.value.reason is reason


def test_orphans_are_bounded() -> None:
    receiver = Reassembler(max_packet_len=100)
    with pytest.raises(BleError) as caught:
        _packets([encode_varint(n) + bytes(30) for n in range(1, 6)], receiver)
    assert caught.value.reason is BleFault.REASSEMBLY and receiver.held_bytes == 0


@FAST
@given(writes=st.lists(st.binary(max_size=60), max_size=30))
def test_reassembler_memory_stays_bounded_on_garbage(writes: list[bytes]) -> None:
    receiver = Reassembler(max_packet_len=200)
    for write in writes:
        with contextlib.suppress(ProtocolError):
            receiver.receive(write)
        assert receiver.held_bytes <= 2 * (200 + 244) + 4 * 200


def test_split_refuses_what_cannot_be_split() -> None:
    for call in (lambda: split_packet(b"", 20), lambda: split_packet(b"x" * 10, 3), lambda: split_packet(b"x", 0)):
        with pytest.raises(LocalProtocolError):
            call()
    assert SubPacket.parse(b"\x00\x21\x45abc") == SubPacket(0, b"abc", total_len=33, version=4, seq=5)


# ---------------------------------------------------------------------------------------------- §9.5 frame


@FAST
@given(sn=st.integers(0, 2**32 - 1), ack=st.integers(0, 2**32 - 1), cmd=st.integers(0, 0xFFFF),
       data=st.binary(max_size=300), padding=st.sampled_from(list(Padding)))
def test_frame_round_trips_through_every_padding(sn: int, ack: int, cmd: int, data: bytes, padding: Padding) -> None:
    frame = Frame(sn, ack, cmd, data)
    packet = seal(frame.encode(), mode=12, key=KEY, iv=IV, padding=padding)
    assert Frame.parse(Envelope.parse(packet).decrypt(KEY)) == frame


def test_frame_refusals_say_which_check_failed() -> None:
    good = Frame(1, 0, 0, b"\x00\x14").encode()
    bad_crc = Frame(1, 0, 0, b"\x00\x14").encode(crc=0x1234)
    cases = [(good[:13], BleFault.LENGTH), (good + bytes(17), BleFault.LENGTH), (bad_crc, BleFault.CRC),
             (good[:10] + b"\x00\x09" + good[12:], BleFault.LENGTH)]
    for data, reason in cases:
        with pytest.raises(BleError) as caught:
            Frame.parse(data)
        assert caught.value.reason is reason
    assert Frame.parse(good + bytes(16)) == Frame(1, 0, 0, b"\x00\x14")  # a whole pad block is accepted


def test_every_bit_flip_of_a_frame_is_refused() -> None:
    frame = Frame(3, 0, Cmd.TRANSPARENT_DOWN, b"\x00\x00\x00\x01{}").encode()
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(BleError):
            Frame.parse(bytes(flipped))


# ---------------------------------------------------------------------------------------------- §9.6 security


def test_envelope_refusals_and_mode_zero() -> None:
    for packet in (b"", b"\x0b" + bytes(16), b"\x0b" + bytes(16 + 15)):
        with pytest.raises(BleError) as caught:
            Envelope.parse(packet)
        assert caught.value.reason is BleFault.ENVELOPE
    plain = Frame(1, 0, 0, b"\x00\x14").encode()
    packet = seal(plain, mode=0, key=None, iv=None)
    assert packet == b"\x00" + plain and Envelope.parse(packet).decrypt(None) == plain
    with pytest.raises(BleError) as caught:
        Envelope.parse(seal(plain, mode=12, key=KEY, iv=IV)).decrypt(None)
    assert caught.value.reason is BleFault.NO_KEY
    for call in (lambda: seal(plain, mode=0, key=KEY, iv=None), lambda: seal(plain, mode=12, key=None, iv=IV),
                 lambda: seal(plain, mode=12, key=KEY, iv=b"short"), lambda: Envelope(12, None, bytes(16))):
        with pytest.raises(LocalProtocolError):
            call()


def test_ble_id_quirks() -> None:
    # §9.6.5: a character outside [0-9a-zA-Z] keeps the previous 6-bit value (TO, CK) or counts 0 (AK).
    kept = ble_id("uuid0123456789abcde-")
    assert kept == ble_id("uuid0123456789abcdee")
    assert ble_id("uuid0123456789abcde-", invalid="zero") == ble_id("uuid0123456789abcde0")
    assert ble_id("uuid0123456789abcdefXYZ") == ID16  # only the first 20 characters count
    assert ble_id("abcdefghijklmnopqr") == b"abcdefghijklmnop"  # 16..19 characters: the first 16 ASCII bytes
    for bad in ("short", "ünïcode0123456789abc"):
        with pytest.raises(LocalProtocolError):
            ble_id(bad)
    for id16, compressed in ((bytes(15) + b"\x00", True), (b"\xff" * 16, True), (b"\x00" * 16, False)):
        with pytest.raises(BleError):
            sec.uuid_from_ble_id(id16, compressed=compressed)


@pytest.mark.parametrize(("generation", "cmd", "mode"), [
    (Generation.V2, Cmd.DEVICE_INFO, 11), (Generation.V2, Cmd.PAIR, 12), (Generation.V2, Cmd.TRANSPARENT_DOWN, 12),
    (Generation.V1, Cmd.DEVICE_INFO, 1), (Generation.V1, Cmd.PAIR, 2), (Generation.V1, Cmd.WIFI_CONFIG_V1, 2),
])
def test_expected_mode_pairs_each_command_with_one_mode(generation: Generation, cmd: int, mode: int) -> None:
    assert sec.expected_mode(generation, cmd) == mode
    assert sec.EncryptionMode.NONE not in (sec.expected_mode(generation, cmd),)


def test_bound_session_modes() -> None:
    assert sec.expected_mode(Generation.V2, Cmd.DEVICE_INFO, bound_session=True) == 14
    assert sec.expected_mode(Generation.V2, Cmd.PAIR, bound_session=True) == 15
    with pytest.raises(LocalProtocolError):
        sec.session_mode(Generation.V1, bound_session=True)


# ---------------------------------------------------------------------------------------------- §9.3 advertising


def test_frame_control_builder() -> None:
    assert frame_control() == FRAME_CONTROL_TUYAOPEN == 0x430C
    assert frame_control(v2_supported=False, v2_enabled=False) == FRAME_CONTROL_CK
    assert frame_control(v2_supported=False, v2_enabled=False, connection_request=False) == FRAME_CONTROL_BSDK
    assert frame_control(bound=True) & 0x0800 and frame_control(connectivity=2) & 0x0040


def test_bound_v4_advertisement_round_trips() -> None:
    bound_id = sec.bound_advertised_id(ID16, b"fedcba9876543210")
    built = advertise_v4(id16=ID16, id_field=bound_id, frame_control_value=frame_control(bound=True))
    assert built.manufacturer is not None and built.manufacturer.flag == 0x81  # compressed + bound (TO)
    parsed = parse_advertisement(*built.encode())
    assert parsed == built and isinstance(parsed, AdvertisementV4) and parsed.service.bound
    assert parsed.ble_id() == ID16


def test_twenty_byte_ids_and_the_31_byte_limit() -> None:
    pid20 = b"p" * 20
    with pytest.raises(LocalProtocolError):
        advertise_v4(id16=ID16, id_field=pid20).encode()  # with the UUID list it is 35 bytes
    service = ServiceDataV4(frame_control=FRAME_CONTROL_BSDK, id_field=pid20)
    lean = AdvertisementV4(service=service, include_uuid_list=False, name=None)
    assert parse_advertisement(*lean.encode()) == lean


def test_v3_advertisement_round_trips_and_bleak_keys() -> None:
    built = advertise_v3(id16=b"c60199314ac46585", id_field=b"keynremrcjf97twe", flag=0x09)
    adv, scan = built.encode()
    assert len(adv) <= 31 and len(scan) <= 31
    assert parse_advertisement(adv, scan) == built == parse_advertisement(adv + scan)
    assert built.ble_id() == b"c60199314ac46585" and generation_of(built) is Generation.V1
    assert built.manufacturer is not None
    view = parse_scan_record({"a201": built.service.encode()}, {0x07D0: built.manufacturer.encode()}, name="TY")
    assert isinstance(view, AdvertisementV3) and view.service == built.service


@pytest.mark.parametrize(("adv", "scan"), [
    (b"\x05\x16\x50\xfd", b""),  # AD length past the end
    (b"\x02\x01\x06", b""),  # no Tuya service data
    (bytes.fromhex("071650fd430c0010"), b""),  # ID shorter than its length byte
    (bytes.fromhex("171650fd430c0010") + bytes(16), bytes.fromhex("05ffd00700000c")),  # short manufacturer data
    (bytes.fromhex("051601a201aa"), b""),  # v3 service data too short
])
def test_advertisement_refusals(adv: bytes, scan: bytes) -> None:
    with pytest.raises(BleError) as caught:
        parse_advertisement(adv, scan)
    assert caught.value.reason is BleFault.ADVERTISEMENT


def test_generation_follows_frame_control_bit_3() -> None:
    def with_fc(value: int) -> AdvertisementV4:
        return AdvertisementV4(service=ServiceDataV4(frame_control=value, id_field=b"p" * 16))

    assert generation_of(with_fc(0x430C)) is Generation.V2
    assert generation_of(with_fc(0x4300)) is Generation.V1
    assert generation_of(with_fc(0x4304)) is Generation.V1  # supported but not enabled


# ---------------------------------------------------------------------------------------------- §9.7 messages

APP_MESSAGES = [DeviceInfoRequest(20), DeviceInfoRequest(None), PairRequest(ID16), PairRequest(ID16, b""),
                WifiConfigV2(b'{"ssid":"a"}', flag=1, subcommand=3), WifiConfigV1(b"{}"),
                ResetRequest(Cmd.UNBIND, b"x"), ResetRequest(Cmd.DEVICE_RESET), OtherCommand(0x1234, b"data")]
DEVICE_MESSAGES = [DeviceInfoAnswer(srand=bytes(6), register_field=bytes(32), tail=b""), PairAnswer(2),
                   NetworkStatusReport(1), WifiConfigAnswerV2(0xF8), WifiConfigAnswerV1(0xF7),
                   ResetAnswer(Cmd.DEVICE_RESET), OtherCommand(0x8001, b"")]


@pytest.mark.parametrize("message", APP_MESSAGES, ids=repr)
def test_app_messages_round_trip(message: Any) -> None:
    assert parse_app_message(Frame(1, 0, message.cmd, message.encode_data())) == message


@pytest.mark.parametrize("message", DEVICE_MESSAGES, ids=repr)
def test_device_messages_round_trip(message: Any) -> None:
    assert parse_device_message(Frame(1, 1, message.cmd, message.encode_data())) == message


@pytest.mark.parametrize(("cmd", "data", "parse"), [
    (Cmd.DEVICE_INFO, b"\x00", parse_app_message), (Cmd.DEVICE_INFO, b"\x00\x14\x00", parse_app_message),
    (Cmd.PAIR, bytes(15), parse_app_message), (Cmd.TRANSPARENT_DOWN, b"\x00\x00\x00", parse_app_message),
    (Cmd.DEVICE_INFO, bytes(54), parse_device_message), (Cmd.PAIR, b"", parse_device_message),
    (Cmd.PAIR, b"\x00\x00", parse_device_message), (Cmd.TRANSPARENT_UP, bytes(4), parse_device_message),
    (Cmd.NET_STATUS, b"", parse_device_message), (Cmd.UNBIND, b"", parse_device_message),
])
def test_message_layout_refusals(cmd: int, data: bytes, parse: Callable[[Frame], object]) -> None:
    with pytest.raises(BleError) as caught:
        parse(Frame(1, 0, cmd, data))
    assert caught.value.reason is BleFault.PAYLOAD


def test_device_info_tail_is_parsed_leniently() -> None:
    answer = DeviceInfoAnswer(srand=bytes(6), register_field=bytes(32), tail=b"\x08" + bytes(8))  # AK-like
    assert DeviceInfoAnswer.parse(answer.encode_data()) == answer  # the fixed part is enough
    with pytest.raises(BleError):
        DeviceInfoTail.parse(answer.tail)
    with pytest.raises(BleError):
        DeviceInfoTail.parse(DeviceInfoTail().encode()[:-1])  # the last field runs past the end
    assert DeviceInfoTail.parse(DeviceInfoTail(fields=()).encode()).packet_max_size is None


CREDS = WifiCredentials("HomeNet", "hunter22", "EUAbCd1234WWB3")


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", BleFault.JSON), (b"{", BleFault.JSON), (b"[1]", BleFault.JSON), (b'{"ssid":"a","ssid":"b"}', BleFault.JSON),
    (b"\xff{}", BleFault.JSON), (b'{"ssid":"HomeNet","token":"EUAbCd1234WWB3"}', BleFault.MISSING_KEY),
    (b'{"ssid":"HomeNet","pwd":"x"}', BleFault.MISSING_KEY),
    (b'{"ssid":1,"pwd":"x","token":"t"}', BleFault.MISSING_KEY),
    (b'{"ssid":"","pwd":"x","token":"t"}', BleFault.MISSING_KEY),
    (json.dumps({"ssid": "s" * 33, "pwd": "", "token": "t"}).encode(), BleFault.MISSING_KEY),
    (json.dumps({"ssid": "s", "pwd": "p" * 65, "token": "t"}).encode(), BleFault.MISSING_KEY),
    (json.dumps({"ssid": "s", "pwd": "", "token": "t" * 17}).encode(), BleFault.MISSING_KEY),
])
def test_wifi_json_refusals_carry_the_result_code_reason(payload: bytes, reason: BleFault) -> None:
    with pytest.raises(BleError) as caught:
        parse_wifi_json(payload)
    assert caught.value.reason is reason


def test_wifi_json_options() -> None:
    assert CREDS.to_json(key_order=("token", "ssid", "pwd")) == (
        b'{"token":"EUAbCd1234WWB3","ssid":"HomeNet","pwd":"hunter22"}')
    open_net = WifiCredentials("Cafe", "", "EUAbCd1234WWB3")
    assert b'"pwd"' not in open_net.to_json(omit_empty_password=True)
    with pytest.raises(BleError):
        parse_wifi_json(open_net.to_json(omit_empty_password=True))  # TO requires pwd, even ""
    assert parse_wifi_json(CREDS.to_json(nul=True)) == CREDS  # a trailing NUL ends the C string
    bsdk = CREDS.to_json(names=BSDK_WIFI_KEYS)
    assert b'"wifi_ssid"' in bsdk and parse_wifi_json(bsdk, names=BSDK_WIFI_KEYS) == CREDS
    with_reg = WifiCredentials("Café", "p", "EUAbCd1234WWB3", reg={"a": 1})
    assert parse_wifi_json(with_reg.to_json()) == with_reg
    assert "hunter22" not in repr(CREDS)
    with pytest.raises(LocalProtocolError):
        CREDS.to_json(key_order=("ssid", "pwd"))


# ---------------------------------------------------------------------------------------------- decoder invariant

PACKET = seal(Frame(2, 0, 1, ID16 + bytes(28)).encode(), mode=12, key=KEY, iv=IV)
ADV = b"".join(advertise_v4(id16=ID16, id_field=b"pidAbCdEfGh01234").encode())
SAMPLES = [PACKET, ADV, Frame(1, 0, 0, b"\x00\x14").encode(), CREDS.to_json(), DeviceInfoTail().encode(),
           *split_packet(PACKET, 20)]
ANY_BYTES = st.binary(max_size=160) | st.sampled_from(SAMPLES) | st.sampled_from(SAMPLES).flatmap(
    lambda s: st.integers(0, max(0, len(s) * 8 - 1)).map(lambda bit: _flip(s, bit)))


def _flip(data: bytes, bit: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _decoders() -> list[Callable[[bytes], object]]:
    frame_decoders: list[Callable[[bytes], object]] = [
        lambda d, cmd=cmd, parse=parse: parse(Frame(1, 0, cmd, d))  # type: ignore[misc]
        for cmd in (*Cmd, 0x4242) for parse in (parse_app_message, parse_device_message)]
    return [
        decode_varint, SubPacket.parse, Frame.parse, Envelope.parse, lambda d: Envelope.parse(d).decrypt(KEY),
        lambda d: Frame.parse(Envelope.parse(d).decrypt(KEY)), parse_ad_structures, parse_advertisement,
        lambda d: parse_advertisement(d[:31], d[31:]), ServiceDataV4.parse, ManufacturerDataV4.parse,
        ServiceDataV3.parse, ManufacturerDataV3.parse, DeviceInfoTail.parse, DeviceInfoAnswer.parse,
        DeviceInfoRequest.parse, PairRequest.parse, PairAnswer.parse, WifiConfigV2.parse, WifiConfigAnswerV2.parse,
        parse_wifi_json, lambda d: parse_wifi_json(d, names=BSDK_WIFI_KEYS),
        lambda d: sec.uuid_from_ble_id((d + bytes(16))[:16], compressed=True),
        lambda d: sec.uuid_from_ble_id((d + bytes(16))[:16], compressed=False),
        lambda d: parse_scan_record({"fd50": d}, {0x07D0: d}), lambda d: parse_scan_record({"a201": d}, {0x07D0: d}),
        *frame_decoders,
    ]


DECODERS = _decoders()


@FAST
@given(data=ANY_BYTES)
def test_every_decoder_parses_or_raises_protocol_error(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(ProtocolError):
            decode(data)


@QUICK
@given(data=ANY_BYTES)
def test_every_decoder_holds_on_every_prefix(data: bytes) -> None:
    """"Fed one byte at a time": every length the input could have been cut at."""
    for end in range(len(data) + 1):
        for decode in DECODERS:
            with contextlib.suppress(ProtocolError):
                decode(data[:end])


@FAST
@given(writes=st.lists(ANY_BYTES, max_size=12))
def test_reassembler_takes_any_writes_whole_and_one_byte_at_a_time(writes: list[bytes]) -> None:
    for chunks in (writes, [bytes([b]) for w in writes for b in w]):
        receiver = Reassembler()
        for chunk in chunks:
            with contextlib.suppress(ProtocolError):
                for event in receiver.receive(chunk):
                    assert isinstance(event, ReassembledPacket | PacketAbandoned)
