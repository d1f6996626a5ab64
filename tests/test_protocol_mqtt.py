"""MQTT codecs (PROTOCOL.md §5): vectors byte for byte, round-trips for each envelope, and the fuzz invariant."""

from __future__ import annotations

import contextlib
import hashlib
import json
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from harness.protocol.mqtt import (
    PROTOCOL_VERSIONS,
    MqttCredentials,
    MqttEnvelope,
    MqttMessage,
    MqttProtocol,
    ParsedTopic,
    ProtocolVersion,
    TopicKind,
    active_token_message,
    decode_envelope,
    decode_message,
    device_credentials,
    dp_command,
    dp_report,
    encode_envelope,
    encode_message,
    parse_message_json,
    parse_topic,
    preactivation_credentials,
    preactivation_topic,
    reset_message,
    rpc_file,
    rpc_req,
    rpc_rsp,
    topic_in,
    topic_out,
    tuya_convert_stamp,
    unbind_message,
)

MQTT = json.loads((Path(__file__).parent / "vectors" / "atop_mqtt.json").read_text(encoding="utf-8"))["mqtt"]
ACTIVATED = MQTT["activated_credentials"]
DIRECT = MQTT["unactivated_direct_credentials"]
PV21 = MQTT["pv21_message"]
PV22 = MQTT["pv22_message"]
# The vectors give the licence's uuid and authKey only through the ATOP part of the same file.
ATOP_REQUEST = json.loads((Path(__file__).parent / "vectors" / "atop_mqtt.json").read_text())["atop"]["active_request"]

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = "fedcba9876543210"


# ---------------------------------------------------------------------------------------------- vectors


def test_activated_credentials_vector() -> None:
    creds = device_credentials(ACTIVATED["devId"], ACTIVATED["secKey"])
    assert creds == MqttCredentials(ACTIVATED["client_id"], ACTIVATED["username"], ACTIVATED["password"])
    assert topic_in(ACTIVATED["devId"]) == ACTIVATED["topic_in"]
    assert topic_out(ACTIVATED["devId"]) == ACTIVATED["topic_out"]


def test_preactivation_credentials_vector() -> None:
    uuid, auth_key = ATOP_REQUEST["uuid"], ATOP_REQUEST["authKey"]
    tuya_open = preactivation_credentials(uuid, auth_key)
    assert tuya_open == MqttCredentials(DIRECT["client_id"], DIRECT["username_TuyaOpen"], DIRECT["password"])
    connect_kit = preactivation_credentials(uuid, auth_key, pv=None)
    assert connect_kit == MqttCredentials(DIRECT["client_id"], DIRECT["username_connect_kit"], DIRECT["password"])
    assert preactivation_topic(uuid) == DIRECT["topic_in"]
    assert auth_key[:16] == DIRECT["cipher_key"]


