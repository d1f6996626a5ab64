"""BLE provisioning sessions (PROTOCOL.md §9.1, §9.9): an in-memory app <-> device pair runs the whole sequence
for both generations and several MTUs through duplicated and reordered sub-packets; the device's reference
reactions to bad input; and the invariant that no received bytes make a connection raise."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol.ble import (
    AppCredentials,
    AppState,
    BleAppConnection,
    BleDeviceConnection,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    DeviceState,
    DisconnectReason,
    DisconnectRequested,
    DropReason,
    Envelope,
    Event,
    Frame,
    Generation,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    NetworkStatusReport,
    OtherCommand,
    PacketDropped,
    PairAnswer,
    Paired,
    PairRequest,
    PairResult,
    ReassembledPacket,
    Reassembler,
    ResetAnswer,
    ResetRequest,
    ResetRequested,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigRefused,
    WifiConfigured,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    WifiResult,
    ble_id,
    seal,
    split_packet,
)
from harness.protocol.ble import security as sec
from harness.protocol.ble.messages import Cmd
from harness.protocol.ble.transport import SubPacket
from harness.protocol.errors import LocalProtocolError

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTH_KEY = b"keyAbCdEfGhIjKlMnOpQrStUvWxYz012"
UUID = "uuid0123456789abcdef"
ID16 = ble_id(UUID)
SRAND = bytes.fromhex("010203040506")
CREDS = WifiCredentials("HomeNet", "hunter22", "EUAbCd1234WWB3")


def counter_ivs(start: int) -> Callable[[], bytes]:
    """Deterministic IVs for tests (the caller owns randomness)."""
    numbers = itertools.count(start)
    return lambda: next(numbers).to_bytes(16, "big")


def make_pair(generation: Generation = Generation.V2, *, att_mtu: int = 23, announce: int = 20,
              device_cls: type[BleDeviceConnection] = BleDeviceConnection,
              **device_options: Any) -> tuple[BleAppConnection, BleDeviceConnection]:
    app = BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), generation=generation,
                           iv_source=counter_ivs(1), att_mtu=att_mtu, announce=announce)
    device = device_cls(auth_key=AUTH_KEY, uuid=UUID, srand=SRAND, generation=generation,
                        iv_source=counter_ivs(1 << 64), **device_options)
    return app, device


def packets_of(writes: list[bytes]) -> list[list[bytes]]:
    """Group a flat list of sub-packets by packet (a packet starts at sub-packet number 0)."""
    groups: list[list[bytes]] = []
    for write in writes:
        if SubPacket.parse(write).number == 0 or not groups:
            groups.append([])
        groups[-1].append(write)
    return groups


def mangle(writes: list[bytes], rng: random.Random | None, duplicates: int) -> list[bytes]:
    """Reorder each packet's sub-packets and duplicate some, packet by packet (what the emulated radio may do)."""
    if rng is None:
        return writes
    out: list[bytes] = []
    previous: list[bytes] = []
    for group in packets_of(writes):
        mixed = list(group)
        rng.shuffle(mixed)
        for _ in range(duplicates):
            mixed.insert(rng.randrange(len(mixed) + 1), rng.choice(group + previous))
        out += mixed
        previous = group
    return out


class Link:
    """The in-memory radio between an app and a device connection."""

    def __init__(self, app: BleAppConnection, device: BleDeviceConnection, *, rng: random.Random | None = None,
                 duplicates: int = 0) -> None:
        self.app, self.device, self.rng, self.duplicates = app, device, rng, duplicates
        self.app_events: list[Event] = []
        self.device_events: list[Event] = []
        self.notifications: list[bytes] = []

    def write(self, writes: list[bytes]) -> None:
        for write in mangle(writes, self.rng, self.duplicates):
            self.device.receive_data(write)
        self.device_events += self.device.events()
        notifications = self.device.data_to_send()
        self.notifications += notifications
        for notification in mangle(notifications, self.rng, self.duplicates):
            self.app.receive_data(notification)
        self.app_events += self.app.events()

    def provision(self, credentials: WifiCredentials = CREDS) -> None:
        self.write(self.app.request_device_info())
        self.write(self.app.request_pair())
        self.write(self.app.configure_wifi(credentials))


