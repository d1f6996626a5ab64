"""``paircert device serve`` as a subprocess, driven through its control API like a lab script would."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.emulator.cloud import EmulatedCloud
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr

ROOT = Path(__file__).resolve().parent.parent


def call(url: str, method: str = "GET", body: bytes | None = None, content_type: str = "application/json",
         timeout: float = 15.0) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, EmulatedCloud, str, str, subprocess.Popen[str]]]:
    with EmulatedCloud() as cloud:
        product = cloud.app.create_product(name="cam", category="sp")
        licence = cloud.app.issue_licence(product.pid)
        owner = cloud.app.create_account("alice")
        home = cloud.app.create_home(owner, "flat")
        env = {**os.environ, "PAIRCERT_DEVICE_UUID": licence.uuid, "PAIRCERT_DEVICE_AUTH_KEY": licence.auth_key}
        proc = subprocess.Popen(
            [sys.executable, "-c", "from harness.cli import main; main()", "device", "serve",
             "--url-config", f"{cloud.http_url}/v2/url_config", "--pid", product.pid,
             "--wifi", "home-net=pw123456"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        try:
            first = lines.get(timeout=30)
            assert "control http://127.0.0.1:" in first, first
            control = first.rsplit(" ", 1)[1].strip()
            yield control, cloud, owner, home, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def test_a_lab_script_pairs_resets_and_stops_the_served_camera(
        served: tuple[str, EmulatedCloud, str, str, subprocess.Popen[str]], tmp_path: Path) -> None:
    control, cloud, owner, home, proc = served
    status, body = call(f"{control}/status")
    assert status == 200 and body["state"] == "pairing" and body["alive"]
    status, ap = call(f"{control}/ap")
    assert status == 200 and ap["udp_port"] > 0 and ap["tcp_port"] > 0

    token = cloud.app.get_token(owner, home).pairing_token
    png = tmp_path / "qr.png"
    render_qr(QrPayload("home-net", "pw123456", token).to_bytes()).save(png)
    status, scan = call(f"{control}/qr", "POST", json.dumps({"path": str(png)}).encode())
    assert status == 200 and scan["outcome"] == "captured"
    status, body = call(f"{control}/wait?state=online,failed&timeout=10")
    assert status == 200 and body["state"] == "online" and body["dev_id"]
    assert cloud.device(body["dev_id"]) is not None

    status, events = call(f"{control}/events")
    names = [e["event"] for e in events]
    assert "prompt-sound" in names and "online" in names
    assert "pw123456" not in json.dumps(events)

    status, body = call(f"{control}/reset", "POST", b"")
    assert status == 200 and body["state"] == "pairing" and body["kept_dev_id"]
    status, scan = call(f"{control}/qr", "POST", png.read_bytes(), content_type="image/png")
    assert scan["outcome"] == "captured"
    status, body = call(f"{control}/power-cycle", "POST", b"")
    assert status == 200

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


Served = tuple[str, EmulatedCloud, str, str, "subprocess.Popen[str]"]


def test_bad_requests_are_answered_not_fatal(served: Served) -> None:
    control, *_ = served
    status, body = call(f"{control}/qr", "POST", b"not a png", content_type="image/png")
    assert status == 400
    status, body = call(f"{control}/wait?state=nonsense")
    assert status == 400
    status, body = call(f"{control}/status")
    assert status == 200 and body["state"] == "pairing"
