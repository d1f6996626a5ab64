"""``paircert run`` end to end: small sample suites in tmp dirs, run through the real plugin in a subprocess."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.profiles import load_profile
from harness.qrimage import decode_qr
from harness.redaction import MASK
from harness.report.manifest import verify_manifest
from harness.report.summary import load_summary
from tests._report_helpers import (
    ERRORING_SUITE,
    FAILING_SUITE,
    PAIRCERT,
    PASSING_SUITE,
    latest_run,
    load_json,
    run_paircert,
    write_suites,
)

SLOW_SUITE = '''
import time
import pytest

@pytest.mark.parametrize("n", range(40))
@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
def test_slowly(n):
    # The first two pass at once; the third holds the run (bounded) until the interruption comes.
    deadline = time.monotonic() + (60 if n == 2 else 0)
    while time.monotonic() < deadline:
        time.sleep(0.01)
'''

CRASHING_SUITE = '''
import os
import signal
import pytest

@pytest.mark.tc("TC-MQTT-001", reqs=["REQ-MQTT-001"])
def test_before_the_crash():
    pass

@pytest.mark.tc("TC-MQTT-002", reqs=["REQ-MQTT-002"])
def test_the_device_takes_the_run_down():
    os.kill(os.getpid(), signal.SIGKILL)

@pytest.mark.tc("TC-MQTT-003", reqs=["REQ-MQTT-003"])
def test_after_the_crash():
    pass
'''

PARALLEL_SUITE = '''
import pytest

@pytest.mark.parametrize("n", range(6))
@pytest.mark.tc("TC-EZ-001", reqs=["REQ-EZ-001"])
def test_in_parallel(n):
    pass  # xdist hands each of the two workers its first tests before any ends
'''

# Every way a secret could get out: stdout (Allure keeps it), the failure message, evidence texts and images
# (a pairing QR encodes the Wi-Fi password), an Allure attachment behind the plugin's back, a raw file with the
# secret's hex and base64 under the report directory.
LEAKING_SUITE = '''
import base64
import json
import os
from pathlib import Path

import allure
import pytest

from harness import redaction
from harness.qrimage import render_qr


@pytest.mark.tc("TC-LICENCE-002", reqs=["REQ-LICENCE-002"])
def test_leaks_every_secret_it_can(world, cloud, profile, evidence, pytestconfig):
    wifi = os.environ["SENTINEL_WIFI_PW"]
    issued = cloud.issue_licence(profile.device.pid)
    redaction.learn(issued.auth_key)  # what an adapter does with a key it is handed
    secrets = [wifi, world.device.licence.auth_key, issued.auth_key]
    Path(os.environ["SENTINEL_OUT"]).write_text(json.dumps(secrets))
    text = " ".join(secrets)
    print("stdout:", text)
    evidence.attach_text("leak", text)
    evidence.attach_image("pairing-qr", render_qr(json.dumps({"s": "lab", "p": wifi, "t": "AYabcdefghijkl"})))
    allure.attach(text, name="raw-leak", attachment_type=allure.attachment_type.TEXT)
    report_dir = Path(pytestconfig.getoption("--paircert-report-dir") or os.environ["PAIRCERT_REPORT_DIR"])
    raw = b"|".join(s.encode() for s in secrets)
    (report_dir / "evidence").mkdir(exist_ok=True)
    (report_dir / "evidence" / "raw.bin").write_bytes(
        raw + b"\\n" + raw.hex().encode() + b"\\n" + b"\\n".join(base64.b64encode(s.encode()) for s in secrets))
    assert False, f"leaked {text}"
'''


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_suites(tmp_path_factory.mktemp("suites"),
                        {"token": PASSING_SUITE, "delegate": FAILING_SUITE, "licence": ERRORING_SUITE})


@pytest.fixture(scope="module")
def mixed_run(suites: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path_factory.mktemp("reports")
    done = run_paircert("run", "--profile", "camera-strong", "--suites-dir", str(suites), "--report-dir", str(reports),
                        "--no-progress")
    return done, latest_run(reports)


def _run(suites: Path, reports: Path, *extra: str, env: dict[str, str] | None = None
         ) -> tuple[subprocess.CompletedProcess[str], Path]:
    done = run_paircert("run", "--profile", "camera-strong", "--suites-dir", str(suites), "--report-dir",
                        str(reports), "--no-progress", *extra, env=env)
    return done, latest_run(reports)


# -- exit codes ------------------------------------------------------------------------------------------------

def test_a_run_of_passes_and_na_exits_0(suites: Path, tmp_path: Path) -> None:
    done, run_dir = _run(suites, tmp_path, "--suite", "token")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = load_summary(run_dir / "summary.json")
    assert summary.counts == {"PASS": 2, "FAIL": 0, "ERROR": 0, "N/A": 1, "INCONCLUSIVE": 0}
    assert (summary.verdict, summary.exit_code, summary.suites) == ("PASS", 0, ["token"])


def test_any_fail_exits_1(mixed_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, run_dir = mixed_run
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Report: {run_dir / 'report.html'}" in done.stdout.replace("\n", "")
    assert "Overall: FAIL" in done.stdout


def test_an_error_without_fail_exits_3(suites: Path, tmp_path: Path) -> None:
    done, run_dir = _run(suites, tmp_path, "--suite", "licence")
    assert done.returncode == 3, done.stdout + done.stderr
    summary = load_summary(run_dir / "summary.json")
    assert [(r.tc, r.verdict) for r in summary.results] == [("TC-LICENCE-001", "ERROR")]
    assert "relay did not answer" in summary.results[0].message


def test_a_bad_profile_exits_2_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = (Path(load_profile("camera-strong").path or "")).read_text().replace('binding_mode = "strong"',
                                                                               'binding_mode = "weak"')
    bad.write_text(text)
    done = run_paircert("run", "--profile", str(bad), "--report-dir", str(tmp_path / "reports"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "capabilities.binding_mode" in lines[0], done.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["--profile", "no-such-profile"], "no such profile"),
    (["--profile", "camera-strong", "--suite", "nonsense"], "no suite named 'nonsense'"),
    (["--profile", "camera-strong", "-n", "two"], "-n: expected a number"),
    (["--profile", "camera-strong", "--cloud", "martian"], "no cloud adapter named 'martian'"),
])
def test_bad_usage_exits_2_with_one_line(suites: Path, tmp_path: Path, args: list[str], expected: str) -> None:
    done = run_paircert("run", *args, "--suites-dir", str(suites), "--report-dir", str(tmp_path))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and expected in done.stderr, done.stderr


# -- what a run writes -------------------------------------------------------------------------------------------

def test_the_summary_says_what_ran_with_what(mixed_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, run_dir = mixed_run
    data = load_json(run_dir / "summary.json")
    profile = load_profile("camera-strong")
    assert data["run_id"] == run_dir.name and (run_dir.parent / "latest").resolve() == run_dir
    assert data["profile"]["profile"] == "camera-strong" and data["profile"]["sha256"] == profile.hash()
    assert data["profile"]["file"] == str(profile.path)
    assert data["harness_version"] and data["suite_version"].startswith("sha256:")
    assert data["started_at"] <= data["ended_at"] and data["firmware"] == "1.0.0"
    assert set(data["adapters"]) >= {"cloud", "device", "network"}
    assert (data["interrupted"], data["exit_code"], data["verdict"]) == (False, 1, "FAIL")
    by_tc = {r["tc"]: r for r in data["results"]}
    assert {tc: r["verdict"] for tc, r in by_tc.items()} == {
        "TC-TOKEN-001": "PASS", "TC-QR-001": "PASS", "TC-QR-002": "N/A", "TC-DELEGATE-001": "FAIL",
        "TC-LICENCE-001": "ERROR"}
    assert by_tc["TC-QR-001"]["requirements"] == ["REQ-QR-001", "REQ-QR-002"]
    assert by_tc["TC-DELEGATE-001"]["area"] == "delegate" and "called twice" in by_tc["TC-DELEGATE-001"]["message"]
    assert all(isinstance(r["duration_s"], float) for r in data["results"])
    assert data["counts"] == {"PASS": 2, "FAIL": 1, "ERROR": 1, "N/A": 1, "INCONCLUSIVE": 0}
    for name in ("junit.xml", "report.html", "manifest.json", "pytest.log"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "allure-results").glob("*-result.json"))
    evidence = by_tc["TC-DELEGATE-001"]["evidence"]
    assert evidence and (run_dir / evidence).is_dir()


def test_the_bundle_is_tamper_evident(mixed_run: tuple[subprocess.CompletedProcess[str], Path],
                                      tmp_path: Path) -> None:
    _, run_dir = mixed_run
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    assert run_paircert("report", "--verify", str(copy)).returncode == 0
    data = bytearray((copy / "junit.xml").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "junit.xml").write_bytes(bytes(data))
    done = run_paircert("report", "--verify", str(copy))
    assert done.returncode == 1 and "changed: junit.xml" in done.stderr


def test_report_rerenders_from_the_summary(mixed_run: tuple[subprocess.CompletedProcess[str], Path],
                                           tmp_path: Path) -> None:
    _, run_dir = mixed_run
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    (copy / "manifest.json").unlink()
    done = run_paircert("report", str(copy))
    assert done.returncode == 0, done.stderr
    assert "TC-DELEGATE-001" in (copy / "report.html").read_text() and verify_manifest(copy).ok


# -- runs that do not finish ---------------------------------------------------------------------------------------

def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_an_interrupted_run_leaves_a_valid_summary(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", {"token": SLOW_SUITE})
    reports = tmp_path / "reports"
    command = [str(PAIRCERT), "run", "--profile", "camera-strong", "--suites-dir", str(suites),
               "--report-dir", str(reports), "--no-progress"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as runner:
        try:
            assert _wait_for(lambda: (reports / "latest" / "results.jsonl").exists()
                             and len((reports / "latest" / "results.jsonl").read_text().splitlines()) >= 2, 30)
            runner.send_signal(signal.SIGINT)
            out, err = runner.communicate(timeout=40)
        finally:
            if runner.poll() is None:
                runner.kill()
    assert runner.returncode == 3, out + err
    run_dir = latest_run(reports)
    summary = load_summary(run_dir / "summary.json")
    assert summary.interrupted and "SIGINT" in summary.interruption and summary.exit_code == 3
    assert len(summary.results) == 2 and summary.not_run, summary.results  # the third was interrupted
    assert all(r.verdict == "PASS" for r in summary.results)
    assert (run_dir / "report.html").is_file() and verify_manifest(run_dir).ok


def test_a_run_whose_pytest_dies_still_leaves_a_summary(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", {"mqtt": CRASHING_SUITE})
    done, run_dir = _run(suites, tmp_path / "reports")
    assert done.returncode == 3, done.stdout + done.stderr
    summary = load_summary(run_dir / "summary.json")
    assert summary.interrupted and "SIGKILL" in summary.interruption
    assert [(r.tc, r.verdict) for r in summary.results] == [("TC-MQTT-001", "PASS")]
    assert any("test_after_the_crash" in n for n in summary.not_run)
    assert verify_manifest(run_dir).ok


# -- parallel runs ------------------------------------------------------------------------------------------------

def test_parallel_workers_merge_into_one_report(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", {"ez": PARALLEL_SUITE})
    done, run_dir = _run(suites, tmp_path / "reports", "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = load_summary(run_dir / "summary.json")
    assert summary.counts["PASS"] == 6 and len(summary.results) == 6
    assert {r.worker for r in summary.results} == {"gw0", "gw1"}
    assert summary.selection["workers"] == "2"


# -- redaction -------------------------------------------------------------------------------------------------------

def _spellings(secret: str) -> set[bytes]:
    raw = secret.encode()
    b64 = {base64.b64encode(raw), base64.urlsafe_b64encode(raw)}
    return {raw, raw.hex().encode(), raw.hex().upper().encode(), *b64, *(b.rstrip(b"=") for b in b64)}


def test_no_secret_survives_anywhere_under_the_report_dir(tmp_path: Path) -> None:
    wifi = f"SENTINEL-pw-{secrets.token_hex(8)}"
    profile = tmp_path / "sentinel-camera.toml"
    text = Path(load_profile("camera-strong").path or "").read_text()
    profile.write_text(text.replace("[adapters]", '[parameters.wifi]\nssid = "lab"\n'
                                                  'password = "env:SENTINEL_WIFI_PW"\n\n[adapters]'))
    suites = write_suites(tmp_path / "suites", {"licence": LEAKING_SUITE})
    reports = tmp_path / "reports"
    out = tmp_path / "learned.json"
    done = run_paircert("run", "--profile", str(profile), "--suites-dir", str(suites), "--report-dir", str(reports),
                        "--no-progress", env={"SENTINEL_WIFI_PW": wifi, "SENTINEL_OUT": str(out)})
    assert done.returncode == 1, done.stdout + done.stderr
    sentinels: list[str] = json.loads(out.read_text())
    assert sentinels[0] == wifi and len(set(sentinels)) == 3
    leaks = []
    files = [p for p in reports.rglob("*") if p.is_file() and not p.is_symlink()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        leaks += [(str(path.relative_to(reports)), s) for s in sentinels for spelling in _spellings(s)
                  if spelling in data]
    console = (done.stdout + done.stderr).encode()
    leaks += [("console", s) for s in sentinels for spelling in _spellings(s) if spelling in console]
    assert not leaks
    run_dir = latest_run(reports)
    assert verify_manifest(run_dir).ok
    assert "«redacted»" in (run_dir / "summary.json").read_text(encoding="utf-8")
    assert (run_dir / "evidence" / "raw.bin").read_bytes().count("«redacted»".encode()) >= 5  # the sweep's work
    redrawn = decode_qr(Image.open(run_dir / "evidence" / "TC-LICENCE-002" / "pairing-qr.png"))
    assert redrawn == [json.dumps({"s": "lab", "p": MASK, "t": "AYabcdefghijkl"}, ensure_ascii=False).encode()]
    assert os.environ.get("SENTINEL_WIFI_PW") is None
