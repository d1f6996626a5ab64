"""Run the benchmarks: ``python -m benchmarks [name ...]``.

Every module ``benchmarks/bench_<name>.py`` defines ``run() -> dict`` returning its measurements,
including a ``budget`` entry and ``within_budget``, and optionally ``measures``: rows of measure, value, budget and
pass, printed as a table. Results are printed and written as JSON to
``benchmarks/results/<name>.json``. A benchmark never fails the run for being slow: it reports.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def print_measures(measures: list[dict[str, object]]) -> None:
    """A benchmark's ``measures`` (dicts of measure, value, budget, pass) as a table; pass None: no budget."""
    if not measures:
        return
    rows = [("measure", "value", "budget", "pass")]
    rows += [(str(m["measure"]), str(m["value"]), str(m["budget"]),
              "-" if m["pass"] is None else ("yes" if m["pass"] else "NO")) for m in measures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        print("   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("   " + "  ".join("-" * width for width in widths))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.time()
        result = module.run()
        result.setdefault("benchmark", name)
        result["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
        result["started"] = started
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        verdict = "within budget" if result.get("within_budget") else "OVER BUDGET"
        print(f"== {name}: {verdict} ({result.get('budget', 'no budget')})")
        for key, value in result.items():
            if key not in {"benchmark", "machine", "started", "budget", "within_budget", "measures"}:
                print(f"   {key}: {value}")
        print_measures(result.get("measures", []))
        print(f"   written to {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