def test_preactivation_password_matches_the_tuyaopen_issue_log() -> None:
    # §5: TO issue #1 logs password 8346f0e4d2e9d2e4 for the placeholder licence.
    creds = preactivation_credentials("uuidxxxxxxxxxxxxxxxx", "keyxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    assert creds.username == "acon_uuidxxxxxxxxxxxxxxxx|pv=2.3"
    assert creds.password == "8346f0e4d2e9d2e4"


def test_pv21_vector_byte_for_byte() -> None:
    plaintext = PV21["plaintext"].encode()
    payload = PV21["payload_ascii"].encode("ascii")
    assert encode_envelope(plaintext, local_key=PV21["localKey"], pv="2.1") == payload
    assert decode_envelope(payload, local_key=PV21["localKey"]) == MqttEnvelope("2.1", plaintext)
    message = decode_message(payload, local_key=PV21["localKey"])
    assert message == MqttMessage(15, 1700000000, {"gwId": "bf0123456789abcdefgh"}, {"s": 1523715})
    assert message.to_json() == plaintext  # sorted compact keys, as the vector
    assert encode_message(message, local_key=PV21["localKey"], pv="2.1") == payload


def test_pv22_vector_byte_for_byte_with_tuya_converts_ascii_stamp() -> None:
    plaintext = PV22["plaintext"].encode()
    payload = bytes.fromhex(PV22["payload_hex"])
    stamp = tuya_convert_stamp(PV22["frozen_time"])
    assert stamp == "00000025"
    assert encode_envelope(plaintext, local_key=PV22["localKey"], pv="2.2", stamp=stamp) == payload
    envelope = decode_envelope(payload, local_key=PV22["localKey"])
    assert (envelope.pv, envelope.plaintext, envelope.stamp) == ("2.2", plaintext, "00000025")
    # tuya-convert sends t (and s) as strings; t is read as the unix time it spells.
    message = decode_message(payload, local_key=PV22["localKey"])
    assert message == MqttMessage(15, 1700000000, {"gwId": "bf0123456789abcdefgh"}, {"s": "1523715"})


def test_pv22_sdk_form_carries_seq_and_source() -> None:
    payload = encode_envelope(b"{}", local_key=KEY, pv="2.2", seq=0x01020304, source=2)
    assert payload[7:15] == bytes.fromhex("0102030400000002")
    envelope = decode_envelope(payload, local_key=KEY)
    assert (envelope.seq, envelope.source, envelope.stamp) == (0x01020304, 2, None)


def test_pv23_layout_follows_the_prose() -> None:
    nonce = bytes(range(12))
    payload = encode_envelope(b'{"a":1}', local_key=KEY, pv="2.3", seq=7, nonce=nonce)
    assert payload[:12] == b"2.3" + bytes.fromhex("00000007") + bytes.fromhex("00000001") + b"\x00"
    assert payload[12:24] == nonce
    assert len(payload) == 12 + 12 + 7 + 16
    envelope = decode_envelope(payload, local_key=KEY)
    assert envelope == MqttEnvelope("2.3", b'{"a":1}', seq=7, source=1, nonce=nonce)


# ---------------------------------------------------------------------------------------------- topics


def test_topic_helpers() -> None:
    assert rpc_req("d1") == "rpc/req/d1"
    assert rpc_rsp("d1") == "rpc/rsp/d1"
    assert rpc_file("d1") == "rpc/file/d1"
    assert preactivation_topic("u1") == "d/ai/u1"


TOPICS: list[tuple[str, ParsedTopic | None]] = [
    ("smart/device/in/bf01", ParsedTopic(TopicKind.IN, "bf01")),
    ("smart/device/out/bf01", ParsedTopic(TopicKind.OUT, "bf01")),
    ("rpc/req/bf01", ParsedTopic(TopicKind.RPC_REQ, "bf01")),
    ("rpc/rsp/bf01", ParsedTopic(TopicKind.RPC_RSP, "bf01")),
    ("rpc/file/bf01", ParsedTopic(TopicKind.RPC_FILE, "bf01")),
    ("d/ai/uuid01", ParsedTopic(TopicKind.PREACTIVATION, "uuid01")),
    ("smart/device/in/+", None),
    ("smart/device/in/#", None),
    ("smart/device/in/", None),
    ("smart/device/in", None),
    ("smart/device/in/a/b", None),
    ("smart/device/sideways/a", None),
    ("/smart/device/in/a", None),
    ("", None),
    ("#", None),
]


@pytest.mark.parametrize(("topic", "parsed"), TOPICS, ids=[t[0] or "empty" for t in TOPICS])
def test_parse_topic(topic: str, parsed: ParsedTopic | None) -> None:
    assert parse_topic(topic) == parsed


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", "a\x00"])
def test_topic_ids_refuse_separators_and_wildcards(bad: str) -> None:
    for make in (topic_in, topic_out, rpc_req, rpc_rsp, rpc_file, preactivation_topic):
        with pytest.raises(LocalProtocolError):
            make(bad)
    with pytest.raises(LocalProtocolError):
        device_credentials(bad, "k")


@given(dev_id=st.text(min_size=1, max_size=30).filter(lambda s: not any(c in s for c in "/+#\x00")),
       kind=st.sampled_from([(topic_in, TopicKind.IN), (topic_out, TopicKind.OUT), (rpc_req, TopicKind.RPC_REQ),
                             (rpc_rsp, TopicKind.RPC_RSP), (rpc_file, TopicKind.RPC_FILE),
                             (preactivation_topic, TopicKind.PREACTIVATION)]))
@FAST
def test_topics_round_trip(dev_id: str, kind: tuple[Callable[[str], str], TopicKind]) -> None:
    make, topic_kind = kind
    try:
        topic = make(dev_id)
    except LocalProtocolError:  # lone surrogates
        return
    assert parse_topic(topic) == ParsedTopic(topic_kind, dev_id)


def test_preactivation_pv_is_checked() -> None:
    with pytest.raises(LocalProtocolError):
        preactivation_credentials("u", "k", pv="2.2")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        preactivation_credentials("u", "")


# ---------------------------------------------------------------------------------------------- messages


def test_protocol_numbers() -> None:
    cloud_to_device = {5, 8, 11, 13, 15, 22, 31, 46, 51, 103}
    device_to_cloud = {4, 16, 23, 26}
    assert {int(p) for p in MqttProtocol} == cloud_to_device | device_to_cloud


def test_message_helpers() -> None:
    command = dp_command({"1": True, "2": 30}, t=10, cid="c1")
    assert command.protocol == MqttProtocol.DP_COMMAND and dict(command.dps) == {"1": True, "2": 30}
    assert command.data["cid"] == "c1"
    assert dict(dp_report({"1": False}, t=11).dps) == {"1": False}
    assert dp_report({}, t=11).protocol == 4
    factory = reset_message("gw", t=1, factory=True)
    assert factory.is_factory_reset and factory.to_json() == \
        b'{"data":{"gwId":"gw"},"protocol":11,"t":1,"type":"reset_factory"}'
    assert not reset_message("gw", t=1, factory=False).is_factory_reset
    assert unbind_message(t=3).to_json() == b'{"data":{},"protocol":8,"t":3}'
    token = active_token_message("AbCd1234", "EU", t=4)
    assert dict(token.data) == {"token": "AbCd1234", "region": "EU", "env": "pro"}
    with pytest.raises(RemoteProtocolError, match="no dps"):
        _ = unbind_message(t=3).dps


BAD_MESSAGES: list[tuple[str, bytes]] = [
    ("not an object", b"[1]"),
    ("no protocol", b'{"t":1,"data":{}}'),
    ("no t", b'{"protocol":5,"data":{}}'),
    ("no data", b'{"protocol":5,"t":1}'),
    ("protocol bool", b'{"protocol":true,"t":1,"data":{}}'),
    ("protocol string", b'{"protocol":"5","t":1,"data":{}}'),
    ("negative t", b'{"protocol":5,"t":-1,"data":{}}'),
    ("t not digits", b'{"protocol":5,"t":"soon","data":{}}'),
    ("t float", b'{"protocol":5,"t":1.5,"data":{}}'),
    ("data list", b'{"protocol":5,"t":1,"data":[]}'),
    ("duplicate protocol", b'{"protocol":5,"protocol":8,"t":1,"data":{}}'),
    ("invalid utf-8", b'{"protocol":5,"t":1,"data":{"x":"\xc3"}}'),
]


@pytest.mark.parametrize("data", [b[1] for b in BAD_MESSAGES], ids=[b[0] for b in BAD_MESSAGES])
def test_message_json_refusals(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message_json(data)
    assert caught.value.section == "§5"


def test_message_records_refuse_bad_values() -> None:
    for call in (lambda: MqttMessage(True, 1, {}), lambda: MqttMessage(5, -1, {}), lambda: MqttMessage(5, 1, []),  # type: ignore[arg-type]
                 lambda: MqttMessage(5, 1, {}, {"t": 2}), lambda: MqttMessage(5, 1, {"x": object()}).to_json()):
        with pytest.raises(LocalProtocolError):
            call()


ENVELOPE_MISUSES: list[tuple[str, Callable[[], object]]] = [
    ("short key", lambda: encode_envelope(b"{}", local_key="short", pv="2.2")),
    ("17-byte key", lambda: decode_envelope(b"2.2", local_key=b"x" * 17)),
    ("unknown pv", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.4")),  # type: ignore[arg-type]
    ("2.3 without nonce", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.3")),
    ("2.3 short nonce", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.3", nonce=bytes(8))),
    ("seq over u32", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.2", seq=2**32)),
    ("stamp not digits", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.2", stamp="0000002x")),
    ("stamp too short", lambda: encode_envelope(b"{}", local_key=KEY, pv="2.2", stamp="25")),
]


@pytest.mark.parametrize("call", [m[1] for m in ENVELOPE_MISUSES], ids=[m[0] for m in ENVELOPE_MISUSES])
def test_envelope_misuse_is_local(call: Callable[[], object]) -> None:
    with pytest.raises(LocalProtocolError):
        call()


ENVELOPE_FAULTS: list[tuple[str, bytes, str]] = [
    ("unknown version", b"3.0" + bytes(40), "unknown envelope version"),
    ("empty", b"", "unknown envelope version"),
    ("2.1 short", b"2.1abc", "shorter"),
    ("2.1 bad sign", b"2.1" + b"0" * 16 + b"AAAA", "sign does not match"),
    ("2.2 short", b"2.2" + bytes(4), "shorter"),
    ("2.2 bad crc", b"2.2" + bytes(12) + bytes(16), "CRC-32"),
    ("2.3 short", b"2.3" + bytes(30), "shorter"),
    ("2.3 reserved", b"2.3" + bytes(8) + b"\x01" + bytes(28), "reserved"),
    ("2.3 bad tag", b"2.3" + bytes(9) + bytes(28), "tag"),
]


@pytest.mark.parametrize(("data", "message"), [f[1:] for f in ENVELOPE_FAULTS], ids=[f[0] for f in ENVELOPE_FAULTS])
def test_envelope_refusals(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        decode_envelope(data, local_key=KEY)


def test_pv21_with_a_valid_sign_but_bad_base64_or_padding_is_refused() -> None:
    for body in (b"not base64!", b"AAAA", b"AAAAAAAAAAAAAAAAAAAAAA=="):
        # The sign is right (computed here from §5's rule), so the body check is what refuses.
        sign = hashlib.md5(b"data=" + body + b"||pv=2.1||" + KEY.encode()).hexdigest()[8:24].encode()
        with pytest.raises(RemoteProtocolError, match=r"base64|multiple of 16|padding"):
            decode_envelope(b"2.1" + sign + body, local_key=KEY)


def test_wrong_key_is_refused_for_each_version() -> None:
    message = dp_command({"1": True}, t=1)
    for pv in PROTOCOL_VERSIONS:
        payload = encode_message(message, local_key=KEY, pv=pv, nonce=bytes(12))
        with pytest.raises(RemoteProtocolError):
            decode_message(payload, local_key="0123456789abcdef")


# ---------------------------------------------------------------------------------------------- round-trips

DP_VALUES = st.one_of(st.booleans(), st.integers(-(2**31), 2**31 - 1), st.text(max_size=20),
                      st.sampled_from(["", "\"", "\\", "\u00e9", "\U0001f600"]))
DPS = st.dictionaries(st.integers(1, 255).map(str), DP_VALUES, max_size=8)
KEYS = st.one_of(st.text(string.ascii_letters + string.digits, min_size=16, max_size=16),
                 st.binary(min_size=16, max_size=16))
U32 = st.integers(0, 2**32 - 1)


@FAST
@given(dps=DPS, t=st.integers(0, 2**40), protocol=st.sampled_from(list(MqttProtocol)),
       pv=st.sampled_from(PROTOCOL_VERSIONS), key=KEYS, seq=U32, source=U32, nonce=st.binary(min_size=12, max_size=12))
def test_messages_round_trip_in_every_envelope(dps: dict[str, Any], t: int, protocol: MqttProtocol,
                                               pv: ProtocolVersion, key: str | bytes, seq: int, source: int,
                                               nonce: bytes) -> None:
    message = MqttMessage(protocol, t, {"dps": dps})
    payload = encode_message(message, local_key=key, pv=pv, seq=seq, source=source, nonce=nonce)
    assert payload[:3] == pv.encode()
    assert decode_message(payload, local_key=key) == message
    envelope = decode_envelope(payload, local_key=key)
    if pv == "2.1":
        assert payload.isascii()
    else:
        assert (envelope.seq, envelope.source) == (seq, source)
    if pv == "2.3":
        assert envelope.nonce == nonce


@FAST
@given(unix_time=st.floats(0, 4e9), plaintext=st.binary(max_size=100))
def test_pv22_ascii_stamp_round_trips(unix_time: float, plaintext: bytes) -> None:
    stamp = tuya_convert_stamp(unix_time)
    payload = encode_envelope(plaintext, local_key=KEY, pv="2.2", stamp=stamp)
    envelope = decode_envelope(payload, local_key=KEY)
    assert (envelope.plaintext, envelope.stamp) == (plaintext, stamp)


# ---------------------------------------------------------------------------------------------- fuzz invariant

SAMPLES = [PV21["payload_ascii"].encode(), bytes.fromhex(PV22["payload_hex"]),
           encode_message(dp_command({"1": True, "101": "x"}, t=1700000000), local_key=KEY, pv="2.3", seq=3,
                          nonce=bytes(range(12)))]


def _decodes_or_refuses(data: bytes, key: str | bytes = KEY) -> None:
    with contextlib.suppress(ProtocolError):
        decode_message(data, local_key=key)


@FAST
@given(head=st.sampled_from([b"", b"2.1", b"2.2", b"2.3", b"2.1" + b"0" * 16]), body=st.binary(max_size=120))
def test_decoder_parses_or_raises_protocol_error_on_anything(head: bytes, body: bytes) -> None:
    _decodes_or_refuses(head + body)


@FAST
@given(plaintext=st.binary(max_size=120) | st.text(max_size=60).map(str.encode), pv=st.sampled_from(PROTOCOL_VERSIONS))
def test_any_plaintext_in_a_valid_envelope_parses_or_is_refused(plaintext: bytes, pv: ProtocolVersion) -> None:
    _decodes_or_refuses(encode_envelope(plaintext, local_key=KEY, pv=pv, nonce=bytes(12)))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=8)


@FAST
@given(obj=st.dictionaries(st.sampled_from(["protocol", "t", "data", "type", "s"]) | st.text(max_size=4),
                           JSON_VALUES, max_size=5))
def test_message_parser_accepts_or_refuses_any_object(obj: dict[str, Any]) -> None:
    with contextlib.suppress(ProtocolError):
        parse_message_json(json.dumps(obj).encode())


@pytest.mark.parametrize("payload", SAMPLES, ids=["pv21", "pv22", "pv23"])
def test_every_truncation_and_bit_flip_of_an_envelope_is_refused(payload: bytes) -> None:
    key = PV21["localKey"] if payload[:3] != b"2.3" else KEY
    assert isinstance(decode_message(payload, local_key=key), MqttMessage)
    for end in range(len(payload)):
        with pytest.raises(ProtocolError):
            decode_message(payload[:end], local_key=key)
    for bit in range(len(payload) * 8):
        flipped = bytearray(payload)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            decode_message(bytes(flipped), local_key=key)
