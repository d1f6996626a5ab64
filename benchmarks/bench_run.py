"""Wall time of ``paircert run --profile camera-strong`` with the CI fuzz budget, ``-n auto`` against ``-n 1``.

DESIGN.md: ``-n auto`` at most 30 s on 2 cores, and at least 1.7x faster than ``-n 1``; the two are run side by
side (``-n 1`` then ``-n auto``, ``PAIRCERT_BENCH_RUN_PAIRS`` pairs, two by default) and the speed-up is the median
of the paired ratios.

The whole command as a user runs it (``make demo``): profile validation, the pytest subprocess with the plugin
and every bundled suite, the summary, the HTML report, the secret sweep and the manifest, into a temporary
report directory. Reports the wall time, the verdict counts and the run's exit code; a FAIL in the suites does
not make the measurement invalid (the budget is about time), but a run that did not finish does.
Run it alone with ``python -m benchmarks run`` (or ``python -m benchmarks.bench_run``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import load_average, median_ratio, paired, row

BUDGET_S = 30.0
BUDGET_SPEEDUP = 1.7
PAIRS = int(os.environ.get("PAIRCERT_BENCH_RUN_PAIRS", "2"))  # each pair is two whole runs: a minute or more
PROFILE = "camera-strong"
TIMEOUT_S = 600


def _paircert() -> list[str]:
    script = Path(sys.executable).parent / "paircert"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from harness.cli import main; main()"]


def _one_run(workers: str) -> dict[str, Any]:
    """One ``paircert run`` with ``-n workers`` into a temporary report directory: its wall time and outcome."""
    with tempfile.TemporaryDirectory(prefix="paircert-bench-run-") as tmp:
        reports = Path(tmp) / "reports"
        command = [*_paircert(), "run", "--profile", PROFILE, "--fuzz-budget", "ci", "--report-dir", str(reports),
                   "--no-progress", "-n", workers]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                              env={**os.environ, "PAIRCERT_FUZZ_BUDGET": "ci"})
        wall_s = time.perf_counter() - started
        summary_path = reports / "latest" / "summary.json"
        summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    finished = bool(summary) and not summary.get("interrupted", True) and done.returncode in (0, 1, 3)
    return {"workers": workers, "wall_s": round(wall_s, 2), "pytest_s": summary.get("duration_s"),
            "exit_code": done.returncode, "tests": len(summary.get("results", [])), "counts": summary.get("counts", {}),
            "finished": finished, "load_average_after": load_average(),
            "stderr_tail": done.stderr.strip().splitlines()[-3:] if not finished else []}


def run() -> dict[str, Any]:
    serial, parallel = paired(lambda: _one_run("1"), lambda: _one_run("auto"), PAIRS)
    finished = all(r["finished"] for r in serial + parallel)
    wall = statistics.median(r["wall_s"] for r in parallel)
    speedup = median_ratio([r["wall_s"] for r in serial], [r["wall_s"] for r in parallel])
    fast_enough, scales = finished and wall <= BUDGET_S, finished and speedup >= BUDGET_SPEEDUP
    return {
        "budget": f"paircert run --profile {PROFILE} --fuzz-budget ci -n auto: at most {BUDGET_S:.0f} s on 2 cores, "
                  f"and at least {BUDGET_SPEEDUP}x faster than -n 1 (median of paired ratios)",
        "within_budget": fast_enough and scales,
        "serial_runs": serial,
        "parallel_runs": parallel,
        "cpus": os.cpu_count(),
        "measures": [
            row(f"paircert run --profile {PROFILE} -n auto, wall (median)", f"{wall:.1f} s"
                + ("" if finished else " (a run did not finish)"), f"<= {BUDGET_S:.0f} s", fast_enough),
            row(f"paircert run --profile {PROFILE} -n 1, wall (median)",
                f"{statistics.median(r['wall_s'] for r in serial):.1f} s", "report", None),
            row("-n 1 / -n auto wall time (median of paired ratios)", f"{speedup:.2f}x", f">= {BUDGET_SPEEDUP}x",
                scales),
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
