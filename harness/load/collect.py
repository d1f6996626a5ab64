"""The end of a load run: each process's account of its devices, and the master's judgement of the invariants.

When the devices stop, every process that ran some (a Locust worker, or a lone local process) lists its home's
devices on the cloud until they agree with its ledgers or ``settle_s`` passes (the broker has acknowledged reports
the cloud may not have recorded yet), and hands a :class:`ProcessReport` to the master. The master puts every
process's ledgers and rows together (so a device listed in two processes' homes shows as duplicated), checks the
invariants of :mod:`harness.load.ledger` once over all of them, and writes the outcome as JSON for the summary.
A process that never reported leaves the run incomplete: its devices' invariants cannot be judged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.adapters.contracts import AdapterError
from harness.errors import HarnessError
from harness.load.ledger import SEQ_DP, DeviceLedger, check_invariants, tally

POLL_S = 0.25


class DeviceLister(Protocol):
    def rows(self) -> list[Mapping[str, Any]]: ...


@dataclass
class ProcessReport:
    """One process's devices at the end of a run: their ledgers and the cloud's rows of its home (slimmed to what
    the invariants read), or why the rows could not be had. Plain JSON types: it crosses Locust's channel."""

    process: str
    ledgers: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    settled: bool = False
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProcessReport:
        return cls(process=str(raw.get("process", "")), ledgers=list(raw.get("ledgers", [])),
                   rows=list(raw.get("rows", [])), settled=bool(raw.get("settled")), error=str(raw.get("error", "")))


def slim_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The members of a cloud device record the invariants read: ids, home, the run's DP, activations, reports."""
    dps = row.get("dps") if isinstance(row.get("dps"), Mapping) else {}
    if not isinstance(dps, Mapping):
        raise HarnessError("broken invariant: isinstance(dps, Mapping)")
    history = row.get("history") if isinstance(row.get("history"), list) else None
    slim: dict[str, Any] = {"devId": row.get("devId"), "uuid": row.get("uuid"), "home": row.get("home"),
                            "dps": {SEQ_DP: dps[SEQ_DP]} if SEQ_DP in dps else {}, "reports": row.get("reports")}
    if isinstance(row.get("activations"), int):
        slim["activations"] = row["activations"]
    if history is not None:
        slim["history"] = [{"event": "activated"} for event in history
                           if isinstance(event, Mapping) and event.get("event") == "activated"]
    return slim


def settle(process: str, app: DeviceLister | None, ledgers: Sequence[DeviceLedger], settle_s: float) -> ProcessReport:
    """List the home until the invariants hold for this process's devices or ``settle_s`` passes (bounded)."""
    report = ProcessReport(process, ledgers=[ledger.to_json() for ledger in ledgers])
    if app is None:
        report.settled = not ledgers  # no device ever got as far as the app: nothing to list
        report.error = "" if not ledgers else "the process has devices but no app user"
        return report
    deadline = time.monotonic() + settle_s
    while True:
        try:
            rows = app.rows()
        except AdapterError as exc:
            report.error = f"the cloud did not list the home's devices: {exc}"
            return report
        report.rows = [slim_row(row) for row in rows]
        report.settled = all(inv.holds for inv in check_invariants(ledgers, rows))
        if report.settled or time.monotonic() >= deadline:
            return report
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


def judge(reports: Iterable[ProcessReport], expected: Iterable[str] = ()) -> dict[str, Any]:
    """The run's outcome: the invariants over every process's devices, the device counts, and which processes
    did not report (``expected`` names the ones that took part)."""
    reports = list(reports)
    ledgers = [DeviceLedger.from_json(raw) for report in reports for raw in report.ledgers]
    rows = [row for report in reports for row in report.rows]
    invariants = check_invariants(ledgers, rows)
    missing = sorted(set(expected) - {report.process for report in reports})
    errors = {report.process: report.error for report in reports if report.error}
    if not ledgers and not missing:
        errors["run"] = "no device got a licence: nothing was checked (see the processes' logs)"
    complete = not missing and not errors
    return {
        "complete": complete,
        "holds": complete and all(inv.holds for inv in invariants),
        "invariants": [inv.to_json() for inv in invariants],
        "devices": tally(ledgers),
        "processes": {report.process: {"devices": len(report.ledgers), "settled": report.settled}
                      for report in reports},
        "missing_processes": missing,
        "errors": errors,
    }


def write_results(path: str, results: Mapping[str, Any]) -> None:
    """The outcome as JSON at ``path`` (written whole, then renamed: a reader never sees half of it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    partial.replace(target)


__all__ = ["ProcessReport", "judge", "settle", "slim_row", "write_results"]
