"""BLE provisioning (PROTOCOL.md §9.13): every vector byte for byte, from tests/vectors/ble.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.protocol.ble import (
    AdvertisementV3,
    AdvertisementV4,
    AppCredentials,
    BleAppConnection,
    BleDeviceConnection,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    DeviceInfoTail,
    Envelope,
    Frame,
    Generation,
    MessageReceived,
    MessageSent,
    NetworkStatusReport,
    Padding,
    PairAnswer,
    PairRequest,
    ReassembledPacket,
    Reassembler,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    advertise_v4,
    ble_id,
    crc16_modbus,
    parse_advertisement,
    parse_app_message,
    parse_device_message,
    parse_scan_record,
    seal,
    split_packet,
)
from harness.protocol.ble import security as sec
from harness.protocol.ble.advertisement import FRAME_CONTROL_TUYAOPEN, ServiceDataV4
from harness.protocol.ble.gatt import uuid16

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ble.json").read_text(encoding="utf-8"))
INPUTS = VECTORS["inputs"]
AUTH_KEY = INPUTS["auth_key"].encode("ascii")
UUID = INPUTS["uuid"]
PID = INPUTS["pid"].encode("ascii")
RAND16 = bytes.fromhex(INPUTS["rand16_hex"])
SRAND = bytes.fromhex(INPUTS["srand_hex"])
LOCAL_KEY = INPUTS["local_key"].encode("ascii")
SEC_KEY = INPUTS["sec_key"].encode("ascii")
LOGIN_KEY = INPUTS["login_key6"].encode("ascii")
KEYS = {name: bytes.fromhex(value) for name, value in VECTORS["keys"].items()}
ID16 = bytes.fromhex(VECTORS["ble_id"]["compressed"]["id16_hex"])
FLOW = {packet["name"]: packet for packet in VECTORS["v2_flow"]["packets"]}
CREDENTIALS = WifiCredentials("HomeNet", "hunter22", INPUTS["token"])


def iv_at(start: str) -> bytes:
    """§9.13: "16 consecutive bytes starting at the byte shown"."""
    first = int(start, 16)
    return bytes((first + i) & 0xFF for i in range(16))


def ivs(*starts: str) -> Callable[[], bytes]:
    queue: Iterator[str] = iter(starts)
    return lambda: iv_at(next(queue))


def reassemble(writes: list[bytes]) -> ReassembledPacket:
    receiver = Reassembler()
    done = [event for write in writes for event in receiver.receive(write)]
    assert len(done) == 1 and isinstance(done[0], ReassembledPacket)
    return done[0]


# ---------------------------------------------------------------------------------------------- V-1 .. V-3


def test_v1_crc16_modbus_check_value() -> None:
    vector = VECTORS["crc16_modbus"]
    assert crc16_modbus(vector["input_ascii"].encode()) == int(vector["crc_hex"], 16) == 0x4B37


@pytest.mark.parametrize("kind", ["compressed", "uncompressed"])
def test_v2_ble_id(kind: str) -> None:
    vector = VECTORS["ble_id"][kind]
    assert ble_id(vector["uuid"]).hex() == vector["id16_hex"]
    assert sec.uuid_from_ble_id(bytes.fromhex(vector["id16_hex"]), compressed=kind == "compressed") == vector["uuid"]


def test_v3_keys_per_mode_and_register_key() -> None:
    k11 = sec.key11(AUTH_KEY, ID16, RAND16)
    k1 = sec.key1(AUTH_KEY, RAND16)
    derived = {
        "key11": k11, "key12": sec.key12(k11, SRAND), "key14": sec.key14(LOCAL_KEY, SEC_KEY),
        "key15": sec.key15(LOCAL_KEY, SEC_KEY, SRAND), "key16": sec.key16(AUTH_KEY, ID16, RAND16),
        "register_key": sec.register_key(AUTH_KEY, RAND16), "key1": k1, "key2": sec.key2(k1, SRAND),
        "key4": sec.key4(LOGIN_KEY), "key5": sec.key5(LOGIN_KEY, SRAND),
    }
    assert {name: value.hex() for name, value in derived.items()} == {n: v.hex() for n, v in KEYS.items()}


# ---------------------------------------------------------------------------------------------- V-4, V-5

KEY_OF_MODE = {11: KEYS["key11"], 12: KEYS["key12"]}


@pytest.mark.parametrize("name", list(FLOW))
def test_v4_each_packet_frame_envelope_and_sub_packets(name: str) -> None:
    vector = FLOW[name]
    frame = Frame(sn=vector["sn"], ack_sn=vector["ack_sn"], cmd=vector["cmd"], data=bytes.fromhex(vector["data_hex"]))
    plain = frame.encode()
    if "plain_hex" in vector:
        assert plain.hex() == vector["plain_hex"]
    air = seal(plain, mode=vector["mode"], key=KEY_OF_MODE[vector["mode"]], iv=iv_at(vector["iv_start"]),
               padding=Padding.PKCS7_IF_UNALIGNED)
    assert air.hex() == vector["air_hex"]
    envelope = Envelope.parse(air)
    assert Frame.parse(envelope.decrypt(KEY_OF_MODE[vector["mode"]])) == frame
    frags = split_packet(air, 20, seq=vector["seq"])
    if "frags_hex" in vector:
        assert [f.hex() for f in frags] == vector["frags_hex"]
    elif "first_frag_hex" in vector:
        assert len(air) == vector["air_len"] and len(frags) == vector["frag_count"]
        assert frags[0].hex() == vector["first_frag_hex"] and frags[-1].hex() == vector["last_frag_hex"]
        for number, prefix in vector["frag_prefixes_hex"].items():
            assert frags[int(number)].hex().startswith(prefix)
        assert all(len(f) == 20 for f in frags[1:-1])  # "19 payload bytes after its 1-byte number"
    assert reassemble(frags).data == air


def test_v4_messages_encode_to_the_vector_data() -> None:
    register = KEYS["register_key"] + bytes(16)
    expected = {
        "devinfo_req": DeviceInfoRequest(20),
        "devinfo_rsp": DeviceInfoAnswer(srand=SRAND, register_field=register),
        "pair_req": PairRequest(ID16),
        "pair_rsp": PairAnswer(0),
        "netstat_rpt": NetworkStatusReport(0),
        "wifi_cfg": WifiConfigV2.from_credentials(CREDENTIALS),
        "wifi_rsp": WifiConfigAnswerV2(0),
    }
    for name, message in expected.items():
        vector = FLOW[name]
        assert message.encode_data().hex() == vector["data_hex"], name
        data = bytes.fromhex(vector["data_hex"])
        frame = Frame(sn=vector["sn"], ack_sn=vector["ack_sn"], cmd=vector["cmd"], data=data)
        parse = parse_app_message if vector["direction"] == "app" else parse_device_message
        assert parse(frame) == message, name
    assert WifiConfigV2.from_credentials(CREDENTIALS).payload.decode() == FLOW["wifi_cfg"]["json"]
    answer = DeviceInfoAnswer.parse(bytes.fromhex(FLOW["devinfo_rsp"]["data_hex"]))
    assert len(answer.encode_data()) == 121 and answer.register_key == KEYS["register_key"]
    tail = DeviceInfoTail.parse(answer.tail)
    assert tail == DeviceInfoTail() and tail.packet_max_size == 960 and tail.wifi_register_mode == 1


def test_v4_whole_flow_through_the_two_connections() -> None:
    """The reference app and device, fed V-4's IVs and srand, put exactly V-4's packets on the air."""
    app = BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), iv_source=ivs("a0", "c0", "f0"),
                           padding=Padding.PKCS7_IF_UNALIGNED)
    device = BleDeviceConnection(auth_key=AUTH_KEY, uuid=UUID, srand=SRAND, iv_source=ivs("b0", "d0", "e0", "10"))
    app_sends: list[tuple[str, Callable[[], list[bytes]]]] = [
        ("devinfo_req", app.request_device_info), ("pair_req", app.request_pair),
        ("wifi_cfg", lambda: app.configure_wifi(CREDENTIALS)),
    ]
    answers = {"devinfo_req": ["devinfo_rsp"], "pair_req": ["pair_rsp", "netstat_rpt"], "wifi_cfg": ["wifi_rsp"]}
    for name, send in app_sends:
        writes = send()
        assert reassemble(writes).data.hex() == FLOW[name]["air_hex"]
        for write in writes:
            device.receive_data(write)
        notifications = device.data_to_send()
        sent = [e for e in device.events() if isinstance(e, MessageSent)]
        assert [(e.sn, e.ack_sn, e.mode) for e in sent] == [
            (FLOW[n]["sn"], FLOW[n]["ack_sn"], FLOW[n]["mode"]) for n in answers[name]]
        receiver = Reassembler()
        packets = [p for w in notifications for p in receiver.receive(w)]
        assert [p.data.hex() for p in packets if isinstance(p, ReassembledPacket)] == [
            FLOW[n]["air_hex"] for n in answers[name]]
        assert all(len(w) <= 20 for w in notifications)  # the announced sub-packet size (§9.7.1)
        for write in notifications:
            app.receive_data(write)
    assert app.provisioned and app.register_key_ok is True
    assert device.credentials == CREDENTIALS


def test_v5_padding_lengths() -> None:
    vector = VECTORS["padding"]
    pair_plain = bytes.fromhex(FLOW["pair_req"]["plain_hex"])
    assert len(pair_plain) == vector["pair_req_plain_len"]
    padded = sec.pad(pair_plain, Padding.PKCS7_IF_UNALIGNED)
    assert padded[len(pair_plain):] == bytes.fromhex(vector["pair_req_pad_byte"]) * vector["pair_req_pad_count"]
    assert len(padded) == vector["pair_req_cipher_len"] == len(sec.pad(pair_plain, Padding.PKCS7))
    info_plain = bytes.fromhex(FLOW["devinfo_req"]["plain_hex"])
    assert len(info_plain) == vector["devinfo_req_plain_len"]
    assert len(sec.pad(info_plain, Padding.PKCS7_IF_UNALIGNED)) == vector["devinfo_req_cipher_len_to_style"]
    assert sec.pad(info_plain, Padding.PKCS7)[16:] == b"\x10" * 16
    assert len(sec.pad(info_plain, Padding.PKCS7)) == vector["devinfo_req_cipher_len_full_pkcs7"]


# ---------------------------------------------------------------------------------------------- V-6


def test_v6_v1_wifi_config_packet() -> None:
    vector = VECTORS["v1_wifi_config"]
    message = WifiConfigV1.from_credentials(CREDENTIALS)
    assert message.payload.decode() == vector["json"]
    frame = Frame(sn=vector["sn"], ack_sn=vector["ack_sn"], cmd=vector["cmd"], data=message.encode_data())
    assert frame.encode().hex() == vector["plain_hex"]
    air = seal(frame.encode(), mode=2, key=KEYS["key2"], iv=iv_at(vector["iv_start"]), padding=Padding.ZERO)
    assert air.hex() == vector["air_hex"]


def test_v6_through_a_v1_app_connection() -> None:
    """A V1 app after the V1 device-info exchange (key 1 from rand16, key 2 from srand) sends V-6's packet."""
    vector = VECTORS["v1_wifi_config"]
    app = BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), generation=Generation.V1,
                           iv_source=ivs("a0", "c0", vector["iv_start"]), padding=Padding.ZERO)
    device = BleDeviceConnection(auth_key=AUTH_KEY, uuid=UUID, srand=SRAND, generation=Generation.V1,
                                 iv_source=ivs("b0", "d0", "e0"))
    for send in (app.request_device_info, app.request_pair):
        for write in send():
            device.receive_data(write)
        for write in device.data_to_send():
            app.receive_data(write)
    assert app.session_key == KEYS["key2"] == device.session_key
    writes = app.configure_wifi(CREDENTIALS)
    assert reassemble(writes).data.hex() == vector["air_hex"]


