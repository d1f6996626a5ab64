"""AP-mode codecs (PROTOCOL.md §3): vectors byte for byte, round-trips, refusals, and the fuzz invariant."""

from __future__ import annotations

import contextlib
import json
import string
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol.apconfig import (
    AP_PREFIX,
    LPV35_APP_KEY,
    LPV35_PREFIX,
    MAX_FRAME_LEN,
    PAYLOAD_STYLES,
    ApBeacon,
    ApCfgAck,
    ApConfig,
    ApFrame,
    ApFrameBuffer,
    ExtCmdReply,
    ExtCmdRequest,
    FrameError,
    FrameFault,
    Lpv35Frame,
    Lpv35FrameBuffer,
    Lpv35Type,
    PayloadStyle,
    ap_cfg_request_payload,
    ap_config_payload,
    decode_ap_beacon,
    decode_ap_config,
    decode_ap_frame,
    decode_lpv35_frame,
    encode_ap_beacon,
    encode_ap_cfg_ack,
    encode_ap_cfg_request,
    encode_ap_config,
    encode_ap_frame,
    encode_ext_cmd,
    encode_lpv35_frame,
    parse_ap_beacon_payload,
    parse_ap_cfg_ack,
    parse_ap_cfg_request,
    parse_ap_config_payload,
    parse_app_message,
    parse_device_message,
    parse_ext_cmd_reply,
    parse_ext_cmd_request,
)
from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ap.json").read_text(encoding="utf-8"))
LEGACY_VECTORS = VECTORS["legacy_ap_v3"]["vectors"]
LPV35_VECTORS = VECTORS["lpv35_ap"]["vectors"]
FIXED_NONCE = bytes.fromhex(VECTORS["lpv35_ap"]["fixed_nonce_hex"])
# The vector names' encodings, as ap_config_payload's styles.
STYLE_OF_VECTOR: dict[str, PayloadStyle] = {"cloudcutter_configure_wifi": "spaced", "compact_utf8": "compact",
                   "compact_ascii_escaped": "ascii-escaped"}

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("vector", LEGACY_VECTORS, ids=lambda v: v["name"])
def test_legacy_vector_payload_and_frame_byte_for_byte(vector: dict[str, Any]) -> None:
    style = STYLE_OF_VECTOR[vector["name"].split("/")[1]]
    given_ = vector["input"]
    # CC's configure_wifi sends its dummy token; the payload_text shows which token each vector carries.
    token = json.loads(vector["payload_text"])["token"]
    payload = ap_config_payload(given_["ssid"], given_["password"], token, style=style)
    assert payload.hex() == vector["payload_hex"]
    assert payload.decode("utf-8") == vector["payload_text"]
    frame = encode_ap_frame(payload)
    assert frame.hex() == vector["frame_hex"]
    assert len(frame) == vector["frame_len"]
    assert frame[-8:-4].hex() == vector["crc32_hex"]
    assert encode_ap_config(given_["ssid"], given_["password"], token, style=style) == frame


@pytest.mark.parametrize("vector", LEGACY_VECTORS, ids=lambda v: v["name"])
def test_legacy_vector_decodes(vector: dict[str, Any]) -> None:
    frame = decode_ap_frame(bytes.fromhex(vector["frame_hex"]))
    assert frame == ApFrame(seq=0, cmd=1, payload=bytes.fromhex(vector["payload_hex"]))
    config = decode_ap_config(bytes.fromhex(vector["frame_hex"]))
    assert config.ssid == vector["input"]["ssid"]
    assert config.password == vector["input"]["password"]
    assert config.token == json.loads(vector["payload_text"])["token"]
    assert dict(config.extras) == {}


def test_lpv35_app_key_is_md5_of_the_fixed_string() -> None:
    assert LPV35_APP_KEY.hex() == VECTORS["lpv35_ap"]["key_hex"] == "c6f23aef1cafb170b8d812d7509c8e6d"


def _vector_plaintext(vector: dict[str, Any]) -> bytes:
    if "plaintext_hex" in vector:
        return bytes.fromhex(vector["plaintext_hex"])
    return str(vector["payload_text"]).encode("utf-8")


