"""ATOP codec (PROTOCOL.md §4): the vectors byte for byte, refusals, round-trips, and the fuzz invariant."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol import atop
from harness.protocol.atop import (
    ACTIVATION_ORDER_CC,
    API_ACTIVE_V44,
    API_OPENSDK_ACTIVE,
    ActivationRequest,
    ActivationResult,
    AtopQuery,
    AtopRequest,
    DecryptionFailed,
    SignatureMismatch,
    UrlConfigRequest,
    UrlConfigResponse,
    build_request,
    decode_response,
    decrypt_body,
    encode_plain_error,
    encode_response,
    encrypt_body,
    error_payload,
    parse_query,
    parse_request,
    sign,
    sign_input,
    success_payload,
    verify_sign,
)
from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "atop_mqtt.json").read_text(encoding="utf-8"))["atop"]
REQ = VECTORS["active_request"]
RESP = VECTORS["active_response"]
AUTH_KEY = REQ["authKey"]
NONCE = bytes(range(12))

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------- vectors


def test_sign_string_and_md5_match_the_vector() -> None:
    params = {name: str(value) for name, value in REQ["query_params"].items()}
    assert sign_input(params, AUTH_KEY) == REQ["sign_input"]
    assert sign(params, AUTH_KEY) == REQ["sign_md5_hex"]


def test_sign_ignores_parameter_order_and_unsigned_parameters() -> None:
    params = {name: str(value) for name, value in reversed(list(REQ["query_params"].items()))}
    assert sign({**params, "sign": "x", "gwId": "y"}, AUTH_KEY) == REQ["sign_md5_hex"]


def test_sign_includes_dev_id_between_a_and_et() -> None:
    params = {"a": "x", "devId": "d", "et": "3", "t": "1", "v": "1.0"}
    assert sign_input(params, "K") == "a=x||devId=d||et=3||t=1||v=1.0||K"


def test_et1_activation_body_matches_the_vector() -> None:
    assert "data=" + encrypt_body(REQ["body_json"].encode(), AUTH_KEY, 1) == REQ["post_body"]
    assert decrypt_body(REQ["post_body"].removeprefix("data="), AUTH_KEY, 1) == REQ["body_json"].encode()


def test_build_request_reproduces_path_query_and_body() -> None:
    req = AtopRequest(*API_ACTIVE_V44, et=1, t=1700000000, uuid=REQ["uuid"], dev_id=None,
                      body=REQ["body_json"].encode())
    query, body = build_request(req, AUTH_KEY)
    assert f"{atop.ATOP_PATH}?{query}" == REQ["url_path_and_query"]
    assert body.decode() == REQ["post_body"]


def test_parse_request_reads_the_vector() -> None:
    req = parse_request(REQ["url_path_and_query"], REQ["post_body"].encode(), AUTH_KEY)
    assert (req.api, req.version, req.et, req.t, req.uuid, req.dev_id) == (
        "tuya.device.active", "4.4", 1, 1700000000, REQ["uuid"], None)
    assert req.body == REQ["body_json"].encode()


def test_activation_body_record_reproduces_cloudcutters_json() -> None:
    record = ActivationRequest.from_json(REQ["body_json"])
    assert record.token == "AbCd1234" and record.product_key_str == "keyxxxxxxxxxxxxx"
    assert record.options_obj == {"isFK": True, "otaChannel": 0}
    assert record.dev_attribute is None
    assert record.to_json(order=ACTIVATION_ORDER_CC) == REQ["body_json"]


def test_encrypted_response_and_its_sign_match_the_vector() -> None:
    inner = json.loads(RESP["inner_plaintext"])
    result = ActivationResult.from_dict(inner["result"])
    assert result.to_dict() == inner["result"]
    wire = encode_response(success_payload(result.to_dict(), t=inner["t"]), AUTH_KEY, 1, t=inner["t"])
    assert wire.decode() == RESP["wire_json"]
    assert json.loads(wire)["sign"] == "daaced4cd9d2d5a7"


def test_decode_response_reads_the_vector() -> None:
    reply = decode_response(RESP["wire_json"].encode(), AUTH_KEY, 1)
    assert reply.success and reply.encrypted and reply.t == 1700000000
    assert reply.result is not None
    result = ActivationResult.from_dict(reply.result)
    assert (result.dev_id, result.sec_key, result.local_key) == ("bf0123456789abcdefgh", "0123456789abcdef",
                                                                 "fedcba9876543210")
    assert result.capability == 1025 and result.reset_factory is False


# ----------------------------------------------------------------------------------------- query rules


def test_parse_query_accepts_a_mapping_and_a_devid_query() -> None:
    params = {"a": "tuya.device.reset", "devId": "bf0123456789abcdefgh", "et": "3", "t": "5", "v": "4.0"}
    q = parse_query({**params, "sign": sign(params, "0123456789abcdef")})
    assert q.dev_id == "bf0123456789abcdefgh" and q.uuid is None and q.et == 3
    assert verify_sign(q, "0123456789abcdef") and not verify_sign(q, "0123456789abcdeX")


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("a=x&et=1&t=1&v=4.4&sign=" + "0" * 32, "neither uuid nor devId"),
        ("a=x&et=1&t=1&uuid=u&sign=" + "0" * 32, "v is missing"),
        ("a=x&et=2&t=1&uuid=u&v=4.4&sign=" + "0" * 32, "et="),
        ("a=x&et=1&t=01&uuid=u&v=4.4&sign=" + "0" * 32, "t="),
        ("a=x&et=1&t=1.5&uuid=u&v=4.4&sign=" + "0" * 32, "t="),
        ("a=x&et=1&t=1&uuid=u&v=4.4&sign=" + "A" * 32, "sign="),
        ("a=x&a=y&et=1&t=1&uuid=u&v=4.4&sign=" + "0" * 32, "twice"),
        ("a=x&et=1&t=1&uuid=u|x&v=4.4&sign=" + "0" * 32, "uuid="),
        ("a=x&et=1&t=1&uuid=" + "u" * 26 + "&v=4.4&sign=" + "0" * 32, "uuid="),
        ("a=%FF&et=1&t=1&uuid=u&v=4.4&sign=" + "0" * 32, "malformed"),
    ],
)
def test_parse_query_refuses_with_the_reason(query: str, needle: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_query(query)
    assert needle in str(info.value) and info.value.section == "§4.2"


def test_a_wrong_key_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        parse_request(REQ["url_path_and_query"], REQ["post_body"].encode(), "X" + AUTH_KEY[1:])


def test_a_right_sign_over_a_body_under_another_key_is_a_decryption_failure() -> None:
    other = "Z" * 32
    body = b"data=" + encrypt_body(b"{}", other, 1).encode()
    with pytest.raises(DecryptionFailed):
        parse_request(REQ["url_path_and_query"], body, AUTH_KEY)


@pytest.mark.parametrize("body", [b"data=ABC", b"data=XY", b"dat=00", b"data=00&x=1", b"\xff", b""])
def test_bad_form_bodies_are_remote_errors(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_request(REQ["url_path_and_query"], body, AUTH_KEY)


# -------------------------------------------------------------------------------------- encryption rules


def test_et3_needs_a_nonce_of_twelve_bytes() -> None:
    with pytest.raises(LocalProtocolError):
        encrypt_body(b"x", AUTH_KEY, 3)
    with pytest.raises(LocalProtocolError):
        encrypt_body(b"x", AUTH_KEY, 3, nonce=b"short")


def test_et3_layout_is_nonce_ciphertext_tag() -> None:
    blob = bytes.fromhex(encrypt_body(b"hello", AUTH_KEY, 3, nonce=NONCE))
    assert blob[:12] == NONCE and len(blob) == 12 + 5 + 16


def test_unknown_et_and_short_keys_are_the_callers_mistake() -> None:
    with pytest.raises(LocalProtocolError):
        encrypt_body(b"x", AUTH_KEY, 2)
    with pytest.raises(LocalProtocolError):
        encrypt_body(b"x", "short", 1)


def test_tampered_gcm_tag_and_bad_padding_are_decryption_failures() -> None:
    blob = bytearray.fromhex(encrypt_body(b"hello", AUTH_KEY, 3, nonce=NONCE))
    blob[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        decrypt_body(blob.hex(), AUTH_KEY, 3)
    with pytest.raises(DecryptionFailed):
        decrypt_body(encrypt_body(b"x" * 16, AUTH_KEY, 1)[:32], "Q" * 16, 1)
    with pytest.raises(RemoteProtocolError):
        decrypt_body("00" * 15, AUTH_KEY, 1)
    with pytest.raises(RemoteProtocolError):
        decrypt_body("00" * 27, AUTH_KEY, 3)


# ------------------------------------------------------------------------------------------ responses


def test_plain_error_reply_is_read_as_plaintext() -> None:
    reply = decode_response(encode_plain_error("LICENSE_NOT_EXISTS", "no such licence", t=7), AUTH_KEY, 1)
    assert not reply.success and not reply.encrypted
    assert (reply.error_code, reply.error_msg, reply.t) == ("LICENSE_NOT_EXISTS", "no such licence", 7)


def test_encrypted_error_reply_round_trips_with_et3() -> None:
    wire = encode_response(error_payload("EXPIRE", "token expired", t=9), AUTH_KEY, 3, t=9, nonce=NONCE)
    reply = decode_response(wire, AUTH_KEY, 3)
    assert (reply.success, reply.error_code, reply.error_msg, reply.encrypted) == (False, "EXPIRE",
                                                                                   "token expired", True)


def test_a_reply_signed_with_another_key_is_refused_not_read_as_plaintext() -> None:
    with pytest.raises(SignatureMismatch):
        decode_response(RESP["wire_json"].encode(), "0" * 32, 1)


# -------------------------------------------------------------------------------------- record rules


def _body(**changes: Any) -> dict[str, Any]:
    obj = json.loads(REQ["body_json"])
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(token=None), "token"),
        (_body(token="123456789"), "token"),
        (_body(t="1700000000"), "t"),
        (_body(t=True), "t"),
        (_body(options="not json"), "options"),
        (_body(options="[1]"), "options"),
        (_body(modules='{"a":1}'), "modules"),
        (_body(productKey="k" * 17), "productKey"),
        (_body(devAttribute=-1), "devAttribute"),
        (_body(softVer=1), "softVer"),
    ],
)
def test_activation_body_refusals_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        ActivationRequest.from_json(json.dumps(body))
    assert info.value.message.startswith(field)


def test_activation_body_refuses_duplicates_nan_and_non_objects() -> None:
    for text in ['{"token":"a","token":"b"}', '{"t":NaN}', "[]", '"x"', "{" * 5000]:
        with pytest.raises(RemoteProtocolError):
            ActivationRequest.from_json(text)


def test_unknown_activation_members_are_kept_as_extras() -> None:
    record = ActivationRequest.from_json(json.dumps(_body(feature="x", skillParam={"a": 1})))
    assert record.extras == {"feature": "x", "skillParam": {"a": 1}}
    assert ActivationRequest.from_json(record.to_json()) == record


def test_activation_result_refuses_short_keys_and_a_schema_that_is_not_a_string() -> None:
    good = json.loads(RESP["inner_plaintext"])["result"]
    for bad in ({**good, "secKey": "short"}, {**good, "schema": []}, {**good, "resetFactory": "no"}):
        with pytest.raises(RemoteProtocolError):
            ActivationResult.from_dict(bad)
    with pytest.raises(LocalProtocolError):
        ActivationResult(dev_id="d", sec_key="k" * 15, local_key="k" * 16, schema_id="s", schema="[]")


def test_url_config_request_is_tuyaopens_body() -> None:
    body = UrlConfigRequest(region="AY", env="pro").to_json()
    assert body == ('{"config":[{"key":"httpsSelfUrl","need_ca":true},{"key":"mqttsSelfUrl","need_ca":true}],'
                    '"region":"AY","env":"pro"}')
    assert UrlConfigRequest.from_json(body) == UrlConfigRequest(region="AY", env="pro")


def test_url_config_answers_in_both_styles() -> None:
    cc = atop.plain_url_config_response("10.42.42.1")
    assert json.loads(cc.to_json()) == {
        "caArr": None, "httpUrl": {"addr": "http://10.42.42.1/d.json", "ips": ["10.42.42.1"]},
        "mqttUrl": {"addr": "10.42.42.1:1883", "ips": ["10.42.42.1"]}, "ttl": 600}
    own = atop.self_url_config_response("https://a1.example/d.json", "m1.example:8883", ca_arr=("QUJD",))
    parsed = UrlConfigResponse.from_json(own.to_json())
    assert parsed == own
    assert parsed.addr("mqttsSelfUrl") == "m1.example:8883" and parsed.addr("httpUrl") is None
    flat = UrlConfigResponse.from_json('{"gwApiUrl":"http://x/gw.json","mqttUrl":"x"}')
    assert flat.addr("gwApiUrl") == "http://x/gw.json" and flat.to_json() == '{"caArr":null,' \
        '"gwApiUrl":"http://x/gw.json","mqttUrl":"x"}'


# ------------------------------------------------------------------------------------------ round trips

keys = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=40)
nonces = st.binary(min_size=12, max_size=12)
ets = st.sampled_from([1, 3])
idents = st.from_regex(r"[A-Za-z0-9_.\-]{1,25}", fullmatch=True)
short_text = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=8)


@FAST
@given(body=st.binary(max_size=300), key=keys, et=ets, nonce=nonces)
def test_body_encryption_round_trips(body: bytes, key: str, et: int, nonce: bytes) -> None:
    hex_text = encrypt_body(body, key, et, nonce=nonce)
    assert hex_text == hex_text.upper()
    assert decrypt_body(hex_text, key, et) == decrypt_body(hex_text.lower(), key, et) == body


@FAST
@given(
    api=st.sampled_from([API_ACTIVE_V44, API_OPENSDK_ACTIVE, atop.API_RESET]),
    et=ets, t=st.integers(0, 2**39), who=st.sampled_from(["uuid", "devId", "both"]), ident=idents,
    body=st.binary(max_size=200), key=keys, nonce=nonces,
)
def test_requests_round_trip(api: tuple[str, str], et: int, t: int, who: str, ident: str, body: bytes,
                             key: str, nonce: bytes) -> None:
    req = AtopRequest(*api, et=et, t=t, uuid=None if who == "devId" else ident,
                      dev_id=None if who == "uuid" else ident, body=body)
    query, form = build_request(req, key, nonce=nonce)
    assert parse_request(query, form, key) == req
    assert parse_request(dict(p.split("=", 1) for p in query.split("&")), form, key) == req


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FAST
@given(result=st.dictionaries(st.text(max_size=8), json_values, max_size=4), t=st.integers(0, 2**40), key=keys,
       et=ets, nonce=nonces, ok=st.booleans())
def test_responses_round_trip(result: dict[str, Any], t: int, key: str, et: int, nonce: bytes, ok: bool) -> None:
    payload = success_payload(result, t=t) if ok else error_payload("EXPIRE", "token expired")
    reply = decode_response(encode_response(payload, key, et, t=t, nonce=nonce), key, et)
    assert reply.success is ok and reply.encrypted and reply.t == t
    assert reply.result == (result if ok else None)
    assert reply.error_code == (None if ok else "EXPIRE")


activation_requests = st.builds(
    ActivationRequest,
    token=short_text, soft_ver=st.text(min_size=1, max_size=32), product_key=st.text(min_size=1, max_size=16),
    protocol_ver=st.sampled_from(["2.2", "2.3"]), baseline_ver=st.sampled_from(["40.00", "40.07"]),
    options=st.builds(lambda fk, ch: json.dumps({"otaChannel": ch, "isFK": fk}), st.booleans(), st.integers(0, 9)),
    cad_ver=st.sampled_from(["1.0.2", "1.0.3"]), cd_ver=st.just("1.0.0"), t=st.integers(0, 2**40),
    product_key_str=st.none() | st.text(min_size=1, max_size=16), dev_id=st.none() | idents,
    modules=st.none() | st.just('[{"type":9,"softVer":"1.0.0","online":true}]'),
    dev_attribute=st.none() | st.integers(0, 2**32 - 1), hid=st.none() | st.from_regex(r"[0-9a-f]{12}", fullmatch=True),
    extras=st.dictionaries(st.sampled_from(["feature", "skillParam", "zz"]), json_values, max_size=2),
)


@FAST
@given(record=activation_requests, cc=st.booleans())
def test_activation_requests_round_trip(record: ActivationRequest, cc: bool) -> None:
    text = record.to_json(order=ACTIVATION_ORDER_CC) if cc else record.to_json()
    assert ActivationRequest.from_json(text) == record
    assert ActivationRequest.from_json(text.encode()) == record


activation_results = st.builds(
    ActivationResult,
    dev_id=idents, sec_key=st.text(min_size=16, max_size=16), local_key=st.text(min_size=16, max_size=16),
    schema_id=st.text(min_size=1, max_size=16), schema=st.lists(json_values, max_size=3).map(json.dumps),
    reset_factory=st.booleans(), time_zone=st.none() | st.just("+01:00"), std_time_zone=st.none() | st.just("+01:00"),
    dst_intervals=st.none() | st.lists(st.lists(st.integers(0, 2**40), max_size=2), max_size=2).map(tuple),
    capability=st.none() | st.integers(0, 4096),
)


@FAST
@given(record=activation_results, key=keys, et=ets, nonce=nonces, t=st.integers(0, 2**40))
def test_activation_results_round_trip_through_a_reply(record: ActivationResult, key: str, et: int, nonce: bytes,
                                                       t: int) -> None:
    assert ActivationResult.from_json(record.to_json()) == record
    reply = decode_response(encode_response(success_payload(record.to_dict(), t=t), key, et, t=t, nonce=nonce),
                            key, et)
    assert ActivationResult.from_dict(reply.result) == record


# ------------------------------------------------------------------------------------- fuzz invariant


def _must_parse_or_protocol_error(fn: Any, *args: Any) -> None:
    """h11's fuzz promise: parse, or raise ProtocolError; any other exception fails the test."""
    with contextlib.suppress(ProtocolError):
        fn(*args)


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, byte in edits:
        if buf:
            buf[pos % len(buf)] = byte
    return bytes(buf)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4)


