"""A self-check runner: suite runs, one after another, in this one process (``pytest.main`` per job).

The self-check (tests/test_selfcheck.py) runs the suites once per fault of the catalogue, each on a fresh world
with that fault. Starting Python, pytest, Hypothesis and the harness costs seconds of CPU each time; a runner
pays it once and then runs job after job. Each job is its own pytest session (its own world, built by
``-p _selfcheck_world`` from the ``PAIRCERT_*_FAULTS`` variables this runner sets), and the suite modules are
imported afresh for each, so that no job sees another's state.

Protocol: one JSON job per line on stdin (``id``, ``profile``, ``modules``, ``report_dir``, ``camera``,
``cloud``, ``activator``, ``seed``, ``timeout_s``); for each, one JSON line on the original stdout (``id``,
``exit``, ``seconds``, ``threads``). The session's own output goes to ``<report_dir>/pytest.log``. EOF ends
the runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

FAULT_VARIABLES = {"camera": "PAIRCERT_DEVICE_FAULTS", "cloud": "PAIRCERT_CLOUD_FAULTS",
                   "activator": "PAIRCERT_ACTIVATOR_FAULTS"}
CLEARED = ("PAIRCERT_PROFILE", "PAIRCERT_CLOUD", "PAIRCERT_DEVICE", "PAIRCERT_NETWORK")
FRESH_PREFIXES = ("suites", "conftest", "test_")  # modules a job imports for itself


def pytest_args(job: dict[str, Any]) -> list[str]:
    """The command line of one job's session (also what a person runs to reproduce it)."""
    return [*job["modules"], "--paircert-profile", job["profile"], "-p", "_selfcheck_world", "-p", "no:cacheprovider",
            "-q", "-W", "ignore", "--paircert-seed", str(job["seed"]), "--paircert-report-dir", str(job["report_dir"]),
            "--paircert-evidence", "none",  # verdicts are all the self-check reads (evidence has tests of its own)
            "--timeout", str(job["timeout_s"])]


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 (and so pytest's terminal and its fd capture) write to ``path`` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def forget_job_modules(before: set[str]) -> None:
    """Drop the suite modules (and conftests) the last job imported, so that the next imports them afresh."""
    for name in [n for n in sys.modules if n not in before and n.startswith(FRESH_PREFIXES)]:
        del sys.modules[name]


def run_job(job: dict[str, Any], before: set[str]) -> dict[str, Any]:
    import pytest

    for kind, variable in FAULT_VARIABLES.items():
        os.environ[variable] = ",".join(job.get(kind, ()))
    for variable in CLEARED:
        os.environ.pop(variable, None)
    report_dir = Path(job["report_dir"])
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with output_to(report_dir / "pytest.log"):
            code = int(pytest.main(pytest_args(job)))
    finally:
        forget_job_modules(before)
    return {"id": job["id"], "exit": code, "seconds": round(time.monotonic() - started, 2),
            "threads": threading.active_count()}


def serve(jobs: TextIO, answers: TextIO) -> None:
    # What every job needs, imported once (the suites themselves are imported per job).
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401

    import harness.adapters.registry
    import harness.plugin  # noqa: F401

    before = set(sys.modules)
    for line in jobs:
        if not line.strip():
            continue
        answer = run_job(json.loads(line), before)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")  # pytest's output goes elsewhere (output_to)
    serve(sys.stdin, protocol)