@pytest.mark.parametrize("vector", LPV35_VECTORS, ids=lambda v: v["name"])
def test_lpv35_vector_frames_byte_for_byte(vector: dict[str, Any]) -> None:
    plaintext = _vector_plaintext(vector)
    frame = encode_lpv35_frame(vector["type"], plaintext, seq=vector["seq"], key=LPV35_APP_KEY, nonce=FIXED_NONCE)
    assert frame.hex() == vector["frame_hex"]
    assert len(frame) == vector["frame_len"]
    decoded = decode_lpv35_frame(frame, key=LPV35_APP_KEY)
    assert decoded == Lpv35Frame(seq=vector["seq"], type=vector["type"], data=plaintext, nonce=FIXED_NONCE)


def test_lpv35_config_request_vector() -> None:
    vector = LPV35_VECTORS[0]
    frame = encode_ap_cfg_request("HomeNet", "hunter22", "EUAbCd1234WWB3", seq=1, nonce=FIXED_NONCE)
    assert frame.hex() == vector["frame_hex"]
    assert ap_cfg_request_payload("HomeNet", "hunter22", "EUAbCd1234WWB3").decode() == vector["payload_text"]
    message = parse_app_message(decode_lpv35_frame(frame, key=LPV35_APP_KEY))
    assert message == ApConfig(ssid="HomeNet", password="hunter22", token="EUAbCd1234WWB3")


def test_lpv35_device_ack_vector() -> None:
    vector = LPV35_VECTORS[1]
    assert encode_ap_cfg_ack(0, seq=0, nonce=FIXED_NONCE).hex() == vector["frame_hex"]
    message = parse_device_message(decode_lpv35_frame(bytes.fromhex(vector["frame_hex"]), key=LPV35_APP_KEY))
    assert message == ApCfgAck(0)
    assert isinstance(message, ApCfgAck) and message.ok


def test_lpv35_beacon_vector_with_its_exact_spacing() -> None:
    vector = LPV35_VECTORS[2]
    frame = encode_ap_beacon("192.168.176.1", "uuidxxxxxxxxxxxxxxxx", seq=0, nonce=FIXED_NONCE)
    assert frame.hex() == vector["frame_hex"]
    opened = decode_lpv35_frame(frame, key=LPV35_APP_KEY)
    assert opened.data[4:].decode() == vector["plaintext_json"]
    assert decode_ap_beacon(frame) == ApBeacon(ip="192.168.176.1", uuid="uuidxxxxxxxxxxxxxxxx")


# ---------------------------------------------------------------------------------------------- refusals


def _legacy_frame() -> bytes:
    return bytes.fromhex(LEGACY_VECTORS[1]["frame_hex"])


def _lpv35_frame() -> bytes:
    return bytes.fromhex(LPV35_VECTORS[0]["frame_hex"])


def _with_crc(frame: bytes) -> bytes:
    return frame[:-8] + zlib.crc32(frame[:-8]).to_bytes(4, "big") + frame[-4:]


LEGACY_FAULTS: list[tuple[str, bytes, FrameFault]] = [
    ("empty", b"", FrameFault.LENGTH),
    ("partial prefix", b"\x00\x00\x55", FrameFault.LENGTH),
    ("other prefix", b"\x00\x00\x66\x99" + _legacy_frame()[4:], FrameFault.PREFIX),
    ("short", AP_PREFIX + bytes(10), FrameFault.LENGTH),
    ("truncated", _legacy_frame()[:-1], FrameFault.LENGTH),
    ("trailing byte", _legacy_frame() + b"\x00", FrameFault.LENGTH),
    ("suffix", _legacy_frame()[:-1] + b"\x56", FrameFault.SUFFIX),
    ("crc", _legacy_frame()[:-5] + b"\x00" + _legacy_frame()[-4:], FrameFault.CRC),
    ("payload altered", _legacy_frame()[:20] + b"X" + _legacy_frame()[21:], FrameFault.CRC),
    ("length below 8", _with_crc(AP_PREFIX + bytes(8) + (7).to_bytes(4, "big") + bytes(8)), FrameFault.LENGTH),
]


