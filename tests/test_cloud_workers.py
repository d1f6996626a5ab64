"""`paircert cloud serve --workers 2` as a subprocess: one state across the processes behind one port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _cloud_helpers import AppClient, activate, build_activation, make_world, new_account
from test_cloud_mqtt import FakeDevice

from harness.emulator.cloud import EmulatedCloud
from harness.emulator.cloud.workers import WorkerRole
from harness.protocol import mqtt
from harness.protocol.atop import decode_response

PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]
CLIENTS = 4
TRIES_PER_CLIENT = 12


def _start(args: list[str]) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    proc = subprocess.Popen([*PAIRCERT, "cloud", "serve", "--port", "0", "--mqtt-port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.match(r"\s+(ATOP|app API|MQTT)\s+(\S+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
        if line.startswith("serving"):
            return proc, urls, lines
    proc.kill()
    raise AssertionError(f"serve did not start: {''.join(lines)} {proc.stderr.read() if proc.stderr else ''}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def _activate(atop_url: str, lic: dict[str, str], token: str) -> tuple[str, str]:
    """One activation on a fresh connection: (the answer's devId or error code, the worker that answered)."""
    query, body = build_activation(lic["uuid"], lic["authKey"], lic["pid"], token)
    request = urllib.request.Request(f"{atop_url}?{query}", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                                              "Connection": "close"})
    with urllib.request.urlopen(request, timeout=20) as answer:
        worker = answer.headers["X-Paircert-Worker"]
        raw = answer.read()
    decoded = decode_response(raw, lic["authKey"], 1)
    outcome = decoded.result["devId"] if decoded.result is not None else str(decoded.error_code)
    return outcome, worker


def _client(atop_url: str, lic: dict[str, str], token: str) -> list[tuple[str, str]]:
    return [_activate(atop_url, lic, token) for _ in range(TRIES_PER_CLIENT)]


class _Served:
    def __init__(self, urls: dict[str, str]) -> None:
        self.atop_url = urls["ATOP"]
        self.app_url = urls["app API"]


def test_two_workers_consume_a_token_once_and_share_revocations(tmp_path: Path) -> None:
    out, key_file = tmp_path / "licences.json", tmp_path / "admin.key"
    proc, urls, lines = _start(["--workers", "2", "--licences", "2", "--licences-out", str(out),
                                "--admin-key-file", str(key_file)])
    try:
        assert any(line.startswith("  workers     2 processes") for line in lines), lines
        served = _Served(urls)
        lab = AppClient(served, bearer=key_file.read_text().strip())  # type: ignore[arg-type]
        app = new_account(lab, served, "operator")  # type: ignore[arg-type]
        home = app.ok("POST", "/homes", {"name": "lab"})["home"]
        token = app.ok("POST", f"/homes/{home}/token")["token"]
        first, second = json.loads(out.read_text())
        # Several client processes race one token with one licence: exactly one device, whichever worker.
        with ProcessPoolExecutor(CLIENTS) as pool:
            answers = [a for got in pool.map(_client, [served.atop_url] * CLIENTS, [first] * CLIENTS,
                                             [token] * CLIENTS) for a in got]
        assert {worker for _, worker in answers} == {"0", "1"}, "both workers answered"
        activated = [outcome for outcome, _ in answers if not outcome.isupper()]
        assert len(activated) == 1, answers
        refusals = {outcome for outcome, _ in answers if outcome.isupper()}
        assert refusals == {"EXPIRE"}, refusals
        devices = app.ok("GET", f"/homes/{home}/devices")
        assert [d["devId"] for d in devices] == activated
        # A licence revoked through one worker is refused by all.
        lab.ok("POST", f"/lab/licences/{second['uuid']}/revoke")
        fresh = app.ok("POST", f"/homes/{home}/token")["token"]
        after = [_activate(served.atop_url, second, fresh) for _ in range(16)]
        assert {worker for _, worker in after} == {"0", "1"}, "both workers answered"
        assert {outcome for outcome, _ in after} == {"LICENSE_REVOKED"}, after
    finally:
        err = _stop(proc)
    assert first["authKey"] not in err


def test_a_worker_that_dies_is_reported_and_sigterm_stops_all(tmp_path: Path) -> None:
    proc, _urls, _lines = _start(["--workers", "2", "--no-auth"])
    try:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True,
                                  check=False).stdout.split()
        # the spawned workers (multiprocessing's spawn_main), not its resource tracker
        workers = [pid for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert workers, children
        for pid in workers:
            os.kill(int(pid), signal.SIGKILL)
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        reported = ""
        while time.monotonic() < deadline and "died" not in reported:
            reported = proc.stderr.readline()
        assert "died" in reported, reported
    finally:
        _stop(proc)
    def gone(pid: str) -> bool:
        try:
            return "zombie" in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True

    # multiprocessing's resource tracker ends by itself once the serving process is gone: polled for, bounded
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(gone(pid) for pid in children):
        time.sleep(0.05)
    assert all(gone(pid) for pid in children), [pid for pid in children if not gone(pid)]


def test_an_app_command_through_the_second_worker_reaches_the_connected_device(tmp_path: Path) -> None:
    """Worker 1 has no broker: its app command goes to worker 0's broker through its ClientLink, sealed with the
    localKey of a device it activated itself (PROTOCOL.md §5), and the device decodes it."""
    state = tmp_path / "state.sqlite"
    with EmulatedCloud(state_path=state, worker=WorkerRole(0, 2)) as first:
        second = EmulatedCloud(state_path=state, worker=WorkerRole(1, 2, first.broker_address()), broker="none")
        with second:
            world = make_world(first)
            lic = world.licence()
            result = activate(second, lic, world.token()).result  # the second worker activates it
            assert result is not None
            device = FakeDevice(first, result["devId"], result["secKey"], result["localKey"])
            try:
                assert device.connack.get(timeout=10) and device.subscribed.wait(10)
                app = AppClient(second, world.owner)
                status, answer = app.call("POST", f"/devices/{result['devId']}/dps", {"dps": {"1": True}})
                assert (status, answer["result"]) == (200, {"sent": True}), answer
                message = device.inbox.get(timeout=10)
                assert (message.protocol, message.data["dps"]) == (mqtt.MqttProtocol.DP_COMMAND, {"1": True})
            finally:
                device.close()