def received(events: list[Event], kind: type) -> list[Any]:
    return [e.message for e in events if isinstance(e, MessageReceived) and isinstance(e.message, kind)]


def of_type(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# ---------------------------------------------------------------------------------------------- the whole sequence


def _check_provisioned(link: Link, generation: Generation, att_mtu: int, announce: int) -> None:
    app, device = link.app, link.device
    assert app.state is AppState.PROVISIONED and app.provisioned
    assert device.state is DeviceState.CONFIGURED and device.credentials == CREDS
    assert [e.credentials for e in of_type(link.device_events, WifiConfigured)] == [CREDS]
    assert of_type(link.device_events, Paired) == [Paired(ID16)]
    assert not of_type(link.app_events, PacketDropped) and not of_type(link.device_events, PacketDropped)
    assert app.register_key_ok is True and app.session_key == device.session_key is not None
    assert app.pair_result == PairResult.PAIRED and app.wifi_result == WifiResult.ACCEPTED
    # §9.0: V2 devices report 0x001E after pairing, V1 devices do not.
    assert len(received(link.app_events, NetworkStatusReport)) == (1 if generation is Generation.V2 else 0)
    assert max(map(len, link.notifications)) <= min(max(announce, 20), 244)  # §9.2: the announced size, clamped


@pytest.mark.parametrize("generation", list(Generation))
@pytest.mark.parametrize(("att_mtu", "announce"), [(23, 20), (27, 20), (100, 64), (185, 180), (247, 244)])
def test_full_sequence_in_order(generation: Generation, att_mtu: int, announce: int) -> None:
    link = Link(*make_pair(generation, att_mtu=att_mtu, announce=announce))
    link.provision()
    _check_provisioned(link, generation, att_mtu, announce)


@QUICK
@given(generation=st.sampled_from(list(Generation)), att_mtu=st.sampled_from([23, 24, 30, 64, 185, 247]),
       announce=st.sampled_from([0, 5, 20, 33, 100, 244, 1000]), seed=st.integers(0, 2**32 - 1),
       duplicates=st.integers(0, 3))
def test_full_sequence_through_reordered_and_duplicated_sub_packets(
        generation: Generation, att_mtu: int, announce: int, seed: int, duplicates: int) -> None:
    link = Link(*make_pair(generation, att_mtu=att_mtu, announce=announce), rng=random.Random(seed),
                duplicates=duplicates)
    link.provision()
    _check_provisioned(link, generation, att_mtu, announce)


@pytest.mark.parametrize("generation", list(Generation))
def test_app_writes_are_single_when_the_mtu_allows_and_fragments_otherwise(generation: Generation) -> None:
    """§9.2: one write per packet when ATT_MTU - 3 allows it, else fragments of ATT_MTU - 3."""
    big_app, _ = make_pair(generation, att_mtu=247)
    assert len(big_app.request_device_info()) == 1
    small_app, _ = make_pair(generation, att_mtu=23)
    writes = small_app.request_device_info()
    assert len(writes) == 3 and all(len(w) <= 20 for w in writes)  # 1 + 16 + 32 bytes, full PKCS#7


def test_the_app_state_follows_the_table_and_stays_put_off_it() -> None:
    app, device = make_pair()
    link = Link(app, device)
    assert app.state is AppState.START
    link.write(app.request_device_info())
    assert app.state is AppState.DEVICE_INFO
    link.write(app.configure_wifi(CREDS))  # off the table: the state does not move
    assert app.state is AppState.DEVICE_INFO
    link.write(app.request_pair())
    assert app.state is AppState.PAIRED


# ---------------------------------------------------------------------------------------------- §9.9 reactions


def _after_device_info(generation: Generation = Generation.V2, **options: Any) -> Link:
    link = Link(*make_pair(generation, **options))
    link.write(link.app.request_device_info())
    link.device_events.clear()
    link.app_events.clear()
    link.notifications.clear()
    return link


def _paired(generation: Generation = Generation.V2, **options: Any) -> Link:
    link = _after_device_info(generation, **options)
    link.write(link.app.request_pair())
    assert link.device.paired
    link.device_events.clear()
    link.app_events.clear()
    link.notifications.clear()
    return link


def _drops(link: Link) -> list[DropReason]:
    return [e.reason for e in of_type(link.device_events, PacketDropped)]


def test_crc_mismatch_is_dropped_silently() -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), crc=0x0000))
    assert _drops(link) == [DropReason.CRC] and link.notifications == [] and not link.device.paired


