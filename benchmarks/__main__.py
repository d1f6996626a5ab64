"""Run the benchmarks: ``python -m benchmarks [name ...]``.

Every module ``benchmarks/bench_<name>.py`` defines ``run() -> dict`` returning its measurements,
including a ``budget`` entry and ``within_budget``. Results are printed and written as JSON to
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
            if key not in {"benchmark", "machine", "started", "budget", "within_budget"}:
                print(f"   {key}: {value}")
        print(f"   written to {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