# ---------------------------------------------------------------------------------------------- V-7 .. V-9


def test_v7_advertisement_built_byte_for_byte() -> None:
    vector = VECTORS["advertisement_v4"]
    advertisement = advertise_v4(id16=ID16, id_field=PID, name=vector["name"].encode())
    adv, scan = advertisement.encode()
    assert adv.hex() == vector["adv_hex"] and scan.hex() == vector["scan_rsp_hex"]
    assert advertisement.service.frame_control == vector["frame_control"] == FRAME_CONTROL_TUYAOPEN
    assert advertisement.service.encode().hex() == vector["service_data_fd50_hex"]
    assert advertisement.manufacturer is not None
    assert advertisement.manufacturer.encode().hex() == vector["manufacturer_data_07d0_hex"]


def test_v7_advertisement_parsed_from_raw_and_from_the_bleak_view() -> None:
    vector = VECTORS["advertisement_v4"]
    raw = parse_advertisement(bytes.fromhex(vector["adv_hex"]), bytes.fromhex(vector["scan_rsp_hex"]))
    bleak = parse_scan_record({uuid16(0xFD50): bytes.fromhex(vector["service_data_fd50_hex"])},
                              {0x07D0: bytes.fromhex(vector["manufacturer_data_07d0_hex"])}, name=vector["name"])
    for parsed in (raw, bleak):
        assert isinstance(parsed, AdvertisementV4)
        assert parsed.service.id_field == PID and not parsed.service.bound and parsed.service.version == 4
        assert parsed.generation is Generation.V2
        assert parsed.ble_id() == ID16
        assert sec.uuid_from_ble_id(parsed.ble_id(), compressed=True) == UUID  # "recovers the UUID"
    assert raw == advertise_v4(id16=ID16, id_field=PID)