def test_wrong_key_is_dropped_silently() -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), key=bytes(16)))
    assert _drops(link) in ([DropReason.CRC], [DropReason.LENGTH]) and link.notifications == []


@pytest.mark.parametrize("mode", [7, 13, 16, 200])
def test_unknown_or_unaccepted_modes_are_dropped(mode: int) -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), mode=mode, key=bytes(16)))
    assert _drops(link) == [DropReason.MODE] and link.notifications == []


def test_unencrypted_wifi_config_is_dropped_and_not_used() -> None:
    link = _paired()
    link.write(link.app.send(WifiConfigV2.from_credentials(CREDS), mode=0))
    assert _drops(link) == [DropReason.MODE] and link.notifications == [] and link.device.credentials is None


def test_unencrypted_device_info_is_dropped() -> None:
    link = Link(*make_pair())
    link.write(link.app.send(DeviceInfoRequest(20), mode=0))
    assert _drops(link) == [DropReason.MODE] and link.notifications == []


def test_a_command_in_a_mode_that_does_not_fit_it_is_dropped() -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), mode=11))  # pair belongs to mode 12 (§9.6.4)
    assert _drops(link) == [DropReason.MODE] and not link.device.paired


def test_session_mode_before_device_info_has_no_key() -> None:
    link = Link(*make_pair())
    link.write(link.app.send(PairRequest(ID16), mode=12, key=bytes(16)))
    assert _drops(link) == [DropReason.NO_KEY] and link.notifications == []


@pytest.mark.parametrize("sn", [0, 1])
def test_a_sequence_number_that_does_not_increase_disconnects(sn: int) -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), sn=sn))  # the device-info request had sn 1
    (disconnect,) = of_type(link.device_events, DisconnectRequested)
    assert disconnect.reason is DisconnectReason.SEQUENCE and link.device.closed
    assert link.notifications == [] and link.device.state is DeviceState.CLOSED


def test_transport_version_below_2_is_dropped() -> None:
    app, device = make_pair()
    app.version = 1
    link = Link(app, device)
    link.write(app.request_device_info())
    assert _drops(link) == [DropReason.VERSION] and link.notifications == []


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x14\x00"])
def test_device_info_request_with_len_other_than_2_disconnects(data: bytes) -> None:
    link = Link(*make_pair())
    link.write(link.app.send(OtherCommand(Cmd.DEVICE_INFO, data)))
    (disconnect,) = of_type(link.device_events, DisconnectRequested)
    assert disconnect.reason is DisconnectReason.DEVICE_INFO_LENGTH and link.notifications == []


@pytest.mark.parametrize("data", [bytes(16) + bytes(28), ID16[:15], b""])
def test_a_pair_request_with_a_wrong_or_short_id_is_answered_1_then_disconnects(data: bytes) -> None:
    link = _after_device_info()
    link.write(link.app.send(OtherCommand(Cmd.PAIR, data)))
    assert received(link.app_events, PairAnswer) == [PairAnswer(PairResult.ID_MISMATCH)]
    assert link.app.state is AppState.DEVICE_INFO  # sent off the table: OtherCommand is not a PairRequest
    (disconnect,) = of_type(link.device_events, DisconnectRequested)
    assert disconnect.reason is DisconnectReason.PAIR_MISMATCH and not link.device.paired
    assert of_type(link.device_events, Paired) == []


def test_a_bound_device_answers_already_bound_and_takes_no_configuration() -> None:
    link = _after_device_info(bound=True)
    link.write(link.app.request_pair())
    assert link.app.pair_result == PairResult.ALREADY_BOUND and link.app.state is AppState.PAIR_REFUSED
    assert not link.device.paired and not received(link.app_events, NetworkStatusReport)
    link.write(link.app.configure_wifi(CREDS))
    assert link.device.credentials is None and of_type(link.device_events, MessageIgnored)