@pytest.mark.parametrize(("data", "reason"), [f[1:] for f in LEGACY_FAULTS], ids=[f[0] for f in LEGACY_FAULTS])
def test_legacy_frame_refusals_say_which_check_failed(data: bytes, reason: FrameFault) -> None:
    with pytest.raises(FrameError) as caught:
        decode_ap_frame(data)
    assert caught.value.reason is reason
    assert caught.value.section == "§3.1"
    assert isinstance(caught.value, RemoteProtocolError)


def test_legacy_crc_can_be_ignored_like_the_firmware_cc_disassembled() -> None:
    bad_crc = _legacy_frame()[:-8] + b"\xde\xad\xbe\xef" + _legacy_frame()[-4:]
    assert decode_ap_frame(bad_crc, check_crc=False).payload == decode_ap_frame(_legacy_frame()).payload


def test_legacy_config_refuses_other_commands() -> None:
    with pytest.raises(RemoteProtocolError, match="cmd 7"):
        decode_ap_config(encode_ap_frame(b"{}", cmd=7))


LPV35_FAULTS: list[tuple[str, bytes, FrameFault]] = [
    ("empty", b"", FrameFault.LENGTH),
    ("other prefix", AP_PREFIX + _lpv35_frame()[4:], FrameFault.PREFIX),
    ("truncated", _lpv35_frame()[:-1], FrameFault.LENGTH),
    ("short", LPV35_PREFIX + bytes(40), FrameFault.LENGTH),
    ("suffix", _lpv35_frame()[:-1] + b"\x00", FrameFault.SUFFIX),
    ("reserved", _lpv35_frame()[:4] + b"\x01" + _lpv35_frame()[5:], FrameFault.RESERVED),
    ("seq altered", _lpv35_frame()[:9] + b"\x02" + _lpv35_frame()[10:], FrameFault.TAG),
    ("ciphertext altered", _lpv35_frame()[:40] + b"\xff" + _lpv35_frame()[41:], FrameFault.TAG),
    ("nonce altered", _lpv35_frame()[:18] + b"\xff" + _lpv35_frame()[19:], FrameFault.TAG),
]


@pytest.mark.parametrize(("data", "reason"), [f[1:] for f in LPV35_FAULTS], ids=[f[0] for f in LPV35_FAULTS])
def test_lpv35_frame_refusals_say_which_check_failed(data: bytes, reason: FrameFault) -> None:
    with pytest.raises(FrameError) as caught:
        decode_lpv35_frame(data, key=LPV35_APP_KEY)
    assert caught.value.reason is reason
    assert caught.value.section == "§3.2"


def test_lpv35_wrong_key_fails_the_tag() -> None:
    with pytest.raises(FrameError) as caught:
        decode_lpv35_frame(_lpv35_frame(), key=bytes(16))
    assert caught.value.reason is FrameFault.TAG


BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("not json", b"ssid=x", "not valid JSON"),
    ("array", b'["ssid"]', "must be a JSON object"),
    ("string", b'"x"', "must be a JSON object"),
    ("invalid utf-8", b'{"ssid":"\xff"}', "(?i)utf-8"),
    ("no ssid", b'{"passwd":"hunter22","token":"t"}', "no ssid"),
    ("empty ssid", b'{"ssid":""}', "ssid must be 1 to 32"),
    ("ssid 33 bytes", b'{"ssid":"' + b"a" * 33 + b'"}', "ssid must be 1 to 32"),
    ("multibyte ssid over 32 bytes", ('{"ssid":"' + "\u00e9" * 17 + '"}').encode(), "ssid must be 1 to 32"),
    ("password 65 bytes", b'{"ssid":"a","passwd":"' + b"p" * 65 + b'"}', "passwd must be at most 64"),
    ("ssid number", b'{"ssid":1}', "ssid must be a JSON string"),
    ("ssid null", b'{"ssid":null}', "ssid must be a JSON string"),
    ("passwd number", b'{"ssid":"a","passwd":12345678}', "passwd must be a JSON string"),
    ("token object", b'{"ssid":"a","token":{}}', "token must be a JSON string"),
    ("empty token", b'{"ssid":"a","token":""}', "token must not be empty"),
    ("prod_test not bool", b'{"ssid":"a","prod_test":1}', "prod_test must be a JSON boolean"),
    ("uuid not string", b'{"ssid":"a","uuid":5}', "uuid must be a JSON string"),
    ("duplicate ssid", b'{"ssid":"a","ssid":"b"}', "duplicate key"),
    ("NaN", b'{"ssid":"a","x":NaN}', "NaN"),
    ("lone surrogate", b'{"ssid":"\\ud800"}', "UTF-8"),
    ("deep nesting", b'{"ssid":"a","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion"),
]


