"""``summary.json``: what a run tested, with what, and every test case's verdict (DESIGN.md "Verdicts").

The summary is the one source the HTML report is rendered from, so ``paircert report`` can re-render a run
long after it ended. :class:`RunSummary` is the schema: :func:`load_summary` validates a file against it and
names the offending field, :meth:`RunSummary.save` writes it atomically. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.conformance.verdicts import Verdict, exit_status, worst

SCHEMA_VERSION = 1
SUMMARY_FILE = "summary.json"

#: The verdicts in the order reports show them.
VERDICT_ORDER: tuple[str, ...] = ("PASS", "FAIL", "ERROR", "N/A", "INCONCLUSIVE")


class SummaryError(Exception):
    """A summary file is unreadable or breaks the schema; the message names the file and the field."""


@dataclass
class TestCaseResult:
    """One test's verdict. ``tc`` is its TC id (the nodeid when the test carries none)."""

    tc: str
    verdict: str
    nodeid: str = ""
    area: str = "other"
    duration_s: float = 0.0
    requirements: list[str] = field(default_factory=list)
    message: str = ""
    evidence: str | None = None  # relative to the run directory
    worker: str | None = None
    title: str = ""  # the TC's human title (harness.conformance.titles)


@dataclass
class RunSummary:
    """Everything ``report.html`` shows. Field names are the JSON keys."""

    run_id: str
    profile: dict[str, Any]
    harness_version: str
    started_at: str
    ended_at: str | None = None
    schema_version: int = SCHEMA_VERSION
    duration_s: float = 0.0
    adapters: dict[str, Any] = field(default_factory=dict)
    firmware: str = ""
    seeds: list[int] = field(default_factory=list)
    suite_version: str = ""
    suites: list[str] = field(default_factory=list)
    selection: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    results: list[TestCaseResult] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    verdict: str = "PASS"
    interrupted: bool = False
    interruption: str = ""
    exit_code: int = 0
    comparison: dict[str, Any] = field(default_factory=dict)  # with the previous run (harness.report.compare)

    def finish(self, *, interrupted: bool = False, reason: str = "") -> None:
        """Compute the counts, the overall verdict and the exit code from the results.

        An interrupted run never exits 0: it is 1 when something already FAILed, else 3 (the run did not
        complete, which is the lab's problem and not the device's).
        """
        self.counts = count_verdicts(r.verdict for r in self.results)
        verdicts = [Verdict(r.verdict) for r in self.results]
        self.interrupted = interrupted
        self.interruption = reason if interrupted else ""
        code = exit_status(verdicts)
        if interrupted and code == 0:
            code = 3
        self.exit_code = code
        # N/A does not lower a certificate: PASS with some N/A is PASS; only all N/A is N/A.
        applicable = [v for v in verdicts if v is not Verdict.NA]
        overall = worst(applicable) if applicable else Verdict.NA
        if interrupted and overall not in (Verdict.FAIL, Verdict.ERROR):
            overall = Verdict.ERROR
        self.verdict = overall.value if self.results or interrupted else "ERROR"

    def by_area(self) -> dict[str, list[TestCaseResult]]:
        """The results grouped by area, areas sorted, results in TC order."""
        groups: dict[str, list[TestCaseResult]] = {}
        for result in sorted(self.results, key=lambda r: (r.area, r.tc, r.nodeid)):
            groups.setdefault(result.area, []).append(result)
        return groups

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        """Write the summary atomically (a reader never sees half a file)."""
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False, sort_keys=False) + "\n"
        atomic_write_text(path, text)


def count_verdicts(verdicts: Iterable[str]) -> dict[str, int]:
    """How many of each verdict, every verdict present (0 when none)."""
    counter = Counter(verdicts)
    return {v: counter.get(v, 0) for v in VERDICT_ORDER}


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename.

    ``mode``: 0644 for what holds no secret (a report written from redacted data), 0600 for what does.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- validation ---------------------------------------------------------------------------------------------

_SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,), "profile": (dict,), "harness_version": (str,), "started_at": (str,),
    "ended_at": (str, type(None)), "schema_version": (int,), "duration_s": (int, float), "adapters": (dict,),
    "firmware": (str,), "seeds": (list,), "suite_version": (str,), "suites": (list,), "selection": (dict,),
    "environment": (dict,), "results": (list,), "not_run": (list,), "counts": (dict,), "verdict": (str,),
    "interrupted": (bool,), "interruption": (str,), "exit_code": (int,), "comparison": (dict,),
}
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "tc": (str,), "verdict": (str,), "nodeid": (str,), "area": (str,), "duration_s": (int, float),
    "requirements": (list,), "message": (str,), "evidence": (str, type(None)), "worker": (str, type(None)),
    "title": (str,),
}
_REQUIRED = ("run_id", "profile", "harness_version", "started_at")


def _check(data: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], where: str) -> None:
    for key, value in data.items():
        if key not in types:
            raise SummaryError(f"{where}: unknown field {key!r}")
        expected = types[key]
        if isinstance(value, bool) and bool not in expected:
            raise SummaryError(f"{where}.{key}: expected {' or '.join(t.__name__ for t in expected)}, got bool")
        if not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise SummaryError(f"{where}.{key}: expected {names}, got {type(value).__name__}")


def summary_from_json(data: Any, *, source: str = SUMMARY_FILE) -> RunSummary:
    """Validate a parsed summary and build it; :class:`SummaryError` names the field that is wrong."""
    if not isinstance(data, dict):
        raise SummaryError(f"{source}: expected a JSON object")
    _check(data, _SUMMARY_TYPES, source)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise SummaryError(f"{source}: missing field(s) {', '.join(missing)}")
    if data.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
        raise SummaryError(f"{source}.schema_version: {data['schema_version']} is newer than this paircert "
                           f"understands ({SCHEMA_VERSION})")
    results: list[TestCaseResult] = []
    for index, raw in enumerate(data.get("results", [])):
        where = f"{source}.results[{index}]"
        if not isinstance(raw, dict):
            raise SummaryError(f"{where}: expected an object")
        _check(raw, _RESULT_TYPES, where)
        if "tc" not in raw or "verdict" not in raw:
            raise SummaryError(f"{where}: missing field tc or verdict")
        if raw["verdict"] not in VERDICT_ORDER:
            raise SummaryError(f"{where}.verdict: expected one of {', '.join(VERDICT_ORDER)}, got {raw['verdict']!r}")
        results.append(TestCaseResult(**raw))
    fields = {key: value for key, value in data.items() if key != "results"}
    return RunSummary(results=results, **fields)


def load_summary(path: Path) -> RunSummary:
    """Read and validate ``summary.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{path}: no such file (is this a paircert run directory?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: cannot read: {exc}") from None
    return summary_from_json(data, source=str(path))


__all__ = [
    "SCHEMA_VERSION",
    "SUMMARY_FILE",
    "VERDICT_ORDER",
    "RunSummary",
    "SummaryError",
    "TestCaseResult",
    "atomic_write_text",
    "count_verdicts",
    "load_summary",
    "summary_from_json",
]
