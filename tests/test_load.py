"""``paircert load`` end to end, as a user runs it: `paircert cloud serve` (TLS with its lab CA, its own admin key)
in one process, `paircert load` in others (Locust's master and workers as processes of their own), all on
loopback. Every run is bounded: a few devices for a few seconds; the big numbers are benchmarks/bench_load.py's.
The runs with local workers (rebinding and resetting) and with a master and workers started apart are
tests/test_load_readme.py's, with the README's commands."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _serve_helpers import PAIRCERT, ServedCloud
from click.testing import CliRunner

from harness.load.cli import cli_command as load_command

TESTS = Path(__file__).resolve().parent
RUN_TIMEOUT_S = 120
LIMITS = ("--max-connections", "4096", "--max-connections-per-address", "4096")
STEPS = {("APP", "licence"), ("APP", "pairing token"), ("ATOP", "activate"), ("MQTT", "connect"),
         ("MQTT", "dp report"), ("DP", "app command round trip")}


class Cloud:
    def __init__(self, served: ServedCloud, key_file: Path, ca: Path | None) -> None:
        self.served = served
        self.url = served.urls["app API"]
        self.key_file = key_file
        self.ca = ca

    def args(self) -> list[str]:
        return ["--cloud", self.url, "--admin-key-file", str(self.key_file),
                *(["--ca", str(self.ca)] if self.ca else [])]


@pytest.fixture(scope="module")
def tls_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    folder = tmp_path_factory.mktemp("cloud")
    served = ServedCloud("--tls", "--ca", str(folder / "ca"), "--admin-key-file", str(folder / "admin.key"), *LIMITS)
    try:
        yield Cloud(served, folder / "admin.key", folder / "ca" / "ca.pem")
    finally:
        served.stop()


def load(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PAIRCERT_ADMIN_KEY"}
    return subprocess.run([*PAIRCERT, "load", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          cwd=cwd, env=env)


def run_dir_of(report_dir: Path) -> Path:
    (found,) = [p for p in report_dir.iterdir() if p.is_dir() and p.name.startswith(("load-run-", "load-master-"))]
    return found


def stats(run_dir: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with (run_dir / "locust_stats.csv").open(encoding="utf-8", newline="") as handle:
        return {(row["Type"], row["Name"]): (int(row["Request Count"]), int(row["Failure Count"]))
                for row in csv.DictReader(handle) if row["Type"]}


def results(run_dir: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((run_dir / "invariants.json").read_text(encoding="utf-8"))
    return loaded


def assert_held(run_dir: Path, devices: int, processes: int) -> dict[str, object]:
    outcome = results(run_dir)
    assert outcome["complete"] and outcome["holds"], outcome
    invariants = {inv["name"]: inv for inv in outcome["invariants"]}  # type: ignore[attr-defined]
    assert invariants["no device lost or duplicated"]["checked"] == devices
    assert invariants["bound exactly once"]["checked"] >= 1
    assert invariants["every acknowledged DP report recorded"]["checked"] >= 1
    assert outcome["devices"]["devices"] == devices  # type: ignore[index]
    assert len(outcome["processes"]) == processes  # type: ignore[arg-type]
    assert all(p["devices"] > 0 for p in outcome["processes"].values())  # type: ignore[attr-defined]
    return outcome


def assert_no_secret(run_dir: Path, secret: str) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), path


def test_a_headless_run_in_one_process_over_tls_keeps_every_binding_and_report(tls_cloud: Cloud,
                                                                                tmp_path: Path) -> None:
    done = load(*tls_cloud.args(), "--devices", "10", "--rate", "20", "--duration", "3s", "--report-every", "0.3s",
                "--settle", "10s", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(tmp_path / "reports")
    counted = stats(run_dir)
    assert set(counted) >= STEPS, counted
    assert all(failures == 0 for _requests, failures in counted.values()), counted
    assert counted[("ATOP", "activate")][0] == 10 and counted[("MQTT", "dp report")][0] >= 10
    outcome = assert_held(run_dir, devices=10, processes=1)
    assert outcome["devices"]["expected bound"] == 10  # type: ignore[index]
    assert "every acknowledged DP report recorded" in done.stdout and "BROKEN" not in done.stdout
    assert (run_dir / "summary.txt").read_text(encoding="utf-8") == done.stdout
    assert "<html" in (run_dir / "locust.html").read_text(encoding="utf-8").lower()
    assert_no_secret(run_dir, tls_cloud.key_file.read_text(encoding="utf-8").strip())


def test_the_duration_counts_once_every_device_has_been_spawned(tls_cloud: Cloud, tmp_path: Path) -> None:
    """4 devices at 2/s take 1.5 s to spawn: a 1 s run still has all 4 (its clock starts once they are there)."""
    done = load(*tls_cloud.args(), "--devices", "4", "--rate", "2", "--duration", "1s", "--report-every", "0.3s",
                "--settle", "10s", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(tmp_path / "reports")
    assert stats(run_dir)[("APP", "licence")] == (4, 0)
    assert_held(run_dir, devices=4, processes=1)


def test_a_cloud_that_forgets_bindings_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    served = ServedCloud("--admin-key-file", str(tmp_path / "admin.key"), "--fault",
                         "_load_faults:ForgetsEveryThirdBinding", *LIMITS)
    try:
        cloud = Cloud(served, tmp_path / "admin.key", None)
        done = load(*cloud.args(), "--devices", "6", "--rate", "20", "--duration", "3s", "--settle", "1s",
                    "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    finally:
        served.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    outcome = results(run_dir_of(tmp_path / "reports"))
    assert outcome["complete"] and not outcome["holds"]
    invariants = {inv["name"]: inv for inv in outcome["invariants"]}  # type: ignore[attr-defined]
    assert invariants["bound exactly once"]["broken"] >= 2
    assert any("lost" in e for e in invariants["no device lost or duplicated"]["examples"])
    assert "BROKEN" in done.stdout and "listed 0 times" in done.stdout


def test_setup_and_usage_problems_exit_2_before_any_locust_process(tls_cloud: Cloud, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    no_key = load("--cloud", tls_cloud.url, "--ca", str(tls_cloud.ca), "--report-dir", str(report_dir), cwd=tmp_path)
    assert no_key.returncode == 2 and "cannot issue licences" in no_key.stderr and "no admin key" in no_key.stderr
    untrusted = load("--cloud", tls_cloud.url, "--admin-key-file", str(tls_cloud.key_file),
                     "--report-dir", str(report_dir), cwd=tmp_path)
    assert untrusted.returncode == 2 and f"--cloud {tls_cloud.url}" in untrusted.stderr, untrusted.stderr
    runner = CliRunner()
    both = runner.invoke(load_command, [*tls_cloud.args(), "--master", "--worker"])
    assert both.exit_code == 2 and "one process is one of them" in both.output
    masterless = runner.invoke(load_command, [*tls_cloud.args(), "--worker"])
    assert masterless.exit_code == 2 and "--master-host" in masterless.output
    assert not report_dir.exists()


def _locust_processes(cloud_url: str) -> list[int]:
    """The processes whose environment names this cloud for paircert load: the Locust master and workers."""
    marker = f"PAIRCERT_LOAD_CLOUD={cloud_url}\0".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def test_sigterm_stops_the_run_and_its_locust_processes(tls_cloud: Cloud, tmp_path: Path) -> None:
    proc = subprocess.Popen([*PAIRCERT, "load", *tls_cloud.args(), "--devices", "4", "--rate", "10", "--duration",
                             "10m", "--workers", "1", "--report-dir", str(tmp_path / "reports")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_locust_processes(tls_cloud.url)) < 2:
            time.sleep(0.1)  # polled: the master and its worker have started
        assert len(_locust_processes(tls_cloud.url)) == 2, "the Locust master and worker never started"
        proc.terminate()
        out, err = proc.communicate(timeout=30)  # read as it ends: a full pipe must not hold it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 3, (proc.returncode, out[-2000:], err[-3000:])
    assert _locust_processes(tls_cloud.url) == []  # the master and the worker have ended with the run