@FUZZ
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_parse_query_never_raises_anything_but_protocol_errors(text: str) -> None:
    _must_parse_or_protocol_error(parse_query, text)
    _must_parse_or_protocol_error(parse_query, {"a": text, "et": "1", "t": text, "uuid": text, "v": "1", "sign": text})


@FUZZ
@given(mutations=edits, cut=st.integers(0, 1000), body=st.binary(max_size=200))
def test_parse_request_never_raises_anything_but_protocol_errors(mutations: list[tuple[int, int]], cut: int,
                                                                 body: bytes) -> None:
    query = _mutate(REQ["url_path_and_query"].encode(), mutations).decode("latin-1")
    form = _mutate(REQ["post_body"].encode(), mutations)[:cut or None]
    for q, b in ((query, form), (REQ["url_path_and_query"], form), (REQ["url_path_and_query"], body)):
        _must_parse_or_protocol_error(parse_request, q, b, AUTH_KEY)


@FUZZ
@given(data=st.text(max_size=120), et=st.integers(0, 4), key=st.sampled_from([AUTH_KEY, "short"]))
def test_decrypt_body_never_raises_anything_but_protocol_errors(data: str, et: int, key: str) -> None:
    _must_parse_or_protocol_error(decrypt_body, data, key, et)


@FUZZ
@given(mutations=edits, cut=st.integers(0, 1000), junk=st.binary(max_size=200), et=ets)
def test_decode_response_never_raises_anything_but_protocol_errors(mutations: list[tuple[int, int]], cut: int,
                                                                   junk: bytes, et: int) -> None:
    wire = _mutate(RESP["wire_json"].encode(), mutations)[:cut or None]
    for data in (wire, junk, b'{"success":' + junk + b"}"):
        _must_parse_or_protocol_error(decode_response, data, AUTH_KEY, et)


