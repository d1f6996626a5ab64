"""Running pytest for ``paircert run`` and writing the bundle (see :mod:`harness.cli.run`).

pytest runs as a child in its own session, without the terminal: its output is the run's log (redacted as it
is copied), and no thread dump or traceback of it ever reaches the operator's screen. The runner keeps the
terminal: it draws the progress, and when a person is there (its standard input is a terminal) it shows the
operator adapter's prompts and reads the answers (:mod:`harness.cli.desk`).

Ctrl-C (or SIGTERM) stops the run within :data:`STOP_BUDGET_S` seconds: pytest is asked to stop (SIGINT: it
records what finished), then told (SIGTERM), then killed; the runner then writes the partial bundle. A second
Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from harness import __version__
from harness.errors import HarnessError
from harness.report.compare import compare, previous_run
from harness.report.html import write_html
from harness.report.manifest import write_manifest
from harness.report.results import RunState, iter_worlds
from harness.report.secretfeed import EVENTS_ENV, SECRETS_ENV, SecretFeed
from harness.report.summary import SUMMARY_FILE, RunSummary, summary_from_json
from harness.report.sweep import SweepRedactor, profile_secrets, sweep_directory

if TYPE_CHECKING:
    from harness.cli.run import RunRequest

FUZZ_BUDGET_ENV = "PAIRCERT_FUZZ_BUDGET"
RUN_ID_ENV = "PAIRCERT_RUN_ID"
PRIVATE_DIR_ENV = "PAIRCERT_PRIVATE_DIR"
LOG_FILE = "pytest.log"
STOP_BUDGET_S = 5.0  # Ctrl-C to exit, the partial report included
_ASK_S = 1.5  # of which pytest gets this long to stop by itself (SIGINT; on a loaded machine it takes longer) ...
_TELL_S = 0.5  # ... and this long after SIGTERM, before SIGKILL
_POLL_S = 0.1


class _Interrupt:
    """Turns SIGINT/SIGTERM into a request to stop the pytest child, and remembers why."""

    def __init__(self) -> None:
        self.reason = ""
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.reason = self.reason or f"{name} ({signal.Signals(signum).name}) received"

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)


def _pump_output(stream: IO[bytes], log: IO[str], redactor: SweepRedactor, tail: list[str]) -> None:
    """Copy the child's output into the log, line by line, through the redactor; keep the last lines."""
    for raw in iter(stream.readline, b""):
        line = redactor.redact(raw.decode("utf-8", "replace"))
        log.write(line)
        tail.append(line.rstrip("\n"))
        del tail[:-40]
    log.flush()


def stop_child(child: subprocess.Popen[bytes], ask_s: float = _ASK_S, tell_s: float = _TELL_S) -> None:
    """Ask pytest to stop (SIGINT: it finishes its reports), then insist; the child leads its own group."""
    for signum, wait_s in ((signal.SIGINT, ask_s), (signal.SIGTERM, tell_s), (signal.SIGKILL, 1.0)):
        if child.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=wait_s)


def _usage_line(tail: list[str]) -> str:
    for line in reversed(tail):
        text = line.strip()
        if text.lower().startswith(("error:", "usageerror", "pytest: error", "e   ")) or "error:" in text.lower():
            return text.removeprefix("ERROR: ")
    return tail[-1].strip() if tail else "pytest refused its arguments"


def _world_fields(run_dir: Path, state: RunState, request: RunRequest) -> dict[str, Any]:
    """Adapters, firmware and seeds as the worlds reported them (mobly's get_info), else from the profile."""
    worlds = [*iter_worlds(run_dir), *state.world]
    profile = request.profile
    if worlds:
        first = worlds[0]
        adapters: dict[str, Any] = {kind: first.get(kind, {}) for kind in ("cloud", "device", "network")}
        devices = [{"worker": w.get("worker"), **w["device"]} for w in worlds if isinstance(w.get("device"), dict)]
        if len(devices) > 1:
            adapters["devices"] = devices
        seeds = sorted({int(w["seed"]) for w in worlds if isinstance(w.get("seed"), int)})
        return {"adapters": adapters, "firmware": str(first.get("firmware") or profile.device.firmware),
                "seeds": seeds}
    adapters = {"cloud": {"adapter": request.cloud or profile.adapters.cloud.name},
                "device": {"adapter": request.device or profile.adapters.device.name},
                "network": {"adapter": request.network or profile.adapters.network.name}}
    return {"adapters": adapters, "firmware": profile.device.firmware, "seeds": [request.seed]}


