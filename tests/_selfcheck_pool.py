"""The self-check's runner pool: suite runs (a profile, some suite modules, some faults) spread over a few
long-lived runner processes (tests/_selfcheck_runner.py), in the order they are submitted.

A job that does not finish within its deadline, or whose runner dies, ends with the reason and the runner is
replaced (the next job gets a fresh one); every wait here is a poll of a queue with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from _zoo import ROOT

RUNNER = ROOT / "tests" / "_selfcheck_runner.py"
SEED = "20240611"
SUITE_TEST_TIMEOUT_S = 90  # pytest-timeout for each suite test in a job (> the lab's own 60 s waits)
STOP_WAIT_S = 5.0


@dataclass(frozen=True)
class Job:
    """One suite run: ``modules`` on ``profile`` with the named faults, its results under ``report_dir``."""

    id: str
    profile: str
    modules: tuple[str, ...]
    report_dir: Path
    camera: tuple[str, ...] = ()
    cloud: tuple[str, ...] = ()
    activator: tuple[str, ...] = ()
    deadline_s: float = 100.0  # the whole session; past it the runner is stopped and the job reported

    def line(self) -> str:
        return json.dumps({"id": self.id, "profile": self.profile, "modules": list(self.modules),
                           "report_dir": str(self.report_dir), "camera": list(self.camera), "cloud": list(self.cloud),
                           "activator": list(self.activator), "seed": SEED, "timeout_s": SUITE_TEST_TIMEOUT_S})

    def results(self) -> list[dict[str, object]]:
        """The run's results.jsonl records; AssertionError (with the run's log) when there are none."""
        path = self.report_dir / "results.jsonl"
        if not path.exists():
            log = self.report_dir / "pytest.log"
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else "(no log)"
            raise AssertionError(f"no results from job {self.id} ({' '.join(self.modules)}):\n{tail}")
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Outcome:
    """How a job ended: the runner's answer, or why there is none (deadline, runner died)."""

    job: Job
    answer: dict[str, Any] | None
    problem: str | None = None
    seconds: float = 0.0


class Runner:
    """One runner process and a thread that reads its answers into a queue."""

    def __init__(self, log: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
        self.log = log.open("a", encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, str(RUNNER)], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.idle = True  # between jobs
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.answers.put(line)
        self.answers.put(None)  # EOF: the runner ended

    def run(self, job: Job, deadline_s: float) -> Outcome:
        started = time.monotonic()
        self.idle = False
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(job.line() + "\n")
            self.process.stdin.flush()
            line = self.answers.get(timeout=deadline_s)
        except (BrokenPipeError, OSError):
            line = None
        except queue.Empty:
            return Outcome(job, None, f"did not finish within {deadline_s:g} s", time.monotonic() - started)
        finally:
            self.idle = True
        seconds = time.monotonic() - started
        if line is None:
            return Outcome(job, None, f"the runner ended (exit {self.process.poll()})", seconds)
        return Outcome(job, json.loads(line), None, seconds)

    def stop(self) -> None:
        """End the runner: EOF on its stdin, then (if it does not go) kill it."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_WAIT_S)
        self.log.close()


@dataclass
class Pool:
    """``size`` runners taking jobs in submission order; :meth:`submit` returns the job's future Outcome."""

    base: Path
    size: int
    _jobs: deque[tuple[Job, Future[Outcome]]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _runners: set[Runner] = field(default_factory=set)  # the live ones, for close()
    _active: int = 0  # worker threads that have not decided to end (under _lock)
    _closed: bool = False

    def submit(self, job: Job) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        with self._lock:
            self._jobs.append((job, future))
            if self._active < self.size:
                self._active += 1
                thread = threading.Thread(target=self._work, args=(len(self._threads),), daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _next(self) -> tuple[Job, Future[Outcome]] | None:
        """The next job, or None: then this worker ends (decided under the lock, so a submit starts another)."""
        with self._lock:
            if self._closed or not self._jobs:
                self._active -= 1
                return None
            return self._jobs.popleft()

    def _work(self, index: int) -> None:
        runner: Runner | None = None
        try:
            while (item := self._next()) is not None:
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                if runner is None:
                    runner = Runner(self.base / f"runner-{index}.log")
                    with self._lock:
                        self._runners.add(runner)
                outcome = runner.run(job, job.deadline_s)
                if outcome.problem is not None:  # a stuck or dead runner is not given another job
                    runner.process.kill()
                    self._retire(runner)
                    runner = None
                future.set_result(outcome)
        finally:
            if runner is not None:
                self._retire(runner)

    def _retire(self, runner: Runner) -> None:
        runner.stop()
        with self._lock:
            self._runners.discard(runner)

    def close(self) -> None:
        """Cancel what has not started, stop the runners still at work, and let the workers end."""
        with self._lock:
            self._closed = True
            pending, self._jobs = list(self._jobs), deque()
            busy = list(self._runners)
        for _, future in pending:
            future.cancel()
        for runner in busy:  # a job nobody waits for any more (the tests were interrupted)
            if runner.process.poll() is None and not runner.idle:
                runner.process.kill()
        for thread in self._threads:
            thread.join(2 * STOP_WAIT_S)