@pytest.mark.parametrize(("data", "message"), [b[1:] for b in BAD_PAYLOADS], ids=[b[0] for b in BAD_PAYLOADS])
def test_config_payload_refusals(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message) as caught:
        parse_ap_config_payload(data)
    assert caught.value.section == "§3.1"
    with pytest.raises(RemoteProtocolError, match=message) as caught:
        parse_ap_cfg_request(data)
    assert caught.value.section == "§3.2"


def test_config_payload_keeps_extras_and_reg() -> None:
    payload = b'{"ssid":"a","token":"AAAAAAAA","auzkey":"k","uuid":"u","pskKey":"p","prod_test":false,' \
              b'"ap_ssid":"A","reg":{"x":1},"other":[1]}'
    config = parse_ap_config_payload(payload)
    assert config.password == ""
    assert dict(config.extras) == {"auzkey": "k", "uuid": "u", "pskKey": "p", "prod_test": False,
                                   "ap_ssid": "A", "reg": {"x": 1}, "other": [1]}
    with pytest.raises(RemoteProtocolError, match="reg must be a JSON object"):
        parse_ap_cfg_request(b'{"ssid":"a","reg":"centre"}')


def test_config_payload_absent_token_is_none() -> None:
    assert parse_ap_cfg_request(b'{"ssid":"a"}') == ApConfig(ssid="a", password="", token=None)


LOCAL_MISUSES: list[tuple[str, Callable[[], object]]] = [
    ("ssid 33 bytes", lambda: ap_config_payload("a" * 33, "", "t")),
    ("empty ssid", lambda: ap_config_payload("", "", "t")),
    ("password 65 bytes", lambda: ap_config_payload("a", "p" * 65, "t")),
    ("unknown style", lambda: ap_config_payload("a", "", "t", style="pretty")),  # type: ignore[arg-type]
    ("extras overriding ssid", lambda: ap_config_payload("a", "", "t", extras={"ssid": "b"})),
    ("lone surrogate", lambda: ap_config_payload("\ud800", "", "t")),
    ("seq too big", lambda: encode_ap_frame(b"", seq=2**32)),
    ("negative cmd", lambda: encode_ap_frame(b"", cmd=-1)),
    ("payload over the frame limit", lambda: encode_ap_frame(bytes(MAX_FRAME_LEN))),
    ("short nonce", lambda: encode_lpv35_frame(0x14, b"", seq=0, key=LPV35_APP_KEY, nonce=bytes(11))),
    ("short key", lambda: encode_lpv35_frame(0x14, b"", seq=0, key=bytes(15), nonce=bytes(12))),
    ("bad beacon ip", lambda: encode_ap_beacon("192.168.176", "u", seq=0, nonce=bytes(12))),
    ("long beacon uuid", lambda: encode_ap_beacon("1.2.3.4", "u" * 26, seq=0, nonce=bytes(12))),
    ("negative ret_code", lambda: encode_ap_cfg_ack(-1, seq=0, nonce=bytes(12))),
    ("unknown ext request", lambda: ExtCmdRequest("reboot")),
    ("wifi list without cnt", lambda: ExtCmdRequest("get_wifi_list")),
    ("cnt on query_dev", lambda: ExtCmdRequest("query_dev", cnt=3)),
    ("unknown ext reply", lambda: ExtCmdReply("query_dev")),
]


