"""The OpenAPI signer and envelope (harness.protocol.openapi) against PROTOCOL.md §10.5.3's vectors, and the decoders'
promise: any input parses or raises ProtocolError, whole and cut one byte at a time."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.protocol import openapi as oa
from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "openapi.json").read_text(encoding="utf-8"))
COMMON = VECTORS["common"]


def _headers(kind: str) -> list[tuple[str, str]]:
    return {"doc": [(k, v) for k, v in COMMON["doc_headers"]], "none": [],
            "client_id": [("client_id", COMMON["client_id"])]}[kind]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"{v['n']}-{v['algorithm']}")
def test_the_signer_gives_the_documented_sign(vector: dict[str, Any]) -> None:
    token = COMMON["access_token"] if vector["access_token"] else ""
    if vector["algorithm"] == "old":
        got = oa.sign_old(COMMON["secret"], client_id=COMMON["client_id"], t=COMMON["t"], access_token=token)
    else:
        url = oa.canonical_url(vector["path"], [tuple(q) for q in vector["query"]])
        if "signed_url" in vector:
            assert url == vector["signed_url"]
        body = vector["body"].encode("utf-8")
        if "body_sha256" in vector:
            assert oa.content_sha256(body) == vector["body_sha256"]
        text = oa.string_to_sign(vector["method"], body, url, _headers(vector["headers"]))
        got = oa.sign(COMMON["secret"], client_id=COMMON["client_id"], t=COMMON["t"], string_to_sign=text,
                      access_token=token, nonce=COMMON["nonce"] if vector["nonce"] else "")
        assert oa.verify_sign(COMMON["secret"], vector["sign"].lower(), client_id=COMMON["client_id"],
                              t=COMMON["t"], string_to_sign=text, access_token=token,
                              nonce=COMMON["nonce"] if vector["nonce"] else "")
    assert got == vector["sign"]


def test_the_signed_request_sends_the_headers_of_vector_5() -> None:
    vector = VECTORS["vectors"][4]
    request = oa.SignedRequest("POST", vector["path"], (), vector["body"].encode(), access_token=COMMON["access_token"])
    headers = request.headers(client_id=COMMON["client_id"], secret=COMMON["secret"], t_ms=int(COMMON["t"]))
    assert headers["sign"] == vector["sign"] and headers["sign_method"] == "HMAC-SHA256"
    assert headers["access_token"] == COMMON["access_token"] and headers["t"] == COMMON["t"]
    assert "nonce" not in headers and "Signature-Headers" not in headers


def test_token_calls_are_signed_without_the_access_token() -> None:
    vector = VECTORS["vectors"][6]
    request = oa.SignedRequest("GET", vector["path"], access_token="held but not signed")
    headers = request.headers(client_id=COMMON["client_id"], secret=COMMON["secret"], t_ms=int(COMMON["t"]))
    assert headers["sign"] == vector["sign"] and "access_token" not in headers
    with pytest.raises(LocalProtocolError, match="needs an access token"):
        oa.SignedRequest("GET", "/v1.0/devices/x").headers(client_id="c", secret="s", t_ms=1)


@pytest.mark.parametrize(("method", "path", "token_call"), [
    ("GET", "/v1.0/token", True), ("GET", "/v1.0/token/abc", True), ("POST", "/v1.0/token", False),
    ("GET", "/v1.0/token/abc/x", False), ("GET", "/v1.0/tokens", False), ("get", "/v1.0/token", True),
])
def test_exactly_the_two_token_routes_are_token_calls(method: str, path: str, token_call: bool) -> None:
    assert oa.is_token_call(method, path) is token_call


def test_the_url_sorts_decoded_pairs_by_key_and_the_empty_body_hash() -> None:
    assert oa.canonical_url("/p", [("b", "x y"), ("a", "1,2")]) == "/p?a=1,2&b=x y"
    assert oa.canonical_url("/p") == "/p"
    assert oa.content_sha256(b"") == oa.EMPTY_BODY_SHA256 == VECTORS["empty_body_sha256"]
    assert oa.signature_header_names("area_id::call_id") == ["area_id", "call_id"]
    assert oa.signature_header_names("") == [] and oa.signature_header_names(None) == []
    assert oa.string_to_sign("get", b"", "/p").split("\n") == ["GET", oa.EMPTY_BODY_SHA256, "", "/p"]
    assert oa.body_hashes("POST", b" {} ") == (b" {} ", b"") and oa.body_hashes("POST", b"{}x") == (b"{}x",)


def test_envelopes_round_trip() -> None:
    ok = oa.success({"a": [1, "é"]}, t_ms=1_700_000_000_123, tid="0" * 32)
    assert oa.parse_envelope(ok.to_bytes()) == ok
    bad = oa.failure(oa.OpenApiCode.TOKEN_EXPIRED, t_ms=5, tid="t")
    assert oa.parse_envelope(bad.to_bytes()) == bad and bad.msg == "token is expired"
    assert json.loads(bad.to_bytes()) == {"code": 1010, "msg": "token is expired", "success": False, "t": 5,
                                          "tid": "t"}
    assert oa.parse_envelope(b'{"success":false,"code":"1004","msg":"x","t":1}').code == 1004
    with pytest.raises(LocalProtocolError):
        oa.Envelope(True, code=1)
    with pytest.raises(LocalProtocolError):
        oa.success(float("nan"), t_ms=1, tid="").to_bytes()


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"success":1}', b'{"success":true,"t":-1}', b'{"success":true,"t":1.5}',
                                 b'{"success":false,"t":1}', b'{"success":false,"code":true}', b"\xff",
                                 b'{"success":true,"success":true}', b'{"success":true,"t":"1"}'])
def test_malformed_answers_are_remote_protocol_errors(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as raised:
        oa.parse_envelope(raw)
    assert raised.value.section == oa.S_ENVELOPE


def test_results_parse_as_the_docs_show_them() -> None:
    token = oa.AccessToken.from_result({"access_token": "a" * 32, "refresh_token": "r" * 32, "expire": 7200})
    assert token.expire_time == 7200 and token.uid == "" and "a" * 32 not in repr(token)
    assert oa.AccessToken.from_result(token.to_result()) == token
    # §10.6.2: the legacy doc's example, AY + BBaF10SS + usyA
    grant = oa.PairingTokenResult.from_result({"region": "AY", "token": "BBaF10SS", "secret": "usyA",
                                               "expire_time": 600})
    assert grant.pairing_token == "AYBBaF10SSusyA" and oa.PairingTokenResult.from_result(grant.to_result()) == grant
    lists = oa.TokenDevices.from_result({"success": [{"device_id": "d1", "product_id": "p", "name": "n"}],
                                         "failed": [{"device_id": "d2", "code": 2001, "msg": "device is offline"}]})
    assert [d.device_id for d in lists.success] == ["d1"] and not lists.success[0].failed
    assert lists.failed[0].code == "2001" and lists.failed[0].failed
    assert oa.TokenDevices.from_result(lists.to_result()) == lists
    assert oa.TokenDevices.from_result({}) == oa.TokenDevices((), ())


@pytest.mark.parametrize("result", [
    {"region": "AY", "token": "H73H****", "secret": "pr_0", "expire_time": 300},  # masked doc example: not a token
    {"region": "AY", "token": "BBaF10SSx", "secret": "usy", "expire_time": 600},  # 14 characters, wrong cut
    {"region": "AY", "token": "BBaF10SS", "secret": "usyA"},
    {"region": "AY", "token": "BBaF10SS", "secret": "usyA", "expire_time": -1},
    None, [],
])
def test_bad_pairing_token_results_are_refused(result: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        oa.PairingTokenResult.from_result(result)


def _decode_all(data: bytes) -> None:
    envelope = oa.parse_envelope(data)
    for decoder in (oa.AccessToken.from_result, oa.PairingTokenResult.from_result, oa.TokenDevices.from_result):
        with contextlib.suppress(ProtocolError):
            decoder(envelope.result)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                               st.sampled_from(["success", "result", "code", "t", "device_id", "token", "region",
                                                "secret", "expire_time", "failed", "access_token", "refresh_token"]),
                               inner, max_size=6), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()),
                 json_values.map(lambda v: json.dumps({"success": True, "t": 1, "result": v}).encode())))
def test_any_answer_parses_or_raises_protocol_error_whole_and_cut(data: bytes) -> None:
    for end in [len(data), *range(len(data))]:
        with contextlib.suppress(ProtocolError):
            _decode_all(data[:end])
