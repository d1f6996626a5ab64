"""The activation handler's fast paths give the answers of the slow ones they skip.

The query and form fast path (:func:`harness.protocol.atop._plain_pairs`) against ``parse_qsl``; records built
by a decoder without their ``__post_init__`` against records built with it; ``random_text`` by byte table against
its alphabet and its uniformity; the state's rows, built only for a store that keeps them, still reach a SQLite
store whole.
"""

from __future__ import annotations

import collections
import string
from pathlib import Path
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.clock import VirtualClock
from harness.emulator.cloud.records import ALNUM, LOWER_ALNUM, random_text
from harness.emulator.cloud.state import CloudState
from harness.emulator.cloud.store import SqliteStore
from harness.protocol.atop import (
    API_ACTIVE_V44,
    ActivationRequest,
    ActivationResult,
    AtopQuery,
    AtopRequest,
    build_request,
    parse_form_body,
    parse_query,
)
from harness.protocol.atop.exchange import _plain_pairs

QUERY_TEXT = st.text(alphabet="ab=&%+.x2F0", max_size=24)


@settings(max_examples=300, deadline=None)
@given(QUERY_TEXT)
def test_plain_pairs_are_parse_qsl_pairs_or_step_aside(text: str) -> None:
    fast = _plain_pairs(text)
    if fast is None:
        return  # escapes, '+', an empty text or a field without '=': parse_qsl decides
    assert fast == parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")


def test_plain_pairs_step_aside_for_what_parse_qsl_must_judge() -> None:
    assert _plain_pairs("") is None
    assert _plain_pairs("a=1&&b=2") is None  # strict parse_qsl refuses the empty field
    assert _plain_pairs("a=%41") is None
    assert _plain_pairs("a=b+c") is None
    assert _plain_pairs("a=1&b") is None
    assert _plain_pairs("a=1&b==2") == [("a", "1"), ("b", "=2")]


def _request_body(**extra: object) -> bytes:
    return ActivationRequest(token="AbCd1234", soft_ver="1.0.0", product_key="p" * 16, protocol_ver="2.2",
                             baseline_ver="40.00", options='{"isFK":true}', cad_ver="1.0.2", cd_ver="1.0.0",
                             t=1_700_000_000, hid="0123456789ab", extras=dict(extra)).to_json().encode()


def test_decoded_records_equal_records_built_by_their_constructor() -> None:
    body = _request_body(feature="x", n=[1, 2])
    decoded = ActivationRequest.from_json(body)
    built = ActivationRequest(**{**decoded.__dict__})
    assert decoded == built and decoded.to_json() == body.decode()
    result = ActivationResult(dev_id="pc" + "a" * 18, sec_key="s" * 16, local_key="l" * 16, schema_id="1",
                              schema='[{"id":1}]', dst_intervals=[[1, 2]], extras={"x": 1})
    again = ActivationResult.from_json(result.to_json())
    assert again == result and isinstance(again.dst_intervals, tuple)
    query, form = build_request(AtopRequest(api=API_ACTIVE_V44[0], version=API_ACTIVE_V44[1], et=1, t=17,
                                            uuid="u" * 20, dev_id=None, body=body), "k" * 32)
    parsed = parse_query(query)
    assert parsed == AtopQuery(**parsed.__dict__) and parsed.to_query_string() == query
    assert parse_form_body(form) == form.decode()[len("data="):]


def test_random_text_draws_every_character_of_its_alphabet_alone_and_evenly() -> None:
    for alphabet in (ALNUM, LOWER_ALNUM, string.digits):
        drawn = "".join(random_text(40, alphabet) for _ in range(2000))
        counts = collections.Counter(drawn)
        assert set(counts) == set(alphabet)
        expected = len(drawn) / len(alphabet)
        # 80,000 draws: each count is within 6 standard deviations of the mean (sd < sqrt(expected))
        assert all(abs(n - expected) < 6 * expected ** 0.5 for n in counts.values()), counts
    assert [len(random_text(n)) for n in (1, 16, 32, 200)] == [1, 16, 32, 200]


def test_an_activation_reaches_a_sqlite_store_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    clock = VirtualClock(autojump=False)
    state = CloudState(clock=clock, region="EU", store=SqliteStore(path))
    product = state.create_product(name="cam", category="sp")
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    lic = state.issue_licence(product.pid)
    token = state.create_token(home.home_id, owner.account_id)
    req = ActivationRequest.from_json(_request_body())
    req = ActivationRequest(**{**req.__dict__, "token": token.token, "product_key": product.pid})
    outcome = state.activate(lic.uuid, req)
    assert outcome.result is not None
    state.close()
    reopened = CloudState(clock=clock, region="EU", store=SqliteStore(path))
    device = reopened.devices[outcome.result.dev_id]
    assert device.bound and device.sec_key == outcome.result.sec_key and device.home == home.home_id
    assert reopened.tokens[token.token].consumed_at == clock.time()
    assert [a.outcome for a in reopened.token_attempts(token.token)] == ["activated"]
    assert reopened.licences[lic.uuid].dev_id == device.dev_id
    reopened.close()


QUERIES = [
    "a=tuya.device.active&et=1&t=1700000000&uuid=pc0123456789abcdefgh&v=4.4&sign=" + "0" * 32,
    "a=tuya.device.reset&devId=bf12_ab.cd-ef&et=3&t=0&v=4.0&sign=" + "a" * 32,
    "/d.json?a=x&devId=d&et=1&t=17&uuid=u&v=1.0.2.3&sign=" + "f" * 32,
    "a=x&et=1&t=017&uuid=u&v=4.4&sign=" + "0" * 32,  # a t that is not canonical: refused either way
    "et=1&a=x&t=1&uuid=u&v=4.4&sign=" + "0" * 32,  # another order: the general path
    "a=x&et=2&t=1&uuid=u&v=4.4&sign=" + "0" * 32,
    "a=x&et=1&t=1&v=4.4&sign=" + "0" * 32,  # names no key
]


def test_the_canonical_query_pattern_agrees_with_the_general_path() -> None:
    from harness.protocol.errors import ProtocolError

    for query in QUERIES:
        text = query.split("?", 1)[-1]
        general: AtopQuery | str
        try:
            general = parse_query(dict(parse_qsl(text, keep_blank_values=True)))  # a mapping: the general path
        except ProtocolError as exc:
            general = type(exc).__name__
        try:
            fast: AtopQuery | str = parse_query(query)
        except ProtocolError as exc:
            fast = type(exc).__name__
        assert fast == general, query


def test_the_encoded_answer_is_the_compact_json_of_its_members() -> None:
    import json

    from harness.protocol.atop import encode_response, success_payload
    from harness.protocol.strictjson import dumps_compact

    wire = encode_response(success_payload({"devId": "x"}, t=5), "k" * 16, 1, t=5)
    outer = json.loads(wire)
    assert list(outer) == ["result", "t", "sign"] and dumps_compact(outer).encode() == wire