@dataclass
class Child:
    """The pytest child and what the runner learned while it ran."""

    returncode: int = 0
    tail: list[str] = field(default_factory=list)
    interrupt: _Interrupt = field(default_factory=_Interrupt)


def _why_incomplete(child: Child, state: RunState) -> str:
    returncode = child.returncode
    if child.interrupt.count:
        return child.interrupt.reason
    if returncode < 0:
        return f"pytest died with {signal.Signals(-returncode).name}"
    if returncode == 2 and not any(r.verdict == "ERROR" and r.message.startswith("collection failed")
                                   for r in state.merged()):
        return "pytest was interrupted (a device or adapter stopped the run)"
    if returncode == 3 and any(line.startswith("INTERNALERROR>") for line in child.tail):
        return "pytest hit an internal error: " + next(
            line for line in reversed(child.tail) if line.startswith("INTERNALERROR>"))
    if state.exitstatus is None and returncode not in (0, 1, 4, 5):
        return f"pytest exited with status {returncode} before finishing"
    return ""


def _follow(request: RunRequest, run_dir: Path, command: list[str], env: dict[str, str], console: Any,
            redactor: SweepRedactor, feed: SecretFeed, state: RunState, child_info: Child, desk: Any) -> None:
    """Start pytest and follow it to its end: progress, prompts, secrets, Ctrl-C."""
    from harness.report.progress import Progress

    clock0 = time.monotonic()
    log_path = run_dir / LOG_FILE
    log_path.touch(mode=0o600)  # private until the sweep has checked it (harness.report.sweep)
    interrupt = child_info.interrupt
    with (interrupt.installed(), log_path.open("a", encoding="utf-8") as log,
          Progress(console, live=request.progress) as progress):
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True, umask=0o077)  # 0600 until swept
        if child.stdout is None:
            raise HarnessError("broken invariant: child.stdout is not None")
        pump = threading.Thread(target=_pump_output, args=(child.stdout, log, redactor, child_info.tail), daemon=True)
        pump.start()
        stopper: threading.Thread | None = None
        while child.poll() is None:
            feed.refresh()
            progress.update(state, time.monotonic() - clock0, state.update())
            if desk is not None:
                desk.serve(state, progress)
            if interrupt.count and stopper is None:
                console.print(f"paircert run: stopping ({interrupt.reason}); the partial report follows "
                              f"within {STOP_BUDGET_S:g} s (again to stop at once)", style="yellow",
                              highlight=False)
                stopper = threading.Thread(target=stop_child, args=(child,), daemon=True)
                stopper.start()
            if interrupt.count > 1:
                stop_child(child, 0.2, 0.2)
            time.sleep(_POLL_S)
        pump.join(timeout=2)
        feed.refresh()
        progress.update(state, time.monotonic() - clock0, state.update(final=True))
    child_info.returncode = child.returncode if child.returncode is not None else -signal.SIGKILL