def test_no_successful_pair_within_30_s_disconnects() -> None:
    _, device = make_pair(connected_at=100.0)
    assert not device.check_timeout(129.9)
    assert device.check_timeout(130.0)
    (disconnect,) = of_type(device.events(), DisconnectRequested)
    assert disconnect.reason is DisconnectReason.PAIR_TIMEOUT
    paired = _paired(connected_at=100.0)
    assert not paired.device.check_timeout(1000.0) and not paired.device.closed


def test_wifi_config_before_pairing_is_ignored_without_answer() -> None:
    link = _after_device_info()
    link.write(link.app.configure_wifi(CREDS))
    (ignored,) = of_type(link.device_events, MessageIgnored)
    assert isinstance(ignored.message, WifiConfigV2) and "pair" in ignored.reason
    assert link.notifications == [] and link.device.credentials is None
    assert of_type(link.device_events, WifiConfigured) == []


@pytest.mark.parametrize(("payload", "result"), [
    (b'{"ssid":"HomeNet","pwd":"hunter22","token":"EUAbCd1234WWB3"', WifiResult.JSON_PARSE_ERROR),  # cut off
    (b"not json", WifiResult.JSON_PARSE_ERROR),
    (b'{"ssid":"HomeNet","token":"EUAbCd1234WWB3"}', WifiResult.MISSING_KEY),  # incomplete: no pwd
    (b'{"ssid":"HomeNet","pwd":"hunter22"}', WifiResult.MISSING_KEY),
    (b'{"ssid":null,"pwd":"hunter22","token":"EUAbCd1234WWB3"}', WifiResult.MISSING_KEY),
])
@pytest.mark.parametrize("generation", list(Generation))
def test_bad_wifi_json_is_answered_with_its_result_code(payload: bytes, result: WifiResult,
                                                        generation: Generation) -> None:
    link = _paired(generation)
    kind = WifiConfigV2 if generation is Generation.V2 else WifiConfigV1
    link.write(link.app.send(kind(payload=payload)))
    answers = received(link.app_events, WifiConfigAnswerV2 if generation is Generation.V2 else WifiConfigAnswerV1)
    assert [a.result for a in answers] == [result] and link.app.state is AppState.WIFI_REFUSED
    assert [e.result for e in of_type(link.device_events, WifiConfigRefused)] == [result]
    assert link.device.credentials is None and link.device.state is DeviceState.PAIRED


@pytest.mark.parametrize("message", [
    OtherCommand(0x4242, b"?"), OtherCommand(Cmd.STATE_QUERY),
    WifiConfigV2(CREDS.to_json(), subcommand=0x0003), WifiConfigV2(CREDS.to_json(), flag=0x0002),
    WifiConfigV1(CREDS.to_json()),  # the V1 command on a V2 device (§9.0)
], ids=repr)
def test_unknown_commands_and_sub_commands_are_ignored_without_answer(message: Any) -> None:
    link = _paired()
    link.write(link.app.send(message))
    assert [e.message for e in of_type(link.device_events, MessageIgnored)] == [message]
    assert link.notifications == [] and link.device.credentials is None


def test_announced_sub_packet_size_is_clamped() -> None:
    for announce, size in ((0, 20), (5, 20), (100, 100), (244, 244), (5000, 244)):
        link = Link(*make_pair(att_mtu=247, announce=announce))
        link.write(link.app.request_device_info())
        assert link.device.write_size == size and max(map(len, link.notifications)) <= size
        assert link.app.state is AppState.DEVICE_INFO


def test_reset_only_from_a_paired_app() -> None:
    unpaired = _after_device_info()
    unpaired.write(unpaired.app.send(ResetRequest(Cmd.DEVICE_RESET)))
    assert of_type(unpaired.device_events, MessageIgnored) and unpaired.notifications == []
    paired = _paired()
    paired.write(paired.app.send(ResetRequest(Cmd.UNBIND)))
    assert received(paired.app_events, ResetAnswer) == [ResetAnswer(Cmd.UNBIND, 1)]
    assert of_type(paired.device_events, ResetRequested) == [ResetRequested(Cmd.UNBIND)]
    assert [e.reason for e in of_type(paired.device_events, DisconnectRequested)] == [DisconnectReason.RESET]


