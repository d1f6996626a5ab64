"""`paircert cloud serve` as a subprocess, and the SQLite state surviving a restart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from _cloud_helpers import AppClient, activate, login, make_world, new_account

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LicenceRecord

PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]


def test_sqlite_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "cloud.sqlite"
    clock = VirtualClock()
    with EmulatedCloud(clock=clock, broker="none", state_path=db) as cloud:
        world = make_world(cloud, category="cz", mode="medium")
        admin = cloud.app.create_account("admin")
        cloud.app.set_member(world.owner, world.home, admin, "admin")
        lic = world.licence()
        token = world.token()
        result = activate(cloud, lic, token).result
        assert result is not None
        other = cloud.app.create_account("other")
        other_home = cloud.app.create_home(other, "other")
        assert activate(cloud, lic, world.token(other, other_home)).success
        pending = world.token()
        before = cloud.app.device(other, result["devId"])
    with EmulatedCloud(clock=clock, broker="none", state_path=db) as again:
        assert again.app.device(other, result["devId"]) == before
        assert [n["devId"] for n in again.app.notifications(admin)] == [result["devId"]]
        assert [a["outcome"] for a in again.app.token_attempts(world.owner, token)] == ["activated"]
        assert activate(again, lic, token).error_code == "EXPIRE"  # still consumed
        assert activate(again, again.app.issue_licence(world.pid), pending).success  # still valid
        assert again.state.licences[lic.uuid].hid == "a1b2c3d4e5f6"


def _start(args: list[str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([*PAIRCERT, "cloud", "serve", "--mqtt-port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.match(r"\s+(ATOP|app API|MQTT|url_config|admin key)\s+(\S+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
        if line.startswith("serving"):
            return proc, urls
    proc.kill()
    raise AssertionError(f"serve did not start: {''.join(lines)} {proc.stderr.read() if proc.stderr else ''}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    return err


class _Cloud:
    """Enough of EmulatedCloud's shape for the test helpers, pointing at a served cloud."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.atop_url = urls["ATOP"]
        self.app_url = urls["app API"]


def test_serve_prints_urls_answers_an_activation_and_keeps_state(tmp_path: Path) -> None:
    db, out = tmp_path / "lab.sqlite", tmp_path / "licences.json"
    proc, urls = _start(["--port", "0", "--state", str(db), "--licences", "2", "--licences-out", str(out)])
    try:
        assert urls["ATOP"].endswith("/d.json") and re.fullmatch(r"127\.0\.0\.1:\d+", urls["MQTT"])
        assert oct(out.stat().st_mode & 0o777) == "0o600"
        rows = json.loads(out.read_text())
        assert len(rows) == 2 and len(rows[0]["authKey"]) == 32
        served = _Cloud(urls)
        key_file = Path(f"{db}.admin-key")
        private = [key_file, out, *(p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())]
        assert len(private) >= 4 and {oct(p.stat().st_mode & 0o777) for p in private} == {"0o600"}, private
        admin_key = key_file.read_text().strip()
        assert urls["admin key"] == admin_key, "a new admin key is printed once"
        lab = AppClient(served, bearer=admin_key)  # type: ignore[arg-type]
        app = new_account(lab, served, "operator")  # type: ignore[arg-type]
        owner = app.account
        home = app.ok("POST", "/homes", {"name": "lab"})["home"]
        token = app.ok("POST", f"/homes/{home}/token")["token"]
        lic = LicenceRecord(uuid=rows[0]["uuid"], auth_key=rows[0]["authKey"], pid=rows[0]["pid"])
        result = activate(served, lic, token).result  # type: ignore[arg-type]
        assert result is not None
    finally:
        err = _stop(proc)
    assert rows[0]["authKey"] not in err, "AuthKeys never reach the log"
    assert admin_key not in err
    proc, urls = _start(["--port", "0", "--state", str(db), "--licences", "2", "--licences-out", str(out)])
    try:
        assert urls["admin key"] == "in", "the kept admin key is not printed again"
        assert owner is not None
        app = login(_Cloud(urls), owner)  # type: ignore[arg-type]  # the password survived the restart
        assert [d["devId"] for d in app.ok("GET", f"/homes/{home}/devices")] == [result["devId"]]
        assert json.loads(out.read_text()) == rows, "a restart reuses the licences instead of minting new ones"
    finally:
        _stop(proc)
