"""The live cloud against malformed requests (never a 500, always JSON, keeps serving) and concurrent activations."""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.parse
from collections.abc import Iterator

import aiohttp
import pytest
from _cloud_helpers import World, activate, build_activation, make_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud
from harness.protocol.atop import decode_response


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatedCloud]:
    with EmulatedCloud(clock=VirtualClock(), broker="none") as c:
        yield c


@pytest.fixture(scope="module")
def world(cloud: EmulatedCloud) -> World:
    return make_world(cloud)


ATOP_PATHS = ["/d.json", "/gw.json", "/v2/url_config", "/v1/url_config", "/device/url_config"]
APP_PATHS = ["/app/v1/accounts", "/app/v1/homes", "/app/v1/homes/h1/token", "/app/v1/devices/x/remove",
             "/app/v1/lab/faults", "/app/v1/lab/products", "/app/v1/tokens/AAAAAAAA/attempts", "/app/v1/notifications"]
PARAM_NAMES = ["a", "v", "et", "t", "uuid", "devId", "sign", "x"]
PARAM_VALUES = st.one_of(
    st.sampled_from(["tuya.device.active", "thing.device.opensdk.active", "tuya.device.reset", "4.4", "1.0", "4.0",
                     "1", "3", "2", "1700000000", "-1", "0" * 32, "f" * 32, ""]),
    st.text(max_size=40),
)


def _query(pairs: list[tuple[str, str]]) -> str:
    return urllib.parse.urlencode(pairs)


def _mutate(data: bytes, position: int, value: int) -> bytes:
    if not data:
        return bytes([value])
    position %= len(data)
    return data[:position] + bytes([value]) + data[position + 1:]


@st.composite
def malformed_requests(draw: st.DrawFn, world: World) -> tuple[str, str, bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["random", "random", "mutated-query", "mutated-body", "swapped", "huge", "app"]))
    method = draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    headers = {"Content-Type": draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                                     "text/plain", "application/octet-stream"]))}
    if kind == "app":
        path = draw(st.sampled_from([*APP_PATHS, "/app/v1/" + urllib.parse.quote(draw(st.text(max_size=20)))]))
        body = draw(st.one_of(st.binary(max_size=300), st.builds(lambda v: json.dumps(v).encode(),
                                                                 st.recursive(st.none() | st.booleans() | st.text(
                                                                     max_size=10) | st.integers(), lambda c: st.lists(
                                                                     c, max_size=3) | st.dictionaries(
                                                                     st.text(max_size=5), c, max_size=3),
                                                                     max_leaves=8))))
        headers["X-Paircert-Account"] = draw(st.sampled_from([world.owner, "nobody", ""]))
        return method, path, body, headers
    path = draw(st.sampled_from(ATOP_PATHS))
    if kind == "random":
        pairs = draw(st.lists(st.tuples(st.sampled_from(PARAM_NAMES), PARAM_VALUES), max_size=8))
        body = draw(st.one_of(st.binary(max_size=400), st.text(max_size=200).map(lambda s: ("data=" + s).encode()),
                              st.binary(max_size=64).map(lambda b: b"data=" + b.hex().upper().encode())))
        return method, f"{path}?{_query(pairs)}", body, headers
    lic = world.licence()
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, "AAAAAAAA",
                                   et=draw(st.sampled_from([1, 3])))
    if kind == "mutated-query":
        safe = b"abcdefXYZ0123456789%&=._-+~"
        query = _mutate(query.encode(), draw(st.integers(0, 10_000)), draw(st.sampled_from(safe))).decode()
    elif kind == "mutated-body":
        body = _mutate(body, draw(st.integers(0, 10_000)), draw(st.integers(0, 255)))
    elif kind == "swapped":
        body = draw(st.binary(max_size=200))
    else:
        body = b"data=" + b"A" * draw(st.sampled_from([300_000, 2_000_000]))
    return method, f"/d.json?{query}", body, headers


def _send(cloud: EmulatedCloud, method: str, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    port = int(cloud.http_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_malformed_requests_always_get_well_formed_json(cloud: EmulatedCloud, world: World) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(request=malformed_requests(world))
    def check(request: tuple[str, str, bytes, dict[str, str]]) -> None:
        method, target, body, headers = request
        status, raw = _send(cloud, method, target, body, headers)
        assert status < 500, (status, raw[:200])
        answer = json.loads(raw)
        assert isinstance(answer, dict)
        if target.startswith("/app/"):
            assert status < 300 or (answer["success"] is False and isinstance(answer["errorCode"], str))
        else:
            assert status == 200, (status, raw[:200])
            if "sign" not in answer and "Url" not in raw.decode():
                assert answer["success"] is False and isinstance(answer["errorCode"], str)

    check()
    lic = world.licence()
    assert activate(cloud, lic, world.token()).success, "a valid activation still works afterwards"


def test_an_unexpected_exception_is_a_well_formed_error_and_logged(cloud: EmulatedCloud, world: World,
                                                                   caplog: pytest.LogCaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(cloud.state, "activate", broken)
    lic = world.licence()
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    status, raw = _send(cloud, "POST", f"/d.json?{query}", body, {})
    assert status == 200 and json.loads(raw)["errorCode"] == "INTERNAL_ERROR"
    assert any("HARNESS BUG" in r.getMessage() for r in caplog.records)


async def _race(cloud: EmulatedCloud, requests: list[tuple[str, bytes]]) -> list[bytes]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        async def one(query: str, body: bytes) -> bytes:
            async with session.post(f"{cloud.atop_url}?{query}", data=body) as answer:
                assert answer.status == 200
                return await answer.read()

        return await asyncio.gather(*(one(q, b) for q, b in requests))


def test_100_activations_racing_on_one_token_exactly_one_wins(cloud: EmulatedCloud, world: World) -> None:
    token = world.token()
    licences = [world.licence() for _ in range(100)]
    wires = asyncio.run(_race(cloud, [build_activation(lic.uuid, lic.auth_key, lic.pid, token) for lic in licences]))
    answers = [decode_response(w, lic.auth_key, 1) for w, lic in zip(wires, licences, strict=True)]
    assert sum(a.success for a in answers) == 1
    assert {a.error_code for a in answers if not a.success} == {"EXPIRE"}
    assert len(cloud.app.token_attempts(world.owner, token)) == 100


def test_100_devices_at_once_with_distinct_tokens_all_succeed(cloud: EmulatedCloud) -> None:
    fresh = make_world(cloud)
    licences = [fresh.licence() for _ in range(100)]
    requests = [build_activation(lic.uuid, lic.auth_key, lic.pid, fresh.token()) for lic in licences]
    wires = asyncio.run(_race(cloud, requests))
    answers = [decode_response(w, lic.auth_key, 1) for w, lic in zip(wires, licences, strict=True)]
    assert all(a.success for a in answers)
    dev_ids = {a.result["devId"] for a in answers if a.result}
    assert len(dev_ids) == 100
    assert {d["devId"] for d in cloud.app.list_devices(fresh.owner, fresh.home)} == dev_ids
