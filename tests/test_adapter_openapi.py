"""The openapi cloud adapter (harness.adapters.openapi): against the emulated cloud's OpenAPI in process and served
by `paircert cloud serve`, its token holder and retries against a scripted server, its error mapping, and the suites
run through it with the same verdicts as the emulated cloud except what it declares it cannot do."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _openapi_world import build_openapi_world
from _serve_helpers import ServedCloud

from harness.adapters.contracts import AdapterError, CapabilityMissing, CloudAdapter, CloudCapability
from harness.adapters.openapi import DATA_CENTRES, OpenApiCloudAdapter, OpenApiError, openapi_cloud
from harness.adapters.registry import ProfileWorld, WorldContext, registered, resolve, split_spec
from harness.app.activator import Activator, ActivatorMode, pair
from harness.clock import SystemClock, VirtualClock
from harness.conformance.lab import release_device
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.cloud.openapi import OpenApiService
from harness.model import ActivatorErrorCode, BindingMode, Role
from harness.profiles import load_profile
from harness.protocol import openapi as oa

ROOT = Path(__file__).resolve().parent.parent
WIFI = (b"paircert-openapi", b"openapi-pass")


@pytest.fixture(scope="module")
def world() -> Iterator[ProfileWorld]:
    built = build_openapi_world(load_profile("camera-strong"), seed=7)
    built.network.add_access_point(*WIFI)
    try:
        yield built
    finally:
        built.close()


def pair_qr(world: ProfileWorld, account: str, token: str) -> Any:
    activator = Activator(world.cloud, account=account, device=world.device, network=world.network)
    return pair(activator, ActivatorMode.QR, WIFI[0].decode(), WIFI[1].decode(), token, timeout=100)


def test_it_is_registered_and_declares_what_the_openapi_cannot_do(world: ProfileWorld) -> None:
    assert registered()["cloud.openapi"] == "harness.adapters.openapi:openapi_cloud"
    assert resolve("cloud", "openapi") is openapi_cloud
    assert split_spec("cloud", "openapi:http://127.0.0.1:1") == ("openapi", {"url": "http://127.0.0.1:1"})
    cloud = world.cloud
    # raw-atop: the world names a url_config (the lab's OpenAPI), so the adapter knows the ATOP endpoint
    assert isinstance(cloud, CloudAdapter) and cloud.capabilities == {CloudCapability.INSPECT_DEVICES.value,
                                                                       CloudCapability.RAW_ATOP.value}
    calls: list[tuple[str, Callable[[], object]]] = [
        ("time-travel", lambda: cloud.advance_time(1)), ("issue-licences", lambda: cloud.issue_licence("p" * 16)),
        ("revoke-licences", lambda: cloud.revoke_licence("u")),
        ("create-products", lambda: cloud.create_product("n", "sp", BindingMode.STRONG)),
        ("add-members", lambda: cloud.add_member("h", "a", Role.MEMBER)),
        ("notifications", lambda: cloud.notifications("a"))]
    for capability, call in calls:
        with pytest.raises(CapabilityMissing) as missing:
            call()
        assert missing.value.capability == capability and missing.value.adapter == "openapi"
    info = cloud.info()
    assert info["atop_url"].endswith("/d.json") and ":" in info["mqtt"] and "token-refusals" in info["cannot"]
    assert info["client_id"] == "pcOp..."  # not the whole Access ID, and never the secret
    json.dumps(info)


def test_a_qr_pairing_reads_back_as_attempts_a_record_and_a_command_reaching_the_camera(world: ProfileWorld) -> None:
    cloud = world.cloud
    release_device(cloud, world.device)
    owner = cloud.create_account("owner")
    home = cloud.create_home(owner, "flat")
    token = cloud.get_token(home, owner)
    assert len(token) == 14 and token[:2] == cloud.region == "AY"
    outcome = pair_qr(world, owner, token)
    assert outcome.ok, outcome.error
    [attempt] = cloud.token_attempts(token)
    assert (attempt.outcome, attempt.dev_id, attempt.home) == ("activated", outcome.device_model.dev_id, home)
    record = cloud.device_by_uuid(world.device.licence.uuid)
    assert record is not None and record == cloud.device(attempt.dev_id)
    emulated = world.context.cloud._cloud.device(record.dev_id)  # type: ignore[union-attr]  # the lab's own view
    activations = sum(1 for e in emulated.history if e.event == "activated")
    assert (record.home, record.owner, record.online, record.activations, record.pid) == (
        home, owner, True, activations, world.profile.device.pid) and activations >= 1
    assert [r.dev_id for r in cloud.list_devices(home)] == [record.dev_id]
    cloud.send_dps(record.dev_id, {"1": True}, account=owner)  # DP 1 is "switch" in the product's schema

    def reported() -> bool:
        again = cloud.device(record.dev_id)
        return again is not None and again.dps.get("1") is True

    assert eventually(reported), "the command never came back as the camera's report"
    # the consumed token pairs nothing more (3718), once the owner removed and wiped the device
    cloud.remove_device(record.dev_id, account=owner, wipe=True)
    assert cloud.device(record.dev_id) is None and cloud.device_by_uuid(world.device.licence.uuid) is None
    world.device.wait_pairing_mode(10)  # told over MQTT: back in pairing mode by itself
    world.device.factory_reset()
    world.device.wait_pairing_mode(10)
    again = pair_qr(world, owner, token)
    assert again.code == ActivatorErrorCode.TOKEN_EXPIRED, again.error
    assert [(a.outcome, a.error_code) for a in cloud.token_attempts(token)] == [("activated", None),
                                                                              ("refused", "EXPIRE")]


def test_data_that_is_not_a_lab_error(world: ProfileWorld) -> None:
    cloud = world.cloud
    assert cloud.device("pcnosuchdevice000000") is None
    assert cloud.token_attempts("AYAbCd1234wxyz") == []  # never issued: no attempts
    assert cloud.device_by_uuid("pcnosuchlicence00000") is None
    release_device(cloud, world.device)
    owner = cloud.create_account("offline owner")
    home = cloud.create_home(owner, "flat")
    outcome = pair_qr(world, owner, cloud.get_token(home, owner))
    assert outcome.ok and outcome.device_model is not None
    world.device.power_cycle()  # switched off and on: for a moment it is offline
    cloud.send_dps(outcome.device_model.dev_id, {"1": False}, account=owner)  # offline or not: no error
    with pytest.raises(OpenApiError) as refused:
        cloud.get_token("home00000000", owner)  # a home that is not the user's: the lab's mistake
    assert refused.value.code == oa.OpenApiCode.PERMISSION_DENY and isinstance(refused.value, AdapterError)


def test_the_factory_takes_a_data_centre_or_a_url_and_refuses_faults() -> None:
    profile = load_profile(ROOT / "profiles" / "cloud-tuya-openapi.toml")
    context = WorldContext(profile=profile, clock=SystemClock(), seed=1)
    assert profile.adapters.cloud.name == "openapi"
    args = profile.adapters.cloud.resolved_args({"TUYA_ACCESS_ID": "a" * 20, "TUYA_ACCESS_SECRET": "s" * 32})
    adapter = openapi_cloud(context, **args)
    try:
        assert adapter.base_url == DATA_CENTRES["eu"] == "https://openapi.tuyaeu.com"
        assert adapter.schema == "yourappschema" and adapter.region == "EU"
    finally:
        adapter.close()
    with pytest.raises(AdapterError, match="data_centre"):
        openapi_cloud(context, client_id="a", secret="s", data_centre="mars")
    with pytest.raises(CapabilityMissing, match="fault-injection"):
        openapi_cloud(context, client_id="a", secret="s", url="http://127.0.0.1:1", faults=["token-reusable"])
    with pytest.raises(AdapterError, match="base URL"):
        OpenApiCloudAdapter("ftp://x", client_id="a", secret="s")


def test_linked_user_ids_are_handed_out_once_each() -> None:
    adapter = OpenApiCloudAdapter("http://127.0.0.1:1", client_id="a", secret="s", uids=["u1", "u2"])
    try:
        assert [adapter.create_account("x"), adapter.create_account("y")] == ["u1", "u2"]
        with pytest.raises(CapabilityMissing, match="create-accounts"):
            adapter.create_account("z")
    finally:
        adapter.close()


def test_the_production_profile_example_validates() -> None:
    done = subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", "profiles", "--check",
                           "--schema-only", str(ROOT / "profiles" / "cloud-tuya-openapi.toml")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "ok: " in done.stdout, done.stdout + done.stderr


# -- token holder and retries, against a scripted OpenAPI ----------------------------------------------------------


class Script:
    """What a scripted OpenAPI answers: a queue of (code or None, extra) per path prefix; it records each request."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int | None, dict[str, Any]]]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.bodies: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.tokens = 0

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        with self.lock:
            self.seen.append((path, headers))
            queue = next((q for prefix, q in self.answers.items() if path.startswith(prefix)), None)
            code, extra = queue.pop(0) if queue else (None, {})
            if extra.get("status"):
                return int(extra["status"]), extra.get("raw", b"oops")
            now = int(time.time() * 1000) + int(extra.get("shift_ms", 0))
            if code is not None:
                return 200, oa.failure(code, t_ms=now, tid="0" * 32).to_bytes()
            if path.startswith("/v1.0/token"):
                self.tokens += 1
                result: Any = {"access_token": f"access{self.tokens:026d}", "uid": "",
                               "refresh_token": f"refresh{self.tokens:025d}",
                               "expire_time": int(extra.get("expire_time", 7200))}
            else:
                result = extra.get("result", [])
            return 200, oa.success(result, t_ms=now, tid="0" * 32).to_bytes()


