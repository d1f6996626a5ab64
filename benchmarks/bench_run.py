"""Wall time of ``paircert run --profile camera-strong`` with the CI fuzz budget (DESIGN.md: at most 30 s, 2 cores).

The whole command as a user runs it (``make demo``): profile validation, the pytest subprocess with the plugin
and every bundled suite, the summary, the HTML report, the secret sweep and the manifest, into a temporary
report directory. Reports the wall time, the verdict counts and the run's exit code; a FAIL in the suites does
not make the measurement invalid (the budget is about time), but a run that did not finish does.
Run it alone with ``python -m benchmarks run`` (or ``python -m benchmarks.bench_run``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUDGET_S = 30.0
PROFILE = "camera-strong"
TIMEOUT_S = 600


def _paircert() -> list[str]:
    script = Path(sys.executable).parent / "paircert"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from harness.cli import main; main()"]


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="paircert-bench-run-") as tmp:
        reports = Path(tmp) / "reports"
        # "on 2 cores": the run spreads over both with pytest-xdist, one emulated world per worker
        command = [*_paircert(), "run", "--profile", PROFILE, "--fuzz-budget", "ci", "--report-dir", str(reports),
                   "--no-progress", "-n", "auto"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                              env={**os.environ, "PAIRCERT_FUZZ_BUDGET": "ci"})
        wall_s = time.perf_counter() - started
        summary_path = reports / "latest" / "summary.json"
        summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    finished = bool(summary) and not summary.get("interrupted", True) and done.returncode in (0, 1, 3)
    return {
        "budget": f"paircert run --profile {PROFILE} --fuzz-budget ci -n auto: at most {BUDGET_S:.0f} s on 2 cores",
        "wall_s": round(wall_s, 2),
        "pytest_s": summary.get("duration_s"),
        "exit_code": done.returncode,
        "tests": len(summary.get("results", [])),
        "counts": summary.get("counts", {}),
        "suites": summary.get("suites", []),
        "cpus": os.cpu_count(),
        "finished": finished,
        "within_budget": finished and wall_s <= BUDGET_S,
        "stderr_tail": done.stderr.strip().splitlines()[-3:] if not finished else [],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