@pytest.mark.parametrize("call", [m[1] for m in LOCAL_MISUSES], ids=[m[0] for m in LOCAL_MISUSES])
def test_misuse_is_a_local_error(call: Callable[[], object]) -> None:
    with pytest.raises(LocalProtocolError):
        call()


def test_beacon_ret_code_is_little_endian_and_fields_are_checked() -> None:
    frame = encode_ap_beacon("10.0.0.1", "u1", ret_code=1, sl=2, active=1, combos_flag=None, seq=3,
                             nonce=FIXED_NONCE)
    plain = decode_lpv35_frame(frame, key=LPV35_APP_KEY).data
    assert plain[:4] == b"\x01\x00\x00\x00"
    assert plain[4:] == b'{"ip":"10.0.0.1", "uuid":"u1", "active":1,"version":"3.5","sl":2,"apConfigType":1}'
    assert decode_ap_beacon(frame) == ApBeacon("10.0.0.1", "u1", active=1, sl=2, ret_code=1, combos_flag=None)
    for bad in (b"\x00\x00", b"\x00\x00\x00\x00[]", b'\x00\x00\x00\x00{"ip":"1.2.3.4","uuid":"u","active":0}',
                b'\x00\x00\x00\x00{"ip":"1.2.3","uuid":"u","active":0,"version":"3.5","sl":0}',
                b'\x00\x00\x00\x00{"ip":"1.2.3.4","uuid":"u","active":true,"version":"3.5","sl":0}'):
        with pytest.raises(RemoteProtocolError):
            parse_ap_beacon_payload(bad)


def test_beacon_decoder_refuses_other_frame_types() -> None:
    with pytest.raises(RemoteProtocolError, match="0x14"):
        decode_ap_beacon(_lpv35_frame())


def test_ack_must_be_exactly_four_bytes() -> None:
    assert parse_ap_cfg_ack(b"\x05\x00\x00\x00") == ApCfgAck(5)
    assert not ApCfgAck(5).ok
    for bad in (b"", b"\x00\x00\x00", b"\x00" * 5):
        with pytest.raises(RemoteProtocolError):
            parse_ap_cfg_ack(bad)


EXT_CASES: list[tuple[ExtCmdRequest | ExtCmdReply, bytes]] = [
    (ExtCmdRequest("query_dev"), b'{"reqType":"query_dev"}'),
    (ExtCmdRequest("get_wifi_list", cnt=10), b'{"reqType":"get_wifi_list","data":{"cnt":10}}'),
    (ExtCmdRequest("query_netcfg_stat"), b'{"reqType":"query_netcfg_stat"}'),
    (ExtCmdReply("query_dev_rpt", {"uuid": "u"}), b'{"reqType":"query_dev_rpt","data":{"uuid":"u"}}'),
    (ExtCmdReply("wifi_list_rpt", [{"ssid": "a", "rssi": -40}]),
     b'{"reqType":"wifi_list_rpt","data":[{"ssid":"a","rssi":-40}]}'),
    (ExtCmdReply("netcfg_stat_rpt", 0), b'{"reqType":"netcfg_stat_rpt","data":0}'),
]


@pytest.mark.parametrize(("message", "body"), EXT_CASES, ids=lambda c: getattr(c, "req_type", None))
def test_ext_cmd_encodes_and_parses(message: ExtCmdRequest | ExtCmdReply, body: bytes) -> None:
    frame = decode_lpv35_frame(encode_ext_cmd(message, seq=9, nonce=FIXED_NONCE), key=LPV35_APP_KEY)
    assert frame.type == Lpv35Type.EXT_CMD and frame.data == body
    parsed = parse_app_message(frame) if isinstance(message, ExtCmdRequest) else parse_device_message(frame)
    assert parsed == message


@pytest.mark.parametrize("body", [b'{"reqType":"get_wifi_list"}', b'{"reqType":"get_wifi_list","data":{"cnt":-1}}',
                                  b'{"reqType":"get_wifi_list","data":{"cnt":true}}', b'{"reqType":5}',
                                  b'{"reqType":"reboot"}', b'{}'])