@pytest.fixture
def scripted() -> Iterator[tuple[Script, str]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if body:
                script.bodies.append((self.path, json.loads(body)))
            status, body = script.answer(self.path, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError):
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def adapter_for(url: str) -> OpenApiCloudAdapter:
    return OpenApiCloudAdapter(url, client_id="scripted000000000000", secret="s" * 32, timeout_s=2)


def logins(script: Script) -> list[str]:
    return [path for path, _ in script.seen if path.startswith("/v1.0/token")]


def test_a_1010_is_cured_by_one_new_login_and_a_second_one_is_an_error(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    adapter = adapter_for(url)
    try:
        script.answers["/v1.0/homes/"] = [(1010, {}), (None, {"result": []})]
        assert adapter.list_devices("h1") == []
        assert logins(script) == ["/v1.0/token?grant_type=1"] * 2
        script.answers["/v1.0/homes/"] = [(1011, {}), (1010, {}), (None, {})]
        with pytest.raises(OpenApiError) as raised:
            adapter.list_devices("h1")
        assert raised.value.code == 1010 and len(logins(script)) == 3  # one more login, never a loop
    finally:
        adapter.close()


def test_a_token_near_its_end_is_refreshed_once_and_a_failed_refresh_logs_in(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    script.answers["/v1.0/token?"] = [(None, {"expire_time": 30}), (None, {"expire_time": 7200})]
    script.answers["/v1.0/token/"] = [(1012, {})]
    adapter = adapter_for(url)
    try:
        adapter.list_devices("h1")  # logs in: 30 s left, under the 60 s margin
        adapter.list_devices("h1")  # refreshes (refused 1012: the refresh token is single-use), logs in again
        adapter.list_devices("h1")  # 7200 s left: nothing
        assert logins(script) == ["/v1.0/token?grant_type=1", "/v1.0/token/refresh" + "0" * 24 + "1",
                                  "/v1.0/token?grant_type=1"]
        business = [headers for path, headers in script.seen if path.startswith("/v1.0/homes/")]
        assert [h["access_token"] for h in business] == ["access" + "0" * 25 + "1", "access" + "0" * 25 + "2",
                                                         "access" + "0" * 25 + "2"]
        assert all(len(h["sign"]) == 64 and h["sign_method"] == "HMAC-SHA256" for h in business)
    finally:
        adapter.close()


def test_a_skewed_clock_is_resynchronised_from_the_answer_once(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    script.answers["/v1.0/homes/"] = [(1013, {"shift_ms": 3_600_000}), (None, {}), (1013, {}), (1013, {})]
    adapter = adapter_for(url)
    try:
        adapter.list_devices("h1")
        sent = [int(h["t"]) for path, h in script.seen if path.startswith("/v1.0/homes/")]
        assert sent[1] - sent[0] == pytest.approx(3_600_000, abs=5_000)  # signed with the server's time
        with pytest.raises(OpenApiError, match="1013"):
            adapter.list_devices("h1")
    finally:
        adapter.close()


@pytest.mark.parametrize(("extra", "complaint"), [
    ({"status": 500, "raw": b"Internal Server Error"}, "HTTP 500"),
    ({"status": 200, "raw": b"<html>"}, "not its envelope"),
])
def test_an_answer_that_is_not_the_openapi_is_a_lab_error(scripted: tuple[Script, str], extra: dict[str, Any],
                                                          complaint: str) -> None:
    script, url = scripted
    script.answers["/v1.0/homes/"] = [(None, extra)]
    adapter = adapter_for(url)
    try:
        with pytest.raises(AdapterError, match=complaint) as raised:
            adapter.list_devices("h1")
        assert not isinstance(raised.value, OpenApiError)
    finally:
        adapter.close()


def test_a_long_answer_is_read_whole(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    devices = [{"id": f"dev{i:05d}", "name": "x" * 900} for i in range(200)]  # about 190 KB, under the 256 KiB cap
    script.answers["/v1.0/long"] = [(None, {"result": devices})]
    adapter = adapter_for(url)
    try:
        assert adapter.client.call("GET", "/v1.0/long") == devices
    finally:
        adapter.close()


def test_a_wrong_secret_names_the_configuration(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    script.answers["/v1.0/token"] = [(1004, {})]
    adapter = adapter_for(url)
    try:
        with pytest.raises(OpenApiError, match="Access Secret") as raised:
            adapter.list_devices("h1")
        assert raised.value.code == 1004 and "s" * 32 not in str(raised.value)
    finally:
        adapter.close()


def test_dp_ids_and_codes_are_mapped_both_ways_and_status_is_read_when_the_detail_lacks_it(
        scripted: tuple[Script, str]) -> None:
    script, url = scripted
    detail = {"id": "d1", "uuid": "u1", "product_id": "p" * 16, "owner_id": "h1", "uid": "a1", "online": True}
    script.answers["/v1.0/devices/d1/status"] = [(None, {"result": [{"code": "switch", "value": True},
                                                                    {"code": "mystery", "value": 3}]})]
    script.answers["/v1.0/devices/d1/logs"] = [(None, {"result": {"logs": [{"event_id": 3}, {"event_id": 4}],
                                                                  "has_next": False}})]
    script.answers["/v1.0/devices/d1"] = [(None, {"result": detail})]
    adapter = OpenApiCloudAdapter(url, client_id="scripted000000000000", secret="s" * 32, dp_codes={"1": "switch"})
    try:
        record = adapter.device("d1")
        assert record is not None and record.dps == {"1": True, "mystery": 3} and record.activations == 1
        assert (record.home, record.owner, record.uuid) == ("h1", "a1", "u1")
        adapter.send_dps("d1", {"1": False, "7": 5}, account="a1")
        assert script.bodies[-1] == ("/v1.0/devices/d1/commands",
                                     {"commands": [{"code": "switch", "value": False}, {"code": "7", "value": 5}]})
    finally:
        adapter.close()


def test_an_unreachable_cloud_is_an_adapter_error_within_the_timeout() -> None:
    adapter = OpenApiCloudAdapter("http://127.0.0.1:9", client_id="a", secret="s", timeout_s=2)
    started = time.monotonic()
    try:
        with pytest.raises(AdapterError, match="unreachable"):
            adapter.device("x")
    finally:
        adapter.close()
    assert time.monotonic() - started < 10


def test_short_lived_tokens_are_refreshed_in_a_chain_against_the_emulated_openapi() -> None:
    cloud = EmulatedCloud(clock=VirtualClock(), broker="none")
    cloud.openapi = OpenApiService(cloud.state, access_ttl_s=30)  # under the 60 s margin: refresh before each call
    cloud.openapi.register("pcOpenApiTest0000001", "s" * 32)
    with cloud:
        adapter = OpenApiCloudAdapter(cloud.openapi_url, client_id="pcOpenApiTest0000001", secret="s" * 32,
                                      schema="paircert")
        try:
            owner = adapter.create_account("owner")
            home = adapter.create_home(owner, "flat")
            tokens = {adapter.get_token(home, owner) for _ in range(3)}
            assert len(tokens) == 3 and adapter.client.logins == 1 and adapter.client.refreshes == 4
        finally:
            adapter.close()


# -- against `paircert cloud serve --openapi-client-file` ----------------------------------------------------------


def test_the_adapter_drives_a_served_cloud_whose_lab_made_the_project(tmp_path: Path) -> None:
    credentials = tmp_path / "openapi.json"
    served = ServedCloud("--broker", "none", "--region", "EU", "--openapi-client-file", str(credentials))
    try:
        [line] = [line for line in served.lines if line.startswith("OpenAPI ")]
        url = line.split()[1]
        project = json.loads(credentials.read_text())
        cloud = OpenApiCloudAdapter(url, client_id=project["client_id"], secret=project["secret"],
                                    schema="paircert", url_config=served.urls["url_config"], timeout_s=5)
        try:
            owner = cloud.create_account("owner")
            home = cloud.create_home(owner, "bench")
            token = cloud.get_token(home, owner)
            assert token[:2] == "EU" and cloud.token_attempts(token) == [] and cloud.list_devices(home) == []
            assert cloud.info()["atop_url"] == served.urls["ATOP"]
        finally:
            cloud.close()
    finally:
        served.stop()


# -- the suites through the openapi adapter ------------------------------------------------------------------------


SUITES_TIMEOUT_S = 200.0  # one whole suite run (about 40 s on a quiet machine)


def run_suites(report_dir: Path, *, openapi: bool) -> list[dict[str, Any]]:
    env = dict(os.environ, PAIRCERT_OPENAPI_WORLD="1" if openapi else "0", PAIRCERT_FUZZ_BUDGET="ci",
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    for variable in ("PAIRCERT_PROFILE", "PAIRCERT_CLOUD", "PAIRCERT_DEVICE", "PAIRCERT_NETWORK"):
        env.pop(variable, None)
    command = [sys.executable, "-m", "pytest", str(ROOT / "suites"), "--paircert-profile", "camera-strong", "-p",
               "_openapi_world", "-p", "no:cacheprovider", "-q", "-W", "ignore", "--paircert-seed", "20240611",
               "--paircert-report-dir", str(report_dir), "--paircert-evidence", "none"]  # verdicts only
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUITES_TIMEOUT_S)
    results = report_dir / "results.jsonl"
    assert results.exists(), f"no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


DECLARED = ("time-travel", "issue-licences", "revoke-licences", "create-products", "add-members", "notifications",
            "token-refusals", "fault-injection", "bind-by-uuid")


@pytest.mark.timeout(SUITES_TIMEOUT_S + 40)  # two whole suite runs side by side: more than the default 120 s
def test_the_suites_give_the_emulated_clouds_verdicts_through_the_openapi_adapter(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        emulated = pool.submit(run_suites, tmp_path / "emulated", openapi=False)
        through = pool.submit(run_suites, tmp_path / "openapi", openapi=True)
        baseline = {r["nodeid"]: r for r in emulated.result()}
        results = {r["nodeid"]: r for r in through.result()}
    assert set(results) == set(baseline) and len(results) > 50
    differ, unexplained = [], []
    for nodeid, result in sorted(results.items()):
        if result["verdict"] == baseline[nodeid]["verdict"]:
            continue
        differ.append(nodeid)
        message = result["message"]
        explained = result["verdict"] == "N/A" and "openapi" in message and (
            any(f"'{c}'" in message for c in DECLARED) or "cannot issue licences" in message
            or "does not say which envelope version a report came in" in message)
        if not explained:
            unexplained.append(f"{baseline[nodeid]['verdict']} -> {result['verdict']} {nodeid}: {result['message']}")
    assert not unexplained, "\n".join(unexplained)
    assert differ, "the openapi adapter declares missing capabilities: some tests must be N/A"
    passed = [n for n, r in results.items() if r["verdict"] == "PASS"]
    assert len(passed) > len(results) // 2, "most of the suites run through the adapter"


def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
