"""``paircert fuzz``: a bounded campaign, its saved failures, their exact replay, and the CRASH verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.fuzzing.cli import parse_duration


def fuzz(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["fuzz", "--json", *args], catch_exceptions=False)
    start = result.stdout.index("[")
    return result.exit_code, json.loads(result.stdout[start:])


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60.0), ("2m", 120.0), ("500ms", 0.5), ("7", 7.0)])
def test_budgets_are_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_conformant_world_passes_within_the_budget(tmp_path: Path) -> None:
    started = time.monotonic()
    code, results = fuzz("--target", "atop", "--target", "ez", "--budget", "6s", "--seed", "3",
                         "--report-dir", str(tmp_path))
    assert time.monotonic() - started < 9
    assert code == 0, results
    assert [r["target"] for r in results] == ["atop", "ez"]
    assert all(r["verdict"] == "PASS" and int(str(r["examples"])) > 0 for r in results)


def test_a_crash_gets_its_own_verdict_and_replays(tmp_path: Path) -> None:
    code, results = fuzz("--target", "qr", "--budget", "8s", "--report-dir", str(tmp_path),
                         "--fault", "crashes-on-long-ssid")
    assert code == 1
    assert results[0]["verdict"] == "CRASH"
    saved = Path(str(results[0]["failure_file"]))
    record = json.loads(saved.read_text())
    assert record["target"] == "qr" and record["device_faults"] == ["crashes-on-long-ssid"]
    assert record["case"]["kind"] == "qr-malformed" and record["last_inputs"]
    assert record["reproduce_blob"]["blob"].startswith("b")
    assert (tmp_path / "hypothesis" / "qr").is_dir()  # the example database lives under the report dir
    code, replayed = fuzz("--replay", str(saved))
    assert code == 1 and replayed[0]["verdict"] == "CRASH"


def test_a_stateful_failure_is_minimised_saved_and_replayed(tmp_path: Path) -> None:
    code, results = fuzz("--target", "stateful", "--budget", "12s", "--seed", "2", "--report-dir", str(tmp_path),
                         "--cloud-fault", "token-reusable")
    assert code == 1 and results[0]["verdict"] == "FAIL", results
    saved = Path(str(results[0]["failure_file"]))
    record = json.loads(saved.read_text())
    assert record["reproduce_blob"] and any("token" in step for step in record["steps"])
    code, replayed = fuzz("--replay", str(saved))
    assert code == 1 and replayed[0]["verdict"] == "FAIL", replayed


def test_a_profile_without_the_mode_is_not_applicable(tmp_path: Path) -> None:
    code, results = fuzz("--target", "qr", "--profile", "plug-medium", "--budget", "3s", "--report-dir",
                         str(tmp_path))
    assert code == 0 and results[0]["verdict"] == "N/A"
