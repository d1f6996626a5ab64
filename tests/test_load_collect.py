"""The end of a load run without a cloud: how a process settles with its home's list, how the master judges
every process's account, what the summary and exit code say, and the run settings' way to Locust and back."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.contracts import AdapterError
from harness.load.collect import ProcessReport, judge, settle, slim_row, write_results
from harness.load.ledger import SEQ_DP, DeviceLedger
from harness.load.settings import RunSettings, add_locust_arguments
from harness.load.summary import exit_code, read_results, render


def bound(uuid: str, seq: int = 3) -> DeviceLedger:
    return DeviceLedger(uuid=uuid, expected="bound", dev_id=f"dev-{uuid}", home="h1", activations=1,
                        reports_acked=seq, last_seq=seq, sent_seq=seq)


def row(ledger: DeviceLedger, seq: int | None = None, reports: int = 3) -> dict[str, Any]:
    return {"devId": ledger.dev_id, "uuid": ledger.uuid, "home": ledger.home, "reports": reports,
            "dps": {SEQ_DP: ledger.last_seq if seq is None else seq, "101": True},
            "history": [{"event": "activated", "at": 1.0}, {"event": "removed", "at": 2.0}]}


class Lister:
    """A home whose list catches up with the devices after ``stale`` calls (the cloud recording late reports)."""

    def __init__(self, ledgers: list[DeviceLedger], stale: int, fail: bool = False) -> None:
        self.ledgers, self.stale, self.fail, self.calls = ledgers, stale, fail, 0

    def rows(self) -> list[Mapping[str, Any]]:
        self.calls += 1
        if self.fail:
            raise AdapterError("the remote cloud at https://lab is unreachable (GET)")
        return [row(ledger, seq=1 if self.calls <= self.stale else None) for ledger in self.ledgers]


def test_a_process_settles_once_the_cloud_has_recorded_what_was_acknowledged() -> None:
    ledgers = [bound("a"), bound("b")]
    lister = Lister(ledgers, stale=2)
    report = settle("w1", lister, ledgers, settle_s=10.0)
    assert report.settled and lister.calls == 3 and not report.error
    assert report.rows[0] == {"devId": "dev-a", "uuid": "a", "home": "h1", "dps": {SEQ_DP: 3}, "reports": 3,
                              "history": [{"event": "activated"}]}
    assert all(inv["holds"] for inv in judge([report], ["w1"])["invariants"])


def test_settling_is_bounded_and_a_cloud_that_never_catches_up_is_judged_broken() -> None:
    ledgers = [bound("a")]
    report = settle("w1", Lister(ledgers, stale=10**6), ledgers, settle_s=0.3)
    assert not report.settled
    outcome = judge([report], ["w1"])
    assert outcome["complete"] and not outcome["holds"] and exit_code(outcome) == 1


def test_an_unreachable_cloud_or_a_silent_process_leaves_the_run_unjudged(tmp_path: Path) -> None:
    ledgers = [bound("a")]
    lost = settle("w1", Lister(ledgers, stale=0, fail=True), ledgers, settle_s=1.0)
    assert "unreachable" in lost.error
    outcome = judge([lost], ["w1"])
    assert not outcome["complete"] and exit_code(outcome) == 3  # not "lost": the rows are missing, not the devices
    silent = judge([settle("w1", Lister(ledgers, stale=0), ledgers, 1.0)], ["w1", "w2"])
    assert silent["missing_processes"] == ["w2"] and exit_code(silent) == 3
    empty = judge([ProcessReport("local")], ["local"])
    assert not empty["complete"] and "no device got a licence" in empty["errors"]["run"]
    write_results(str(tmp_path / "invariants.json"), silent)
    assert read_results(tmp_path) == silent
    text = render(tmp_path, "title")
    assert "incomplete: process w2 never reported its devices" in text and "(Locust wrote no statistics)" in text


def test_duplicates_across_processes_and_strangers_are_caught() -> None:
    a, b = bound("a"), bound("b")
    first = ProcessReport("w1", ledgers=[a.to_json()], rows=[slim_row(row(a))])
    second = ProcessReport("w2", ledgers=[b.to_json()], rows=[slim_row(row(b)), slim_row(row(a)),
                                                            {**slim_row(row(b)), "uuid": "x", "devId": "dev-x"}])
    outcome = judge([first, second], ["w1", "w2"])
    broken = {inv["name"]: inv for inv in outcome["invariants"] if not inv["holds"]}
    assert set(broken) == {"bound exactly once", "no device lost or duplicated"}
    assert any("listed 2 times" in e for e in broken["bound exactly once"]["examples"])
    assert any("no device of the run" in e for e in broken["no device lost or duplicated"]["examples"])
    assert exit_code(outcome) == 1 and exit_code(None) == 3


class _Parser(argparse.ArgumentParser):
    """Locust's parser takes include_in_web_ui; a plain argparse parser standing in for it drops it."""

    def add_argument(self, *args: Any, include_in_web_ui: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        assert not args[0].startswith("--paircert-") or include_in_web_ui is False, args
        return super().add_argument(*args, **kwargs)


def test_run_settings_go_to_locust_and_back() -> None:
    settings = RunSettings(duration_s=7.5, report_every_s=0.25, rebind_weight=3, reset_weight=1, settle_s=0.0,
                           activation_api="opensdk", mqtt_pv="2.3", results="/tmp/x.json")
    parser = _Parser()
    add_locust_arguments(parser)
    assert RunSettings.from_options(parser.parse_args(settings.locust_args())) == settings
    assert RunSettings.from_options(parser.parse_args([])) == RunSettings()
    with pytest.raises(ValueError, match="weights"):
        RunSettings(report_weight=0, command_weight=0)
    with pytest.raises(ValueError, match="activation API"):
        RunSettings(activation_api="v9")
