"""The summary of a load run: Locust's statistics per step and the invariants, as one plain-text table.

It reads what the master wrote into the run directory (Locust's ``locust_stats.csv`` and ``locust_failures.csv``,
and the invariants' JSON of :mod:`harness.load.collect`), so that a run can be summarised again later.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.load.launch import CSV_PREFIX, HTML, RESULTS

FAILURES_SHOWN = 8


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The invariants' JSON, or None when the master never wrote it (it did not get to the end)."""
    try:
        raw = json.loads((run_dir / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _number(row: Mapping[str, str], key: str) -> float:
    try:
        return float(row.get(key) or 0)
    except ValueError:
        return 0.0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = []
    for row in (header, *rows):
        cells = [str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=False))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def step_lines(run_dir: Path) -> list[str]:
    """One row per step Locust timed (type, name, requests, failures, median, 95th percentile, rate)."""
    rows = []
    for row in _read_csv(run_dir / f"{CSV_PREFIX}_stats.csv"):
        kind = row.get("Type") or "all"
        rows.append([kind, row.get("Name", ""), f"{_number(row, 'Request Count'):.0f}",
                     f"{_number(row, 'Failure Count'):.0f}", f"{_number(row, 'Median Response Time'):.0f}",
                     f"{_number(row, '95%'):.0f}", f"{_number(row, 'Requests/s'):.1f}"])
    if not rows:
        return ["  (Locust wrote no statistics)"]
    return _table(["type", "step", "requests", "failures", "median ms", "p95 ms", "per s"], rows)


def failure_lines(run_dir: Path) -> list[str]:
    failures = sorted(_read_csv(run_dir / f"{CSV_PREFIX}_failures.csv"),
                      key=lambda row: -_number(row, "Occurrences"))
    return [f"  {row.get('Method', '')} {row.get('Name', '')}: {row.get('Error', '')} "
            f"(x{_number(row, 'Occurrences'):.0f})" for row in failures[:FAILURES_SHOWN]]


def invariant_lines(results: Mapping[str, Any] | None) -> list[str]:
    if results is None:
        return ["  not judged: the run did not reach its end (see locust-master.log)"]
    rows = [[inv["name"], "", str(inv["checked"]), str(inv["broken"]), "holds" if inv["holds"] else "BROKEN"]
            for inv in results.get("invariants", [])]
    lines = _table(["invariant", "", "devices", "broken", ""], rows)
    for inv in results.get("invariants", []):
        lines += [f"    {inv['name']}: {example}" for example in inv.get("examples", [])]
        if inv.get("note"):
            lines.append(f"    {inv['name']}: {inv['note']}")
    for process in results.get("missing_processes", []):
        lines.append(f"  incomplete: process {process} never reported its devices")
    for process, error in sorted(results.get("errors", {}).items()):
        lines.append(f"  incomplete: process {process}: {error}")
    return lines


def device_line(results: Mapping[str, Any] | None) -> str:
    if results is None:
        return "devices: unknown"
    d = results.get("devices", {})
    return (f"devices: {d.get('devices', 0)} (at the end bound {d.get('expected bound', 0)}, unbound "
            f"{d.get('expected unbound', 0)}, undecided {d.get('expected unknown', 0)}); activations "
            f"{d.get('activations', 0)}, refused {d.get('refusals', 0)}, unanswered {d.get('unanswered', 0)}, "
            f"DP reports acknowledged {d.get('reports_total', 0)}, commands answered {d.get('commands', 0)}, "
            f"rebinds {d.get('rebinds', 0)}, resets {d.get('resets', 0)}")


def render(run_dir: Path, title: str) -> str:
    """The whole summary of the run in ``run_dir``."""
    results = read_results(run_dir)
    lines = [title, "", *step_lines(run_dir), ""]
    failures = failure_lines(run_dir)
    if failures:
        lines += ["failures (most frequent first):", *failures, ""]
    lines += [device_line(results), "", *invariant_lines(results), "",
              f"Locust's report: {run_dir / HTML}", f"run directory:   {run_dir}"]
    return "\n".join(lines) + "\n"


def exit_code(results: Mapping[str, Any] | None) -> int:
    """0: the invariants hold; 1: one is broken; 3: they could not be judged (the run did not finish, a process
    never reported)."""
    if results is None or not results.get("complete"):
        return 3  # a process's devices or rows are missing: a "lost" device may only be unlisted
    return 0 if results.get("holds") else 1


__all__ = ["exit_code", "read_results", "render"]
