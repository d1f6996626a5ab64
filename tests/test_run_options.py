"""``paircert run`` options that choose and repeat: ``--tc``, arguments after ``--``, ``--seed``, Ctrl-C,
``--resume`` and ``--rerun-failed``; each through the real command in a subprocess, on small sample suites."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli.runner import STOP_BUDGET_S
from harness.report.manifest import verify_manifest
from harness.report.summary import RunSummary, load_summary
from tests._report_helpers import PAIRCERT, latest_run, run_paircert, write_suites

# A FAIL first, then slow passing tests: an interrupted run has something decided and much left to do. Each test
# notes that it ran (in the file $RAN names) only once it is done.
SLOW = {
    "delegate": '''
import pytest

@pytest.mark.tc("TC-DELEGATE-001", reqs=["REQ-DELEGATE-001"])
def test_the_callback_comes_twice():
    assert False, "two callbacks for one start"
''',
    "token": '''
import os
import time
import pytest

@pytest.mark.parametrize("n", range(30))
@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
def test_slowly(n):
    time.sleep(0.2)
    with open(os.environ["RAN"], "a", encoding="utf-8") as out:
        out.write(f"{n}\\n")
''',
}

# A test that FAILs until the lab is fixed (the file $FIXED exists), next to one that always PASSes.
FIXABLE = {
    "qr": '''
import os
from pathlib import Path
import pytest

@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001"])
def test_always_fine():
    with open(os.environ["RAN"], "a", encoding="utf-8") as out:
        out.write("fine\\n")

@pytest.mark.tc("TC-QR-007", reqs=["REQ-QR-007"])
@pytest.mark.parametrize("variant", ["a", "b"])
def test_broken_until_fixed(variant):
    with open(os.environ["RAN"], "a", encoding="utf-8") as out:
        out.write(f"broken-{variant}\\n")
    assert Path(os.environ["FIXED"]).exists(), "the camera answered 3711"
''',
}

# What a run generates from its seed: the lab's names and passwords (a Wi-Fi network) and Hypothesis's examples.
SEEDED = {
    "token": '''
import json
import os
import pytest
from hypothesis import given, settings, strategies as st

@pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-002"])
def test_generated(lab):
    drawn = []

    @settings(max_examples=5, database=None)
    @given(st.integers(0, 2**32), st.text(min_size=1, max_size=8))
    def draw(number, text):
        drawn.append([number, text])

    draw()
    wifi = lab.wifi()  # a network of generated name and password
    seen = {"examples": drawn, "ssid": wifi.ssid, "password": wifi.password}
    with open(os.environ["SEEN"], "w", encoding="utf-8") as out:
        json.dump(seen, out)
''',
}


def _run(suites: Path, reports: Path, *extra: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    # verdicts and the summary are what these tests read: evidence only of what did not pass
    return run_paircert("run", "--profile", "camera-strong", "--suites-dir", str(suites), "--report-dir",
                        str(reports), "--no-progress", *extra, env={"PAIRCERT_EVIDENCE": "failed", **(env or {})},
                        timeout=120)


def _ran(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


# -- choosing what runs -------------------------------------------------------------------------------------------

def test_tc_selects_by_id_and_by_glob(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", FIXABLE)
    env = {"RAN": str(tmp_path / "ran"), "FIXED": str(tmp_path / "fixed")}
    done = _run(suites, tmp_path / "by-id", "--tc", "TC-QR-001", env=env)
    summary = load_summary(latest_run(tmp_path / "by-id") / "summary.json")
    assert done.returncode == 0 and [r.tc for r in summary.results] == ["TC-QR-001"], done.stdout + done.stderr
    assert summary.selection["tc"] == "TC-QR-001"
    done = _run(suites, tmp_path / "by-glob", "--tc", "TC-QR-00[7]", env=env)
    summary = load_summary(latest_run(tmp_path / "by-glob") / "summary.json")
    assert done.returncode == 1 and sorted(r.tc for r in summary.results) == ["TC-QR-007"] * 2
    assert _ran(tmp_path / "ran") == ["fine", "broken-a", "broken-b"]


def test_evidence_failed_keeps_the_evidence_of_the_failing_tests_only(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", FIXABLE)
    env = {"RAN": str(tmp_path / "ran"), "FIXED": str(tmp_path / "fixed"), "PAIRCERT_EVIDENCE": "none"}
    done = _run(suites, tmp_path / "reports", "--evidence", "failed", env=env)  # the option wins over the variable
    run_dir = latest_run(tmp_path / "reports")
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(p.name for p in (run_dir / "evidence").iterdir()) == ["TC-QR-007"]
    assert load_summary(run_dir / "summary.json").selection["evidence"] == "failed"
    done = _run(suites, tmp_path / "from-env", env=env)  # without the option: $PAIRCERT_EVIDENCE
    kept = latest_run(tmp_path / "from-env") / "evidence"
    assert done.returncode == 1 and not (kept.exists() and any(kept.iterdir())), done.stdout + done.stderr


def test_arguments_after_double_dash_go_to_pytest(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", FIXABLE)
    env = {"RAN": str(tmp_path / "ran"), "FIXED": str(tmp_path / "fixed")}
    # -x: pytest stops at the first failure; -k with pytest's own spelling: the passing test left out
    done = _run(suites, tmp_path / "reports", "--", "-x", "-k", "broken_until_fixed", env=env)
    run_dir = latest_run(tmp_path / "reports")
    summary = load_summary(run_dir / "summary.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert _ran(tmp_path / "ran") == ["broken-a"]  # left out, then stopped after the first failure
    assert [(r.tc, r.verdict) for r in summary.results] == [("TC-QR-007", "FAIL")]
    assert summary.selection["pytest_args"] == "-x -k broken_until_fixed"
    refused = _run(suites, tmp_path / "refused", "--", "--no-such-pytest-option", env=env)
    assert refused.returncode == 2 and "--no-such-pytest-option" in refused.stderr, refused.stderr


# -- repeating a run ---------------------------------------------------------------------------------------------

def _seeded(suites: Path, tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    seen = tmp_path / f"{name}.json"
    # CI set: Hypothesis's own ci profile (derandomized) is loaded, as on any CI machine; the seed still decides
    done = _run(suites, tmp_path / name, *extra, env={"SEEN": str(seen), "CI": "true"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(seen.read_text(encoding="utf-8"))


def test_the_seed_is_printed_recorded_and_replays_the_run(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", SEEDED)
    first, drawn = _seeded(suites, tmp_path, "first")
    printed = re.search(r"^Seed: (\d+) \(replay with --seed \1\)$", first.stdout, flags=re.M)
    assert printed, first.stdout
    seed = printed.group(1)
    summary = load_summary(latest_run(tmp_path / "first") / "summary.json")
    assert summary.selection["seed"] == seed and summary.seeds == [int(seed)]
    again, replayed = _seeded(suites, tmp_path, "again", "--seed", seed)
    assert f"Seed: {seed} " in again.stdout and replayed == drawn
    _, different = _seeded(suites, tmp_path, "other", "--seed", str((int(seed) + 1) % 2**32))
    assert different["examples"] != drawn["examples"] and different["ssid"] != drawn["ssid"]


@dataclass
class Interrupted:
    """A run stopped by SIGINT after a few verdicts: what the runner printed and left."""

    suites: Path
    reports: Path
    run_dir: Path
    returncode: int
    stopped_in_s: float
    stdout: str
    stderr: str
    summary: RunSummary


def _interrupt(tmp_path: Path) -> Interrupted:
    suites = write_suites(tmp_path / "suites", SLOW)
    reports = tmp_path / "reports"
    command = [str(PAIRCERT), "run", "--profile", "camera-strong", "--suites-dir", str(suites),
               "--report-dir", str(reports), "--no-progress"]
    env = {**os.environ, "RAN": str(tmp_path / "ran-1")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as runner:
        try:
            deadline = time.monotonic() + 60
            while len(_ran(tmp_path / "ran-1")) < 3 and runner.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert runner.poll() is None, "the run ended before it could be interrupted"
            runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
            sent = time.monotonic()
            out, err = runner.communicate(timeout=30)
            stopped_in = time.monotonic() - sent
        finally:
            if runner.poll() is None:
                runner.kill()
    run_dir = latest_run(reports)
    return Interrupted(suites, reports, run_dir, runner.returncode, stopped_in, out, err,
                       load_summary(run_dir / "summary.json"))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    return _interrupt(tmp_path_factory.mktemp("interrupted"))


def test_ctrl_c_stops_within_5_s_says_so_and_leaves_a_partial_report(interrupted: Interrupted) -> None:
    run = interrupted
    assert run.stopped_in_s < STOP_BUDGET_S, f"stopped {run.stopped_in_s:.1f} s after Ctrl-C"
    assert "stopping (Ctrl-C (SIGINT) received)" in run.stdout, run.stdout
    assert f"go on with paircert run --resume {run.run_dir}" in run.stderr, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    # the README's exit code of an interrupted run: 1 when a test already FAILed (else 3)
    summary = run.summary
    assert run.returncode == summary.exit_code == 1 and summary.interrupted and "SIGINT" in summary.interruption
    assert summary.counts["FAIL"] == 1 and 3 <= summary.counts["PASS"] < 30 and summary.not_run
    assert (run.run_dir / "report.html").is_file() and verify_manifest(run.run_dir).ok


def test_resume_runs_only_the_tests_without_a_verdict_into_the_same_report(interrupted: Interrupted,
                                                                          tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run_dir = reports / interrupted.run_dir.name
    shutil.copytree(interrupted.run_dir, run_dir, symlinks=True)
    before = {r.nodeid for r in interrupted.summary.results}
    done = run_paircert("run", "--resume", str(run_dir), "--no-progress", env={"RAN": str(tmp_path / "ran-2")},
                        timeout=120)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # the FAIL of the first part stands
    assert not [p for p in reports.iterdir() if p.name not in (run_dir.name, "latest") and not p.name.startswith(".")]
    summary = load_summary(run_dir / "summary.json")
    nodeids = [r.nodeid for r in summary.results]
    assert len(nodeids) == len(set(nodeids)) == 31 and not summary.not_run and not summary.interrupted
    assert summary.selection["resumed"] == "1" and summary.run_id == interrupted.summary.run_id
    ran_again = {f"test_slowly[{n}]" for n in _ran(tmp_path / "ran-2")}
    assert ran_again and not {n.rsplit("::", 1)[1] for n in before} & ran_again  # nothing decided ran again
    assert (run_dir / "junit-resumed-1.xml").is_file() and verify_manifest(run_dir).ok
    finished = run_paircert("run", "--resume", str(run_dir), "--no-progress", env={"RAN": str(tmp_path / "ran-3")})
    assert finished.returncode == 2 and "every test has a verdict" in finished.stderr


def test_rerun_failed_runs_the_fail_and_error_tests_again_as_a_new_run(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", FIXABLE)
    env = {"RAN": str(tmp_path / "ran"), "FIXED": str(tmp_path / "fixed")}
    first = _run(suites, tmp_path / "reports", env=env)
    first_dir = latest_run(tmp_path / "reports")
    assert first.returncode == 1 and load_summary(first_dir / "summary.json").counts["FAIL"] == 2
    (tmp_path / "fixed").touch()  # the lab fixed what broke
    (tmp_path / "ran").unlink()
    again = run_paircert("run", "--rerun-failed", str(first_dir), "--no-progress", env=env, timeout=120)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    second_dir = latest_run(tmp_path / "reports")
    summary = load_summary(second_dir / "summary.json")
    assert second_dir != first_dir and summary.selection["rerun_failed_of"] == first_dir.name
    assert sorted(_ran(tmp_path / "ran")) == ["broken-a", "broken-b"]  # not the test that had passed
    assert [(r.tc, r.verdict) for r in summary.results] == [("TC-QR-007", "PASS")] * 2
    nothing = run_paircert("run", "--rerun-failed", str(second_dir), "--no-progress", env=env)
    assert nothing.returncode == 2 and "no FAIL or ERROR" in nothing.stderr