def test_ext_cmd_request_refusals(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_ext_cmd_request(body)


def test_ext_cmd_reply_needs_data() -> None:
    with pytest.raises(RemoteProtocolError, match="no data"):
        parse_ext_cmd_reply(b'{"reqType":"query_dev_rpt"}')


def test_message_dispatch_refuses_types_outside_ap_config() -> None:
    frame = decode_lpv35_frame(encode_lpv35_frame(Lpv35Type.SET_TIME, b"{}", seq=0, key=LPV35_APP_KEY,
                                                  nonce=FIXED_NONCE), key=LPV35_APP_KEY)
    with pytest.raises(RemoteProtocolError):
        parse_app_message(frame)
    with pytest.raises(RemoteProtocolError):
        parse_device_message(frame)


# ---------------------------------------------------------------------------------------------- round-trips

JSON_SPECIALS = '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u00e9\u4e2d\U0001f600'


def _text_of_utf8_bytes(low: int, high: int) -> st.SearchStrategy[str]:
    chars = st.one_of(st.sampled_from(JSON_SPECIALS), st.characters(codec="utf-8"))
    return st.text(chars, min_size=1 if low else 0, max_size=high).filter(
        lambda s: low <= len(s.encode("utf-8")) <= high)


SSIDS = _text_of_utf8_bytes(1, 32)
PASSWORDS = st.one_of(st.just(""), _text_of_utf8_bytes(8, 64))
TOKENS = st.one_of(st.text(string.ascii_letters + string.digits, min_size=14, max_size=14),
                   st.text(st.characters(codec="utf-8"), min_size=1, max_size=20))
NONCES = st.binary(min_size=12, max_size=12)
U32 = st.integers(0, 2**32 - 1)


@FAST
@given(ssid=SSIDS, password=PASSWORDS, token=TOKENS, style=st.sampled_from(PAYLOAD_STYLES), seq=U32)
def test_legacy_config_round_trips(ssid: str, password: str, token: str, style: Any, seq: int) -> None:
    payload = ap_config_payload(ssid, password, token, style=style)
    assert parse_ap_config_payload(payload) == ApConfig(ssid=ssid, password=password, token=token)
    if style != "compact":
        assert payload.isascii()
    datagram = encode_ap_config(ssid, password, token, style=style, seq=seq)
    assert decode_ap_frame(datagram) == ApFrame(seq=seq, cmd=1, payload=payload)
    assert decode_ap_config(datagram) == ApConfig(ssid=ssid, password=password, token=token)


@FAST
@given(ssid=SSIDS, password=PASSWORDS, token=st.none() | TOKENS, nonce=NONCES, seq=U32,
       reg=st.none() | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3))
def test_lpv35_config_request_round_trips(ssid: str, password: str, token: str | None, nonce: bytes, seq: int,
                                          reg: dict[str, Any] | None) -> None:
    frame = encode_ap_cfg_request(ssid, password, token, reg=reg, seq=seq, nonce=nonce)
    opened = decode_lpv35_frame(frame, key=LPV35_APP_KEY)
    assert (opened.seq, opened.type, opened.nonce) == (seq, 0x14, nonce)
    assert parse_app_message(opened) == ApConfig(ssid=ssid, password=password, token=token,
                                                 extras={} if reg is None else {"reg": reg})


@FAST
@given(frame_type=U32, seq=U32, data=st.binary(max_size=300), nonce=NONCES, key=st.binary(min_size=16, max_size=16))
def test_lpv35_frames_round_trip(frame_type: int, seq: int, data: bytes, nonce: bytes, key: bytes) -> None:
    frame = encode_lpv35_frame(frame_type, data, seq=seq, key=key, nonce=nonce)
    assert len(frame) == 18 + 12 + len(data) + 16 + 4
    assert decode_lpv35_frame(frame, key=key) == Lpv35Frame(seq=seq, type=frame_type, data=data, nonce=nonce)