def test_nothing_is_received_after_a_disconnect() -> None:
    link = _after_device_info()
    link.write(link.app.send(PairRequest(ID16), sn=1))
    assert link.device.closed
    link.device_events.clear()
    link.write(link.app.request_pair())
    assert link.device_events == [] and link.notifications == []


def test_owner_of_a_bound_device_pairs_in_modes_14_and_15() -> None:
    local_key, sec_key = b"0123456789abcdef", b"fedcba9876543210"
    _, device = make_pair(bound=True, local_key=local_key, sec_key=sec_key)
    k14, rand16 = sec.key14(local_key, sec_key), bytes(range(16))
    for write in split_packet(seal(Frame(1, 0, 0, b"\x00\x14").encode(), mode=14, key=k14, iv=rand16), 20):
        device.receive_data(write)
    answer = _device_frames(device, {14: k14})
    assert [DeviceInfoAnswer.parse(f.data).bound for f in answer] == [1]
    k15 = sec.key15(local_key, sec_key, SRAND)
    for write in split_packet(seal(Frame(2, 0, 1, ID16).encode(), mode=15, key=k15, iv=rand16), 20):
        device.receive_data(write)
    assert [f.data for f in _device_frames(device, {15: k15})] == [b"\x00", b"\x00"]  # paired, then 0x001E
    assert device.paired and device.session_key == k15


def _device_frames(device: BleDeviceConnection, keys: dict[int, bytes]) -> list[Frame]:
    receiver = Reassembler()
    frames = []
    for write in device.data_to_send():
        for packet in receiver.receive(write):
            assert isinstance(packet, ReassembledPacket)
            envelope = Envelope.parse(packet.data)
            frames.append(Frame.parse(envelope.decrypt(keys[envelope.mode])))
    return frames


# ---------------------------------------------------------------------------------------------- app-side findings


class WrongRegisterKey(BleDeviceConnection):
    """A fault in the making: the device-info answer carries a wrong register key (§9.6.3)."""

    def device_info_answer(self) -> DeviceInfoAnswer:
        answer = super().device_info_answer()
        return DeviceInfoAnswer.parse(answer.encode_data()[:14] + bytes(32) + answer.encode_data()[46:])


class ConfigBeforePairing(BleDeviceConnection):
    """§9.10 lead 1 as a subclass: the decision point is one method."""

    def may_configure_wifi(self) -> bool:
        return True


def test_decision_points_are_overridable() -> None:
    link = Link(*make_pair(device_cls=WrongRegisterKey))
    link.provision()
    assert link.app.provisioned and link.app.register_key_ok is False
    lenient = _after_device_info(device_cls=ConfigBeforePairing)
    lenient.write(lenient.app.configure_wifi(CREDS))
    assert lenient.device.credentials == CREDS and not lenient.device.paired


def test_app_reports_a_device_sn_that_does_not_increase() -> None:
    app, device = make_pair()
    link = Link(app, device)
    link.write(app.request_device_info())
    repeat = seal(Frame(1, 1, 1, b"\x00").encode(), mode=12, key=app.session_key, iv=bytes(16))
    for write in split_packet(repeat, 20):
        app.receive_data(write)
    assert [e.reason for e in of_type(app.events(), PacketDropped)] == [DropReason.SEQUENCE]
    assert app.pair_result is None


def test_app_refuses_device_frames_in_the_wrong_mode() -> None:
    app, device = make_pair()
    Link(app, device).write(app.request_device_info())
    assert app.info_key is not None
    wrong = seal(Frame(5, 2, 1, b"\x00").encode(), mode=11, key=app.info_key, iv=bytes(16))
    for write in split_packet(wrong, 20):
        app.receive_data(write)
    assert [e.reason for e in of_type(app.events(), PacketDropped)] == [DropReason.MODE]


