"""Run the benchmarks: ``python -m benchmarks [name ...]`` (``make bench`` runs them all).

Every module ``benchmarks/bench_<name>.py`` defines ``run() -> dict`` returning its measurements, including a
``budget`` entry, ``within_budget`` and ``measures``: rows of measure, value, budget and pass (None: reported
without a budget). Each benchmark's result is written as JSON to ``benchmarks/results/<name>.json`` as it
finishes; at the end one table of every row is printed, and written with the machine (CPU model, cores, load
average before and after) to ``benchmarks/results/summary.json``. A benchmark never fails the run for being slow:
it reports. One that crashes is a row that says so (and the exit status is 1).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks._common import load_average, machine, row

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def format_table(measures: list[dict[str, Any]]) -> list[str]:
    """Rows of benchmark, measure, value, budget and pass as aligned text lines."""
    rows = [("benchmark", "measure", "value", "budget", "pass")]
    rows += [(str(m.get("benchmark", "")), str(m["measure"]), str(m["value"]), str(m["budget"]),
              "-" if m["pass"] is None else ("yes" if m["pass"] else "NO")) for m in measures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, cells in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def _rows_of(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """A benchmark's rows, each naming it; a benchmark without rows gets one from its overall verdict."""
    rows = result.get("measures") or [row(name, "see JSON", str(result.get("budget", "report")),
                                          bool(result.get("within_budget")))]
    return [{"benchmark": name, **r} for r in rows]


def run_one(name: str) -> dict[str, Any]:
    started, load_before = time.time(), load_average()
    try:
        result = importlib.import_module(f"benchmarks.bench_{name}").run()
    except Exception as exc:  # a crashed benchmark is reported, and the others still run
        result = {"budget": "did not run", "within_budget": False, "error": traceback.format_exc(),
                  "measures": [row(name, f"crashed: {type(exc).__name__}: {str(exc)[:80]}", "-", False)]}
    result.setdefault("benchmark", name)
    result["machine"] = machine()
    result["started"] = started
    result["wall_s"] = round(time.time() - started, 1)
    result["load_average_before"] = load_before
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n",
                                          encoding="utf-8")
    return result


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    before = machine()
    measures: list[dict[str, Any]] = []
    crashed = False
    for name in names:
        print(f"== {name} ...", flush=True)
        result = run_one(name)
        crashed |= "error" in result
        rows = _rows_of(name, result)
        measures += rows
        print("\n".join("   " + line for line in format_table(rows)[2:]), flush=True)
    after = machine()
    summary = {"machine": before, "load_average_after": after["load_average"], "finished": time.time(),
               "benchmarks": names, "measures": measures}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print()
    print(f"{before['cpu_model'] or 'unknown CPU'}, {before['cpus']} cores, Python {before['python']}; "
          f"load average {before['load_average']} before, {after['load_average']} after")
    print("\n".join(format_table(measures)))
    print(f"written to {(RESULTS / 'summary.json').relative_to(HERE.parent)} and one JSON file per benchmark")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