@FAST
@given(ip=st.ip_addresses(v=4).map(str), uuid=st.text(string.ascii_letters + string.digits, min_size=1, max_size=25),
       active=st.integers(0, 1), sl=st.integers(0, 3), ret_code=U32, combos=st.none() | st.integers(0, 255),
       seq=U32, nonce=NONCES)
def test_beacon_round_trips(ip: str, uuid: str, active: int, sl: int, ret_code: int, combos: int | None,
                            seq: int, nonce: bytes) -> None:
    frame = encode_ap_beacon(ip, uuid, active=active, sl=sl, ret_code=ret_code, combos_flag=combos, seq=seq,
                             nonce=nonce)
    assert decode_ap_beacon(frame) == ApBeacon(ip, uuid, active=active, sl=sl, ret_code=ret_code,
                                               combos_flag=combos)


@QUICK
@given(ret_code=U32, seq=U32, nonce=NONCES)
def test_ack_round_trips(ret_code: int, seq: int, nonce: bytes) -> None:
    frame = decode_lpv35_frame(encode_ap_cfg_ack(ret_code, seq=seq, nonce=nonce), key=LPV35_APP_KEY)
    assert parse_device_message(frame) == ApCfgAck(ret_code)


# ---------------------------------------------------------------------------------------------- fuzz invariant


def _outcomes(buffer: ApFrameBuffer | Lpv35FrameBuffer, chunks: list[bytes]) -> list[object]:
    """Feed ``chunks`` and drain after each: frames, and the reason of each refused candidate."""
    seen: list[object] = []
    for chunk in chunks:
        buffer.receive_data(chunk)
        while True:
            try:
                frame = buffer.next_frame()
            except FrameError as exc:
                seen.append(exc.reason)
                continue
            if frame is None:
                break
            seen.append(frame)
    return seen


def _byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def _decodes_or_refuses(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data)


LEGACY_SAMPLES = [bytes.fromhex(v["frame_hex"]) for v in LEGACY_VECTORS]
LPV35_SAMPLES = [bytes.fromhex(v["frame_hex"]) for v in LPV35_VECTORS]
STREAM_PIECES = st.lists(st.one_of(st.binary(max_size=30), st.sampled_from(LEGACY_SAMPLES + LPV35_SAMPLES),
                                   st.sampled_from([AP_PREFIX, LPV35_PREFIX]),
                                   st.sampled_from(LEGACY_SAMPLES + LPV35_SAMPLES).map(lambda f: f[: len(f) // 2])),
                         max_size=8).map(b"".join)


@FAST
@given(data=st.binary(max_size=200) | STREAM_PIECES)
def test_decoders_parse_or_raise_protocol_error_on_anything(data: bytes) -> None:
    _decodes_or_refuses(decode_ap_frame, data)
    _decodes_or_refuses(decode_ap_config, data)
    _decodes_or_refuses(parse_ap_config_payload, data)
    _decodes_or_refuses(lambda d: decode_lpv35_frame(d, key=LPV35_APP_KEY), data)
    for parse in (parse_ap_cfg_request, parse_ap_beacon_payload, parse_ap_cfg_ack, parse_ext_cmd_request,
                  parse_ext_cmd_reply):
        _decodes_or_refuses(parse, data)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=8)
CONFIG_KEYS = st.sampled_from(["ssid", "passwd", "token", "reg", "prod_test", "uuid", "auzkey", "reqType", "data",
                               "cnt", "ip", "active", "version", "sl"])


@FAST
@given(obj=st.dictionaries(CONFIG_KEYS | st.text(max_size=4), JSON_VALUES, max_size=6))
def test_json_parsers_accept_or_refuse_any_object(obj: dict[str, Any]) -> None:
    body = json.dumps(obj).encode()
    for parse in (parse_ap_config_payload, parse_ap_cfg_request, parse_ext_cmd_request, parse_ext_cmd_reply,
                  lambda d: parse_ap_beacon_payload(b"\x00" * 4 + d)):
        _decodes_or_refuses(parse, body)


@pytest.mark.parametrize("frame", LEGACY_SAMPLES, ids=[v["name"] for v in LEGACY_VECTORS])
def test_every_truncation_and_bit_flip_of_a_legacy_frame_is_refused(frame: bytes) -> None:
    for end in range(len(frame)):
        with pytest.raises(FrameError):
            decode_ap_frame(frame[:end])
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):
            decode_ap_frame(bytes(flipped))


@pytest.mark.parametrize("frame", LPV35_SAMPLES, ids=[v["name"] for v in LPV35_VECTORS])
def test_every_truncation_and_bit_flip_of_an_lpv35_frame_is_refused(frame: bytes) -> None:
    for end in range(len(frame)):
        with pytest.raises(FrameError):
            decode_lpv35_frame(frame[:end], key=LPV35_APP_KEY)
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):
            decode_lpv35_frame(bytes(flipped), key=LPV35_APP_KEY)