def execute(request: RunRequest, console: Any) -> RunSummary:
    """Run pytest for ``request`` and write the whole bundle; returns the summary (its exit_code decides)."""
    from harness.cli.desk import PromptDesk
    from harness.cli.rundir import make_run_dir, new_run_id, point_latest, suite_version

    report_dir = request.report_dir.resolve()
    if request.resume is not None:
        run_dir, run_id = request.resume.run_dir, request.resume.run_dir.name
    else:
        run_id = new_run_id()
        run_dir = make_run_dir(report_dir, run_id)
    point_latest(run_dir.parent, run_id)
    redactor = SweepRedactor(profile_secrets(request.profile))
    private = Path(tempfile.mkdtemp(prefix="paircert-run-"))  # 0700: secrets, prompts, the operator's QR PNGs
    sink_path = private / "secrets.jsonl"
    sink_path.touch(mode=0o600)
    feed = SecretFeed(sink_path, redactor.add)
    desk = PromptDesk.open(private / "prompts", console) if request.interactive else None
    env = {**os.environ, **request.extra_env, SECRETS_ENV: str(sink_path), EVENTS_ENV: str(run_dir / "events.jsonl"),
           FUZZ_BUDGET_ENV: request.fuzz_budget, RUN_ID_ENV: run_id, PRIVATE_DIR_ENV: str(private),
           "PYTHONUNBUFFERED": "1", **(desk.environment() if desk is not None else {})}
    started = datetime.now(UTC) if request.resume is None else request.resume.started
    clock0 = time.monotonic()
    state = RunState(run_dir)
    child = Child()
    try:
        from harness.cli.run import pytest_command

        _follow(request, run_dir, pytest_command(request, run_dir), env, console, redactor, feed, state, child, desk)
        reason = _why_incomplete(child, state)
        previous = request.resume.duration_s if request.resume is not None else 0.0
        summary = RunSummary(
            run_id=run_id, profile={**request.profile.summary(),  # with what the device claims: the run's PICS
                                    "capabilities": request.profile.capabilities.model_dump(mode="json")},
            harness_version=__version__,
            started_at=started.isoformat(timespec="seconds"), ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
            duration_s=round(previous + time.monotonic() - clock0, 3), suite_version=suite_version(request.suites_dir),
            suites=request.suites or [p.stem.removeprefix("test_") for p in request.targets],
            selection=request.selection(), environment={"python": platform.python_version(),
                                                        "platform": platform.platform(), "host": platform.node()},
            results=state.merged(), not_run=state.not_run(), **_world_fields(run_dir, state, request))
        summary.finish(interrupted=bool(reason), reason=reason)
        if not reason and child.returncode == 4:
            summary.exit_code = 2
            summary.interruption = _usage_line(child.tail)
        elif not reason and child.returncode == 5:
            summary.exit_code = 2
            summary.interruption = "no test matched the selection (--suite, --tc, -k, --resume, --rerun-failed)"
        finalize(summary, run_dir, redactor)
        return summary
    finally:
        if desk is not None:
            desk.close()
        shutil.rmtree(private, ignore_errors=True)  # nothing unredacted outlives the run


def finalize(summary: RunSummary, run_dir: Path, redactor: SweepRedactor) -> None:
    """Compare with the previous run of the profile, write summary.json, sweep every file for secrets, write
    report.html from the swept evidence and check it, then hash everything (last)."""
    previous = previous_run(run_dir, str(summary.profile.get("profile", "")))
    if previous is not None:
        summary.comparison = compare(previous[1], summary).to_json()
    # Redacted as JSON text: every string field, with the secrets' JSON-escaped spellings too.
    clean = summary_from_json(json.loads(redactor.redact(json.dumps(summary.to_json(), ensure_ascii=False))))
    clean.save(run_dir / SUMMARY_FILE)
    # -- secret sweep (harness.report.sweep): the evidence first, the HTML from it, then what the HTML added --
    swept = sweep_directory(run_dir, redactor)
    write_html(clean, run_dir)
    sweep_directory(run_dir, redactor, since=swept)
    # -- end of the secret sweep --
    write_manifest(run_dir, run_id=summary.run_id)


def stdin_is_a_person() -> bool:
    """A person can answer prompts: the runner's standard input is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


__all__ = ["FUZZ_BUDGET_ENV", "LOG_FILE", "PRIVATE_DIR_ENV", "RUN_ID_ENV", "STOP_BUDGET_S", "execute", "finalize",
           "stdin_is_a_person", "stop_child"]