@FUZZ
@given(mutations=edits, cut=st.integers(0, 1000), value=json_values, name=st.sampled_from(sorted(_body())))
def test_activation_from_json_never_raises_anything_but_protocol_errors(
    mutations: list[tuple[int, int]], cut: int, value: Any, name: str
) -> None:
    mutated = _mutate(REQ["body_json"].encode(), mutations)[:cut or None]
    _must_parse_or_protocol_error(ActivationRequest.from_json, mutated)
    _must_parse_or_protocol_error(ActivationRequest.from_json, json.dumps({**_body(), name: value}))
    _must_parse_or_protocol_error(ActivationResult.from_json, json.dumps({"devId": value, "schema": value}))
    _must_parse_or_protocol_error(UrlConfigResponse.from_json, json.dumps({"httpUrl": value, "caArr": value}))
    _must_parse_or_protocol_error(UrlConfigRequest.from_json, json.dumps({"config": value, "env": value}))


def test_deep_nesting_and_lone_surrogates_are_protocol_errors() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_response(b"[" * 100_000, AUTH_KEY, 1)
    with pytest.raises(RemoteProtocolError):
        ActivationRequest.from_json(json.dumps(_body(softVer="\ud800")))
    with pytest.raises(RemoteProtocolError):
        ActivationRequest.from_json(json.dumps(_body(feature="\udfff")))


def test_query_record_refuses_values_the_wire_could_not_carry() -> None:
    with pytest.raises(LocalProtocolError):
        AtopQuery(a="a b", v="1.0", et=1, t=1, uuid="u", dev_id=None, sign="0" * 32)
    with pytest.raises(LocalProtocolError):
        AtopRequest("a", "1.0", et=1, t=-1, uuid="u", dev_id=None, body=b"")