@FAST
@given(payloads=st.lists(st.tuples(st.binary(max_size=60), U32), min_size=1, max_size=4),
       garbage=st.lists(st.binary(max_size=12).filter(lambda g: AP_PREFIX not in g), min_size=5, max_size=5),
       cut=st.integers(1, 7))
def test_legacy_stream_yields_the_frames_through_garbage_in_any_chunking(
        payloads: list[tuple[bytes, int]], garbage: list[bytes], cut: int) -> None:
    frames = [encode_ap_frame(p, seq=s) for p, s in payloads]
    stream = garbage[0] + b"".join(f + g for f, g in zip(frames, garbage[1:] * 2, strict=False))
    expected = [decode_ap_frame(f) for f in frames]
    assert _outcomes(ApFrameBuffer(), [stream]) == expected
    assert _outcomes(ApFrameBuffer(), _byte_at_a_time(stream)) == expected
    assert _outcomes(ApFrameBuffer(), [stream[i : i + cut] for i in range(0, len(stream), cut)]) == expected


@FAST
@given(datas=st.lists(st.tuples(st.binary(max_size=60), U32, NONCES), min_size=1, max_size=3),
       garbage=st.lists(st.binary(max_size=12).filter(lambda g: LPV35_PREFIX not in g), min_size=4, max_size=4))
def test_lpv35_stream_yields_the_frames_through_garbage_byte_at_a_time(
        datas: list[tuple[bytes, int, bytes]], garbage: list[bytes]) -> None:
    frames = [encode_lpv35_frame(0x1E, d, seq=s, key=LPV35_APP_KEY, nonce=n) for d, s, n in datas]
    stream = garbage[0] + b"".join(f + g for f, g in zip(frames, garbage[1:], strict=False))
    expected = [decode_lpv35_frame(f, key=LPV35_APP_KEY) for f in frames]
    assert _outcomes(Lpv35FrameBuffer(key=LPV35_APP_KEY), [stream]) == expected
    assert _outcomes(Lpv35FrameBuffer(key=LPV35_APP_KEY), _byte_at_a_time(stream)) == expected


@FAST
@given(stream=STREAM_PIECES, cut=st.integers(1, 9))
def test_streams_give_the_same_outcomes_whole_or_byte_at_a_time(stream: bytes, cut: int) -> None:
    for make in (ApFrameBuffer, lambda: Lpv35FrameBuffer(key=LPV35_APP_KEY)):
        whole = _outcomes(make(), [stream])
        assert _outcomes(make(), _byte_at_a_time(stream)) == whole
        assert _outcomes(make(), [stream[i : i + cut] for i in range(0, len(stream), cut)]) == whole


def test_stream_resynchronises_after_a_corrupted_frame() -> None:
    good = LEGACY_SAMPLES[0]
    bad_crc = good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]
    buffer = ApFrameBuffer()
    assert _outcomes(buffer, _byte_at_a_time(b"noise" + bad_crc + good)) == [FrameFault.CRC, decode_ap_frame(good)]
    # A corrupted length field cannot swallow the next good frame: only the bad candidate's prefix is dropped.
    huge = AP_PREFIX + bytes(8) + (0xFFFFFFFF).to_bytes(4, "big")
    assert _outcomes(ApFrameBuffer(), [huge + good]) == [FrameFault.LENGTH, decode_ap_frame(good)]
    assert buffer.pending == 0