def test_v8_encrypted_ids() -> None:
    vector = VECTORS["encrypted_ids"]
    material = ServiceDataV4(frame_control=FRAME_CONTROL_TUYAOPEN, id_field=PID).encode()
    assert material[:4].hex() == "430c0010"
    assert sec.advertised_id_key(material).hex() == vector["adv_key_hex"]
    assert sec.encrypt_advertised_id(ID16, material).hex() == vector["scan_rsp_enc_id_hex"]
    assert sec.decrypt_advertised_id(bytes.fromhex(vector["scan_rsp_enc_id_hex"]), material) == ID16
    assert sec.bound_advertised_id(ID16, SEC_KEY).hex() == vector["bound_adv_id_hex"]


def test_v9_real_v3_capture() -> None:
    vector = VECTORS["advertisement_v3_capture"]
    raw = bytes.fromhex(vector["raw_hex"])
    parsed = parse_advertisement(raw)
    assert isinstance(parsed, AdvertisementV3) and parsed.manufacturer is not None
    assert parsed.service.encode().hex() == vector["service_data_a201_hex"]
    assert parsed.service.id_field.decode() == vector["id_ascii"]
    assert parsed.manufacturer.encode().hex() == vector["manufacturer_body_hex"]
    fields = {name: getattr(parsed.manufacturer, name)
              for name in ("flag", "protocol_version", "encryption_mode", "ability", "reserved")}
    assert fields == {name: vector[name] for name in fields}
    assert parsed.manufacturer.encrypted_id.hex() == vector["encrypted_id_hex"]
    assert parsed.ble_id().decode() == vector["decrypted_id_ascii"]
    assert parsed.name == b"TY" and parsed.generation is Generation.V1
    # Re-encrypting the decrypted UUID gives the captured bytes back, and the AD structures re-encode exactly.
    assert sec.encrypt_advertised_id(parsed.ble_id(), parsed.service.id_field) == parsed.manufacturer.encrypted_id
    adv, scan = parsed.encode()
    assert adv + scan == raw.rstrip(b"\x00")


