"""Reading what a pytest run reports as it goes: the plugin's ``results.jsonl`` and the runner's own events.

Two streams, both JSON lines appended while tests run:

- ``results.jsonl`` (written by :mod:`harness.plugin`): one record per finished test, with its TC id, requirement
  ids, verdict, duration, nodeid, message and evidence path. It is the authority on verdicts.
- ``events.jsonl`` (written by :mod:`harness.report.sink` in pytest's controller process): what was collected,
  what started, and pytest's own reports. It tells the live display what is running, and gives a verdict for a
  test the plugin never recorded (a run that died mid-test, a plugin that is not there).

Readers are tolerant: a half-written last line is kept for the next poll, a line that is not JSON is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.conformance.verdicts import Verdict, worst
from harness.report.summary import VERDICT_ORDER, TestCaseResult

RESULTS_FILE = "results.jsonl"
EVENTS_FILE = "events.jsonl"

_TC_AREA = re.compile(r"^TC-([A-Z0-9]+)-")
_FILE_AREA = re.compile(r"(?:^|/)test_([a-z0-9]+)[^/]*\.py")
_MAX_BYTES_PER_POLL = 4 * 1024 * 1024


class JsonlTail:
    """Follows a JSON-lines file that another process appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        """The records appended since the last poll (at most a few MB per call; the rest next time)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read(_MAX_BYTES_PER_POLL)
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        records: list[dict[str, Any]] = []
        for line in lines:
            record = _parse(line)
            if record is not None:
                records.append(record)
        return records

    def drain(self) -> list[dict[str, Any]]:
        """Everything left, including a last line without its newline."""
        records: list[dict[str, Any]] = []
        for _ in range(10_000):  # bounded: each round reads up to a few MB
            batch = self.poll()
            if not batch:
                break
            records.extend(batch)
        if self._partial:
            record = _parse(self._partial)
            self._partial = b""
            if record is not None:
                records.append(record)
        return records


def _parse(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        value = json.loads(line.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def area_of(tc: str, nodeid: str = "") -> str:
    """A test's area: from its TC id (``TC-TOKEN-002`` is ``token``), else its file (``test_qr_*.py``)."""
    match = _TC_AREA.match(tc)
    if match:
        return match.group(1).lower()
    match = _FILE_AREA.search(nodeid.split("::", 1)[0])
    return match.group(1) if match else "other"


