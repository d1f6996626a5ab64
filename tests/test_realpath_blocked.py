"""The real-device path when the lab or the camera gets in the way (see tests/test_realpath.py, whose helpers and
lab these share): a lab that cannot make non-ASCII SSIDs, a camera process that dies or hangs, a profile without
an AP hook. Each verdict must be the honest one: INCONCLUSIVE with the reason, the device's own FAIL within its
limit, the tests after a dead camera blocked with the reason, and the run always goes on to its report."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _realpath import WIFI_SSID, Lab, hooks, latest, paircert_run, start_lab, write_profile

from harness.report.summary import load_summary

pytestmark = [pytest.mark.realpath, pytest.mark.timeout(400)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = start_lab(tmp_path)
    try:
        yield lab
    finally:
        lab.stop()


def test_a_lab_that_cannot_make_non_ascii_ssids_makes_those_cases_inconclusive(lab: Lab, tmp_path: Path) -> None:
    """The hooks network adapter declares ASCII SSIDs only: the QR cases on non-ASCII SSIDs are INCONCLUSIVE with the
    reason, every other network-making case PASSes through the camera process's /networks, and the generated
    networks of the fuzz suite are ASCII ones (drawn only from what the lab makes). The networks are gone after."""
    profile = write_profile(lab, tmp_path / "acme-cam.toml", networks={"non_ascii": False})
    done = paircert_run(lab, profile, tmp_path / "reports", "--tc", "TC-QR-002", "--tc", "TC-QR-004",
                        "--tc", "TC-FUZZ-001", "--tc", "TC-FUZZ-002")
    summary = load_summary(latest(tmp_path / "reports") / "summary.json")
    verdicts = {r.nodeid.rsplit("::", 1)[1]: (r.verdict, r.message) for r in summary.results}
    non_ascii = {"multibyte-ssid-32-bytes", "open-network", "emoji"}
    for name, (verdict, message) in verdicts.items():
        case = name.partition("[")[2].rstrip("]")
        if "json_escapes" in name or (name.startswith("test_the_device_joins_exactly") and case in non_ascii):
            assert verdict == "INCONCLUSIVE", (name, verdict, message)
            assert "the lab cannot create an SSID of" in message and "with non-ASCII characters" in message
            assert "it makes ASCII SSIDs only" in message, message
        elif case in ("ez", "ble"):
            assert verdict == "N/A", (name, verdict, message)
        else:
            assert verdict == "PASS", (name, verdict, message, done.stdout[-3000:])
    assert "multibyte-ssid-32-bytes" in str(verdicts) and len(verdicts) == 6 + 2 + 4 + 4
    assert "the lab cannot create an SSID of 32 UTF-8 bytes" in verdicts[
        "test_the_device_joins_exactly_the_network_in_the_qr[multibyte-ssid-32-bytes]"][1]
    assert done.returncode == 0, done.stdout[-3000:]
    with urllib.request.urlopen(f"{lab.control}/networks", timeout=10) as answer:
        left = [network["ssid"] for network in json.loads(answer.read())]
    assert left == [WIFI_SSID]  # the one it was started with: every network the run made was removed at its end


def test_a_camera_that_dies_blocks_the_tests_after_it_and_the_report_says_why(lab: Lab, tmp_path: Path) -> None:
    profile = write_profile(lab, tmp_path / "acme-cam.toml")
    reports = tmp_path / "reports"
    stop = threading.Event()
    killer = _watch_run(reports, 3, lambda: os.kill(lab.device_pid, signal.SIGKILL), stop)
    try:
        done = paircert_run(lab, profile, reports, "--suite", "qr,binding")
    finally:
        stop.set()
        killer.join(5)
    run_dir = latest(reports)
    summary = load_summary(run_dir / "summary.json")
    assert not summary.interrupted and not summary.not_run, done.stderr[-2000:]
    blocked = [r for r in summary.results if r.message.startswith("blocked: ")]
    assert blocked and all(r.verdict == "INCONCLUSIVE" for r in blocked)
    assert all("did not come back after a power cycle" in r.message for r in blocked)
    first = next(r for r in summary.results if "did not come back after a power cycle" in r.message
                 and r.verdict == "ERROR")
    assert "power_cycle" in first.message  # the hook that failed, named
    assert done.returncode == 3 and "did not come back after a power cycle" in (run_dir / "report.html").read_text()



def test_a_camera_that_hangs_gets_its_verdict_within_its_limit_and_the_run_goes_on(lab: Lab,
                                                                                   tmp_path: Path) -> None:
    """The camera freezes (SIGSTOP) as the second QR code comes up, so it never sees it; the lab's power cycle
    revives it. (Freezing it after it took the code would race its own pairing, which can end before the freeze.)"""
    control, pid = lab.control, lab.device_pid
    counter = tmp_path / "qr-count"
    script = tmp_path / "show-qr.sh"
    script.write_text(f"""#!/bin/sh