# ---------------------------------------------------------------------------------------------- V-10


def test_v10_full_pkcs7_single_write_device_info() -> None:
    vector = VECTORS["ak_interop"]
    app = BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), iv_source=ivs("a0"), att_mtu=247)
    writes = app.request_device_info()
    assert [w.hex() for w in writes] == [vector["devinfo_req_full_pkcs7_single_write_hex"]]


def test_v10_ak_style_answers_sn_ack_and_mode() -> None:
    """With AK's options (ack_sn = last received for unsolicited frames, rand16 reused as the mode-11 answer's
    IV) the reference device answers with V-10's sn / ack_sn / mode table; single writes, full PKCS#7."""
    vector = VECTORS["ak_interop"]
    app = BleAppConnection(AppCredentials.from_licence(UUID, AUTH_KEY), iv_source=ivs("a0", "c0", "f0"), att_mtu=247)
    device = BleDeviceConnection(auth_key=AUTH_KEY, uuid=UUID, srand=SRAND, unsolicited_ack="last",
                                 reuse_request_iv=True, iv_source=ivs("d0", "e0", "10"))
    received: list[MessageReceived] = []
    for send in (app.request_device_info, app.request_pair, lambda: app.configure_wifi(CREDENTIALS)):
        (write,) = send()
        device.receive_data(write)
        for notification in device.data_to_send():
            app.receive_data(notification)
        received += [e for e in app.events() if isinstance(e, MessageReceived)]
    table = [(e.mode, e.sn, e.ack_sn) for e in received]
    assert table == [(a["mode"], a["sn"], a["ack_sn"]) for a in vector["answers"]]
    assert [e.message.encode_data().hex() for e in received[1:]] == [a["data_hex"] for a in vector["answers"][1:]]
    assert app.provisioned