def _first(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in record and record[key] is not None:
            return record[key]
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _relative(path: Any, run_dir: Path | None) -> str | None:
    if not path:
        return None
    candidate = Path(str(path))
    if run_dir is not None and candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(run_dir.resolve()).as_posix()
        except ValueError:
            return str(candidate)
    return candidate.as_posix()


def result_from_record(record: Mapping[str, Any], run_dir: Path | None = None) -> TestCaseResult | None:
    """A :class:`TestCaseResult` from a ``results.jsonl`` record, or None when it is not a test's result."""
    verdict = _first(record, "verdict")
    nodeid = str(_first(record, "nodeid", "node_id") or "")
    tc = str(_first(record, "tc", "tc_id", "id") or nodeid)
    if verdict not in VERDICT_ORDER or not tc:
        return None
    duration = _first(record, "duration_s", "duration")
    return TestCaseResult(
        tc=tc,
        verdict=str(verdict),
        nodeid=nodeid,
        area=str(_first(record, "area") or area_of(tc, nodeid)),
        duration_s=round(float(duration), 4) if isinstance(duration, int | float) else 0.0,
        requirements=_as_list(_first(record, "requirements", "reqs", "requirement_ids")),
        message=str(_first(record, "message", "reason") or ""),
        evidence=_relative(_first(record, "evidence", "evidence_path", "evidence_dir"), run_dir),
        worker=_first(record, "worker", "worker_id"),
        title=str(_first(record, "title") or ""),
    )


@dataclass
class _Pending:
    """pytest's reports for one nodeid, for a verdict when the plugin recorded none."""

    nodeid: str
    worker: str | None = None
    duration_s: float = 0.0
    verdict: str | None = None
    message: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


def _fallback_verdict(when: str, outcome: str) -> str | None:
    if outcome == "skipped":
        return "N/A"
    if outcome == "failed":
        return "FAIL" if when == "call" else "ERROR"
    if outcome == "passed" and when == "call":
        return "PASS"
    return None


class RunState:
    """What is known about a running (or finished) pytest run, fed from both streams."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.results_tail = JsonlTail(run_dir / RESULTS_FILE)
        self.events_tail = JsonlTail(run_dir / EVENTS_FILE)
        self.collected: list[str] = []
        self.running: dict[str, str | None] = {}  # nodeid -> worker
        self.results: dict[str, TestCaseResult] = {}  # by nodeid (or tc when no nodeid), from the plugin
        self.world: list[dict[str, Any]] = []
        self.finished_events: dict[str, _Pending] = {}
        self.session_done = False
        self.exitstatus: Any = None

    def update(self, *, final: bool = False) -> list[TestCaseResult]:
        """Read both streams; the test results that became known, in order."""
        new: list[TestCaseResult] = []
        events = self.events_tail.drain() if final else self.events_tail.poll()
        records = self.results_tail.drain() if final else self.results_tail.poll()
        for event in events:
            self._on_event(event)
        for record in records:
            if isinstance(record.get("world"), dict):
                self.world.append(record["world"])
                continue
            result = result_from_record(record, self.run_dir)
            if result is None:
                continue
            key = result.nodeid or result.tc
            self.results[key] = result
            self.running.pop(result.nodeid, None)
            new.append(result)
        return new

    def _on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        nodeid = str(event.get("nodeid", ""))
        if kind == "session_finish":
            self.exitstatus = event.get("exitstatus")
        if kind == "collected":
            self.collected = [str(n) for n in event.get("nodeids", [])]
        elif kind == "start" and nodeid:
            self.running[nodeid] = event.get("worker")
        elif kind == "finish" and nodeid:
            self.running.pop(nodeid, None)
        elif kind == "report" and nodeid:
            self._on_report(nodeid, event)
        elif kind == "collect_error":
            node = nodeid or "<collection>"
            self.results[node] = TestCaseResult(tc=node, verdict="ERROR", nodeid=node, area=area_of("", node),
                                                message=f"collection failed: {event.get('message', '')}")
        elif kind == "session_finish":
            self.session_done = True

    def _on_report(self, nodeid: str, event: Mapping[str, Any]) -> None:
        """One of pytest's reports (setup, call, teardown): what it adds to the test's fallback verdict."""
        pending = self.finished_events.setdefault(nodeid, _Pending(nodeid))
        pending.worker = event.get("worker") or pending.worker
        duration = event.get("duration")
        pending.duration_s += float(duration) if isinstance(duration, int | float) else 0.0
        props = event.get("user_properties")
        if isinstance(props, dict):
            pending.properties.update(props)
        verdict = _fallback_verdict(str(event.get("when")), str(event.get("outcome")))
        if verdict is not None:
            combined = worst(Verdict(v) for v in (pending.verdict, verdict) if v).value
            if combined != pending.verdict:
                pending.verdict = combined
                pending.message = "" if combined == "PASS" else str(event.get("message", ""))

    def merged(self) -> list[TestCaseResult]:
        """Every finished test: the plugin's record where there is one, else a verdict from pytest's reports."""
        merged = dict(self.results)
        known_nodeids = {r.nodeid for r in self.results.values()}
        for nodeid, pending in self.finished_events.items():
            if nodeid in known_nodeids or pending.verdict is None:
                continue
            record = {**pending.properties, "nodeid": nodeid}
            record.setdefault("verdict", pending.verdict)
            record.setdefault("duration_s", pending.duration_s)
            record.setdefault("message", pending.message)
            record.setdefault("worker", pending.worker)
            result = result_from_record(record, self.run_dir)
            if result is not None:
                merged[nodeid] = result
        return sorted(merged.values(), key=lambda r: (r.area, r.tc, r.nodeid))

    def not_run(self) -> list[str]:
        """Collected tests with no verdict (the run stopped before them)."""
        done = {r.nodeid for r in self.merged()}
        return [n for n in self.collected if n not in done]


WORLDS_FILE = "worlds.jsonl"


def iter_worlds(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The worlds the run built (``World.info()`` with the xdist worker id), from the plugin's ``worlds.jsonl``."""
    for record in JsonlTail(run_dir / WORLDS_FILE).drain():
        info = record.get("info")
        if isinstance(info, dict):
            yield {**info, "worker": record.get("worker")}


__all__ = [
    "EVENTS_FILE",
    "RESULTS_FILE",
    "WORLDS_FILE",
    "JsonlTail",
    "RunState",
    "area_of",
    "iter_worlds",
    "result_from_record",
]
