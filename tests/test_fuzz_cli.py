"""``paircert fuzz``: a bounded campaign (counted, or timed), its saved failures, their exact replay, and the CRASH
verdict."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.fuzzing.campaign import Budget
from harness.fuzzing.cli import parse_budget, parse_duration


def fuzz(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["fuzz", "--json", *args], catch_exceptions=False)
    start = result.stdout.index("[")
    return result.exit_code, json.loads(result.stdout[start:])


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60.0), ("2m", 120.0), ("500ms", 0.5), ("7", 7.0)])
def test_budgets_are_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_budgets_are_named_and_counted_or_durations() -> None:
    ci = parse_budget("ci")
    assert ci.counted and ci.examples is not None and ci.derandomize and not ci.shrink
    assert parse_budget("default", examples=7, steps=3) == Budget(examples=7, steps=3)
    timed = parse_budget("90s", examples=50)
    assert timed.seconds == 90.0 and timed.examples == 50 and not timed.counted
    with pytest.raises(click.BadParameter, match="neither a budget"):
        parse_budget("huge")


def test_a_conformant_world_passes_its_counted_budget(tmp_path: Path) -> None:
    code, results = fuzz("--target", "atop", "--target", "ez", "--budget", "ci", "--examples", "6", "--seed", "3",
                         "--report-dir", str(tmp_path))
    assert code == 0, results
    assert [r["target"] for r in results] == ["atop", "ez"]
    assert all(r["verdict"] == "PASS" and r["examples"] == 6 for r in results), results


def test_a_wall_time_budget_ends_the_campaign_by_itself(tmp_path: Path) -> None:
    """An open-ended campaign (a duration) stops within it: generation, shrinking and the replay included."""
    code, results = fuzz("--target", "atop", "--budget", "3s", "--report-dir", str(tmp_path))
    assert code == 0 and results[0]["verdict"] == "PASS" and int(str(results[0]["examples"])) > 0, results
    assert float(str(results[0]["seconds"])) < 30.0  # 3 s asked: generous, for a machine that is very busy


def test_a_crash_gets_its_own_verdict_and_replays(tmp_path: Path) -> None:
    code, results = fuzz("--target", "qr", "--budget", "ci", "--examples", "60", "--report-dir", str(tmp_path),
                         "--fault", "crashes-on-long-ssid")
    assert code == 1
    assert results[0]["verdict"] == "CRASH"
    saved = Path(str(results[0]["failure_file"]))
    record = json.loads(saved.read_text())
    assert record["target"] == "qr" and record["device_faults"] == ["crashes-on-long-ssid"]
    assert record["case"]["kind"] == "qr-malformed" and record["last_inputs"]
    assert record["reproduce_blob"]["blob"].startswith("b")
    code, replayed = fuzz("--replay", str(saved))
    assert code == 1 and replayed[0]["verdict"] == "CRASH"


def test_a_random_campaign_keeps_its_example_database(tmp_path: Path) -> None:
    code, results = fuzz("--target", "atop", "--budget", "default", "--examples", "300", "--report-dir",
                         str(tmp_path), "--cloud-fault", "atop-500-on-malformed-body")
    assert code == 1 and results[0]["verdict"] == "FAIL", results
    assert (tmp_path / "hypothesis" / "atop").is_dir()  # the example database lives under the report dir


def test_a_stateful_failure_is_minimised_saved_and_replayed(tmp_path: Path) -> None:
    code, results = fuzz("--target", "stateful", "--budget", "default", "--examples", "40", "--steps", "10",
                         "--seed", "2", "--report-dir", str(tmp_path), "--cloud-fault", "token-reusable")
    assert code == 1 and results[0]["verdict"] == "FAIL", results
    saved = Path(str(results[0]["failure_file"]))
    record = json.loads(saved.read_text())
    assert record["reproduce_blob"] and any("token" in step for step in record["steps"])
    assert record["stateful_step_count"] == 10
    code, replayed = fuzz("--replay", str(saved))
    assert code == 1 and replayed[0]["verdict"] == "FAIL", replayed


def test_a_profile_without_the_mode_is_not_applicable(tmp_path: Path) -> None:
    code, results = fuzz("--target", "qr", "--profile", "plug-medium", "--budget", "ci", "--report-dir",
                         str(tmp_path))
    assert code == 0 and results[0]["verdict"] == "N/A"