n=$(($(cat {counter} 2>/dev/null || echo 0) + 1)); echo $n > {counter}
if [ "$n" -eq 2 ]; then kill -STOP {pid}; exit 0; fi
curl -fsS --max-time 4 -H 'Content-Type: image/png' --data-binary @"$PAIRCERT_QR_PNG" {control}/qr
""", encoding="utf-8")
    script.chmod(0o755)
    cycle = f"kill -CONT {pid}; curl -fsS --max-time 4 -X POST {control}/power-cycle"
    profile = write_profile(lab, tmp_path / "acme-cam.toml", qr_hook=str(script),
                            extra_hooks=hooks(control, power_cycle=cycle))
    reports = tmp_path / "reports"
    started = time.monotonic()
    try:
        done = paircert_run(lab, profile, reports, "--tc", "TC-QR-003", "--tc", "TC-QR-007", timeout_s=200)
    finally:
        os.kill(pid, signal.SIGCONT)
    run_dir = latest(reports)
    summary = load_summary(run_dir / "summary.json")
    assert not summary.interrupted and not summary.not_run and len(summary.results) == 4, done.stdout[-3000:]
    hung = summary.results[[r.nodeid for r in summary.results].index(_second_test(run_dir))]
    # frozen before it saw the code: the app waits its timeout for an activation that never comes (1512)
    assert hung.verdict == "FAIL" and "1512" in hung.message, hung
    assert hung.duration_s < 60  # its limit (profile-derived) is far larger: the activator's timeout decided
    assert [r.verdict for r in summary.results if r is not hung] == ["PASS"] * 3, done.stdout[-3000:]
    assert time.monotonic() - started < 180
    timeline = "".join(p.read_text() for p in run_dir.glob("evidence/**/timeline.txt"))
    assert "the device came back after a power cycle" in timeline


def test_without_an_ap_hook_whether_the_access_point_closed_is_inconclusive(lab: Lab, tmp_path: Path) -> None:
    """A fixed ap_host says where the SoftAP answers, not whether it is still open: TC-AP-004 cannot be decided,
    and a correct camera must not FAIL it."""
    profile = write_profile(lab, tmp_path / "acme-cam.toml", ap_hook=False)
    done = paircert_run(lab, profile, tmp_path / "reports", "--tc", "TC-AP-004")
    [result] = load_summary(latest(tmp_path / "reports") / "summary.json").results
    assert done.returncode == 0 and result.verdict == "INCONCLUSIVE", (done.stdout[-2000:], result)
    assert "cannot tell whether the access point is open" in result.message and "ap_hook" in result.message


def _second_test(run_dir: Path) -> str:
    starts = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [e["nodeid"] for e in starts if e.get("event") == "start"][1]


def _watch_run(reports: Path, count: int, action: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """Wait for the run's directory, then for ``count`` verdicts in it, then do ``action`` (once)."""
    def run() -> None:
        while not stop.wait(0.05):
            latest = reports / "latest"
            results = latest / "results.jsonl"
            if results.exists() and len(results.read_text(encoding="utf-8").splitlines()) >= count:
                action()
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