def test_app_misuse_is_a_local_error() -> None:
    app, _ = make_pair()
    with pytest.raises(LocalProtocolError):
        app.request_pair()  # no session key before the device-info answer
    with pytest.raises(LocalProtocolError):
        app.send(PairRequest(ID16), mode=5)  # a mode the app does not derive, and no key given
    with pytest.raises(LocalProtocolError):
        AppCredentials(ble_id=ID16)
    with pytest.raises(LocalProtocolError):
        BleDeviceConnection(auth_key=AUTH_KEY, uuid=UUID, srand=b"short", iv_source=counter_ivs(0))
    for options in ({"network_status": 256}, {"padding": "pkcs5"}, {"unsolicited_ack": "first"},
                    {"local_key": b"0123456789abcdef", "sec_key": b"fedcba9876543210"}):  # owner keys, not bound
        with pytest.raises(LocalProtocolError):
            BleDeviceConnection(auth_key=AUTH_KEY, uuid=UUID, srand=SRAND, iv_source=counter_ivs(0), **options)
    with pytest.raises(LocalProtocolError):
        BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), iv_source=counter_ivs(0), announce=70000)
    assert "keyAbCd" not in repr(AppCredentials.from_licence(UUID, AUTH_KEY))


def test_precomputed_device_info_key_fixes_the_request_iv() -> None:
    rand16 = bytes(range(0xA0, 0xB0))
    creds = AppCredentials(ble_id=ID16, rand16=rand16, device_info_key=sec.key11(AUTH_KEY, ID16, rand16))
    app = BleAppConnection(creds, iv_source=counter_ivs(7))
    _, device = make_pair()
    link = Link(app, device)
    link.provision()
    assert app.rand16 == rand16 and app.provisioned and app.register_key_ok is None
    with pytest.raises(LocalProtocolError):
        BleAppConnection(creds, iv_source=counter_ivs(7)).request_device_info(iv=bytes(16))


# ---------------------------------------------------------------------------------------------- invariant

FLOW_WRITES: list[bytes] = []


def _flow_writes() -> list[bytes]:
    """Every write and notification of one provisioning, as material for the fuzzer to mutate."""
    if not FLOW_WRITES:
        link = Link(*make_pair())
        for send in (link.app.request_device_info, link.app.request_pair, lambda: link.app.configure_wifi(CREDS)):
            writes = send()
            FLOW_WRITES.extend(writes)
            link.write(writes)
        FLOW_WRITES.extend(link.notifications)
    return FLOW_WRITES


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


WRITES = st.lists(st.binary(max_size=40) | st.sampled_from(_flow_writes())
                  | st.tuples(st.sampled_from(_flow_writes()), st.integers(0, 400)).map(lambda t: _flip(*t)),
                  max_size=16)


def _stages() -> list[Callable[[], tuple[BleAppConnection, BleDeviceConnection]]]:
    def fresh() -> tuple[BleAppConnection, BleDeviceConnection]:
        return make_pair()

    def after_info() -> tuple[BleAppConnection, BleDeviceConnection]:
        link = _after_device_info()
        return link.app, link.device

    def paired() -> tuple[BleAppConnection, BleDeviceConnection]:
        link = _paired()
        return link.app, link.device

    return [fresh, after_info, paired]


@FUZZ
@given(writes=WRITES, stage=st.sampled_from(_stages()), one_byte=st.booleans())
def test_no_received_bytes_make_either_connection_raise(
        writes: list[bytes], stage: Callable[[], tuple[BleAppConnection, BleDeviceConnection]], one_byte: bool) -> None:
    """STYLE.md's invariant, stronger for connections: remote garbage becomes events, never an exception."""
    app, device = stage()
    chunks = [bytes([b]) for w in writes for b in w] if one_byte else writes
    for chunk in chunks:
        device.receive_data(chunk)
        app.receive_data(chunk)
    for event in device.events() + app.events():
        assert isinstance(event, MessageReceived | MessageSent | PacketDropped | MessageIgnored | Paired
                          | WifiConfigured | WifiConfigRefused | ResetRequested | DisconnectRequested)
    for notification in device.data_to_send():
        assert len(notification) <= 244


def test_pair_answer_and_network_status_from_the_flow() -> None:
    """The sequence's own messages, as the app saw them, match §9.1 steps 5-9."""
    link = Link(*make_pair())
    link.provision()
    kinds = [type(m).__name__ for m in (e.message for e in of_type(link.app_events, MessageReceived))]
    assert kinds == ["DeviceInfoAnswer", "PairAnswer", "NetworkStatusReport", "WifiConfigAnswerV2"]
    assert [(e.sn, e.ack_sn) for e in of_type(link.app_events, MessageReceived)] == [(1, 1), (2, 2), (3, 0), (4, 0)]
