"""``paircert run``: run the conformance suites against a profile and write the certification bundle.

The suites run in a pytest subprocess with the plugin (DESIGN.md "Commands"): this process validates the
profile, makes ``<report-dir>/<run-id>/`` and the ``latest`` link, follows the run live, and when pytest is done
(or was interrupted, or died with the device) writes ``summary.json``, sweeps every file for secrets, writes
``report.html`` from the swept evidence and checks it, and hashes everything into ``manifest.json``. Exit status:
0 all PASS or N/A, 1 any FAIL, 3 any ERROR and no FAIL (or an incomplete run), 2 bad usage or profile, with one
line saying why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
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
from typing import IO, Any

import click

from harness import __version__
from harness.errors import HarnessError
from harness.profiles.schema import PROJECT_ROOT, Profile, ProfileError, load_profile
from harness.report.html import write_html
from harness.report.manifest import write_manifest
from harness.report.results import RunState, iter_worlds
from harness.report.rundir import RunDirError, make_run_dir, new_run_id, point_latest, resolve_run_dir
from harness.report.sink import EVENTS_ENV, SECRETS_ENV, SecretFeed
from harness.report.summary import SUMMARY_FILE, RunSummary, summary_from_json
from harness.report.sweep import SweepRedactor, profile_secrets, sweep_directory

BUNDLED_SUITES_DIR = PROJECT_ROOT / "suites"
FUZZ_BUDGETS = ("ci", "default", "nightly")
FUZZ_BUDGET_ENV = "PAIRCERT_FUZZ_BUDGET"
RUN_ID_ENV = "PAIRCERT_RUN_ID"
LOG_FILE = "pytest.log"
_POLL_S = 0.1
_GRACE_S = 15.0
_SUITE_NAME = re.compile(r"^[a-z0-9_]+$")


class UsageProblem(Exception):
    """Bad usage or a bad profile: exit 2 with this one line."""


# -- what to run ----------------------------------------------------------------------------------------------

def suite_files(suites_dir: Path) -> list[Path]:
    return sorted(suites_dir.glob("test_*.py"))


def select_suites(suites_dir: Path, names: list[str]) -> list[Path]:
    """The suite files for ``--suite token,qr`` (``test_<name>.py`` and ``test_<name>_*.py``), or all."""
    files = suite_files(suites_dir)
    if not files:
        raise UsageProblem(f"{suites_dir}: no suites found (expected test_*.py files)")
    if not names:
        return files
    available = sorted({f.stem.removeprefix("test_").split("_", 1)[0] for f in files})
    chosen: list[Path] = []
    for name in names:
        matches = [f for f in files if f.stem == f"test_{name}" or f.stem.startswith(f"test_{name}_")]
        if not _SUITE_NAME.match(name) or not matches:
            raise UsageProblem(f"--suite: no suite named {name!r} in {suites_dir}; available: {', '.join(available)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def suite_version(suites_dir: Path) -> str:
    """A short SHA-256 over the suites' source (file names and contents), so a report names what ran."""
    digest = hashlib.sha256()
    for path in sorted(p for p in suites_dir.rglob("*") if p.is_file() and p.suffix in (".py", ".toml")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(suites_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def parse_workers(value: str | None, profile: Profile) -> int | str | None:
    """``-n``: None (no xdist), a number, or ``auto``; a device pool caps how many workers may run."""
    if value is None:
        return None
    pool = len(profile.adapters.device_pool)
    if value == "auto":
        return min(os.cpu_count() or 1, pool) if pool else "auto"
    if not value.isdigit():
        raise UsageProblem(f"-n: expected a number of workers or 'auto', got {value!r}")
    workers = int(value)
    if pool and workers > pool:
        raise UsageProblem(f"-n {workers}: profile {profile.name} has {pool} device(s) in adapters.device_pool; "
                           f"each worker needs its own")
    return workers if workers > 0 else None


@dataclass
class RunRequest:
    profile: Profile
    report_dir: Path
    suites_dir: Path
    targets: list[Path]
    suites: list[str]
    cloud: str | None = None
    device: str | None = None
    network: str | None = None
    workers: int | str | None = None
    fuzz_budget: str = "default"
    keyword: str | None = None
    progress: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)  # -p/--plugin: pytest plugin modules to load


def pytest_command(request: RunRequest, run_dir: Path) -> list[str]:
    profile_path = request.profile.path
    if profile_path is None:  # load_profile always records the file
        raise HarnessError("broken invariant: profile_path is not None")
    command = [sys.executable, "-m", "pytest", *map(str, request.targets),
               "-p", "harness.report.sink", "-p", "no:cacheprovider", "-q", "-rN",
               "--profile", str(profile_path.resolve()),
               "--report-dir", str(run_dir), "--evidence-dir", str(run_dir / "evidence"),
               f"--junitxml={run_dir / 'junit.xml'}", f"--alluredir={run_dir / 'allure-results'}"]
    for option, value in (("--cloud", request.cloud), ("--device", request.device), ("--network", request.network)):
        if value:
            command += [option, value]
    if request.keyword:
        command += ["-k", request.keyword]
    for plugin in request.plugins:
        command += ["-p", plugin]
    if request.workers is not None and request.workers != 1:
        command += ["-p", "xdist", "-n", str(request.workers)]
    return command


# -- running --------------------------------------------------------------------------------------------------

class _Interrupt:
    """Turns SIGINT/SIGTERM into a request to stop the pytest child, and remembers why."""

    def __init__(self) -> None:
        self.reason = ""
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.reason = self.reason or f"{signal.Signals(signum).name} received"

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


def _stop(child: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Ask pytest to stop (SIGINT: it finishes its reports), then insist; the child leads its own group."""
    steps = ((signal.SIGINT, deadline_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
    for signum, wait_s in steps:
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
    return {"adapters": adapters, "firmware": profile.device.firmware, "seeds": []}


def execute(request: RunRequest, console: Any) -> RunSummary:
    """Run pytest for ``request`` and write the whole bundle; returns the summary (its exit_code decides)."""
    from harness.report.progress import Progress

    report_dir = request.report_dir.resolve()
    run_id = new_run_id()
    run_dir = make_run_dir(report_dir, run_id)
    point_latest(report_dir, run_id)
    redactor = SweepRedactor(profile_secrets(request.profile))
    private = Path(tempfile.mkdtemp(prefix="paircert-run-"))
    sink_path = private / "secrets.jsonl"
    sink_path.touch(mode=0o600)
    feed = SecretFeed(sink_path, redactor.add)
    env = {**os.environ, **request.extra_env, SECRETS_ENV: str(sink_path), EVENTS_ENV: str(run_dir / "events.jsonl"),
           FUZZ_BUDGET_ENV: request.fuzz_budget, RUN_ID_ENV: run_id, "PYTHONUNBUFFERED": "1"}
    started = datetime.now(UTC)
    clock0 = time.monotonic()
    state = RunState(run_dir)
    tail: list[str] = []
    interrupt = _Interrupt()
    reason = ""
    try:
        (run_dir / LOG_FILE).touch(mode=0o600)  # private until the sweep has checked it (harness.report.sweep)
        with (interrupt.installed(), (run_dir / LOG_FILE).open("w", encoding="utf-8") as log,
              Progress(console, live=request.progress) as progress):
            child = subprocess.Popen(pytest_command(request, run_dir), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=True, umask=0o077)  # 0600 until swept
            if child.stdout is None:
                raise HarnessError("broken invariant: child.stdout is not None")
            pump = threading.Thread(target=_pump_output, args=(child.stdout, log, redactor, tail), daemon=True)
            pump.start()
            stopping = False
            while child.poll() is None:
                feed.refresh()
                progress.update(state, time.monotonic() - clock0, state.update())
                if interrupt.count and not stopping:
                    stopping = True
                    threading.Thread(target=_stop, args=(child, _GRACE_S), daemon=True).start()
                if interrupt.count > 1:
                    _stop(child, 0.5)
                time.sleep(_POLL_S)
            pump.join(timeout=10)
            feed.refresh()
            progress.update(state, time.monotonic() - clock0, state.update(final=True))
        returncode = child.returncode
        pytest_status = state.exitstatus
        if interrupt.count:
            reason = interrupt.reason
        elif returncode < 0:
            reason = f"pytest died with {signal.Signals(-returncode).name}"
        elif returncode == 2 and not any(r.verdict == "ERROR" and r.message.startswith("collection failed")
                                         for r in state.merged()):
            reason = "pytest was interrupted (a device or adapter stopped the run)"
        elif returncode == 3:
            reason = "pytest hit an internal error: " + _usage_line(tail)
        elif pytest_status is None and returncode not in (0, 1, 4, 5):
            reason = f"pytest exited with status {returncode} before finishing"
        summary = RunSummary(
            run_id=run_id, profile=request.profile.summary(), harness_version=__version__,
            started_at=started.isoformat(timespec="seconds"), ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
            duration_s=round(time.monotonic() - clock0, 3), suite_version=suite_version(request.suites_dir),
            suites=request.suites or [p.stem.removeprefix("test_") for p in request.targets],
            selection={"suites_dir": str(request.suites_dir), "keyword": request.keyword or "",
                       "workers": str(request.workers or ""), "fuzz_budget": request.fuzz_budget},
            environment={"python": platform.python_version(), "platform": platform.platform(),
                         "host": platform.node()},
            results=state.merged(), not_run=state.not_run(), **_world_fields(run_dir, state, request))
        summary.finish(interrupted=bool(reason), reason=reason)
        if not reason and returncode == 4:
            summary.exit_code = 2
            summary.interruption = _usage_line(tail)
        elif not reason and returncode == 5:
            summary.exit_code = 2
            summary.interruption = "no test matched the selection (--suite, -k)"
        finalize(summary, run_dir, redactor)
        return summary
    finally:
        sink_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            private.rmdir()


def finalize(summary: RunSummary, run_dir: Path, redactor: SweepRedactor) -> None:
    """Write summary.json, sweep every file for secrets, write report.html from the swept evidence and check it,
    then hash everything (last)."""
    # Redacted as JSON text: every string field, with the secrets' JSON-escaped spellings too.
    clean = summary_from_json(json.loads(redactor.redact(json.dumps(summary.to_json(), ensure_ascii=False))))
    clean.save(run_dir / SUMMARY_FILE)
    # -- secret sweep (harness.report.sweep): the evidence first, the HTML from it, then what the HTML added --
    swept = sweep_directory(run_dir, redactor)
    write_html(clean, run_dir)
    sweep_directory(run_dir, redactor, since=swept)
    # -- end of the secret sweep --
    write_manifest(run_dir, run_id=summary.run_id)


# -- the command ----------------------------------------------------------------------------------------------

def _fail_usage(message: str) -> None:
    click.echo(f"paircert run: {message}", err=True)
    raise SystemExit(2)


@click.command(name="run", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "profile_name", required=True, metavar="NAME|PATH", help="Bundled profile name or TOML.")
@click.option("--cloud", metavar="SPEC", help="Cloud adapter, overriding the profile's.")
@click.option("--device", metavar="SPEC", help="Device adapter, overriding the profile's.")
@click.option("--network", metavar="SPEC", help="Network adapter, overriding the profile's.")
@click.option("--suite", "suite_names", metavar="NAME[,NAME...]", help="Only these suites (token,qr,delegate,...).")
@click.option("--suites-dir", type=click.Path(path_type=Path), help="Run your own suites instead of the bundled.")
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True,
              help="Where <run-id>/ and the latest link are written.")
@click.option("-n", "workers", metavar="N|auto", help="Spread tests over N pytest-xdist workers.")
@click.option("--fuzz-budget", type=click.Choice(FUZZ_BUDGETS), default=None,
              help=f"How long fuzz tests may run (default: ${FUZZ_BUDGET_ENV} or 'default').")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests matching the pytest -k expression.")
@click.option("--no-progress", is_flag=True, help="Plain lines instead of the live table.")
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Load this pytest plugin module in the run (repeatable), e.g. one that registers your own faults.")
def cli_command(profile_name: str, cloud: str | None, device: str | None, network: str | None,
                suite_names: str | None, suites_dir: Path | None, report_dir: Path, workers: str | None,
                fuzz_budget: str | None, keyword: str | None, no_progress: bool, plugins: tuple[str, ...]) -> None:
    """Run the conformance suites against a profile and write the report."""
    from rich.console import Console

    from harness.report.progress import verdict_tables

    try:
        profile = load_profile(profile_name)
    except ProfileError as exc:
        lines = exc.lines()
        _fail_usage(lines[0] + (f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""))
        raise  # unreachable: _fail_usage exits
    budget = fuzz_budget or os.environ.get(FUZZ_BUDGET_ENV) or "default"
    try:
        if budget not in FUZZ_BUDGETS:
            raise UsageProblem(f"${FUZZ_BUDGET_ENV}: expected one of {', '.join(FUZZ_BUDGETS)}, got {budget!r}")
        directory = (suites_dir or BUNDLED_SUITES_DIR).resolve()
        if not directory.is_dir():
            raise UsageProblem(f"--suites-dir {directory}: not a directory")
        names = [n.strip() for n in (suite_names or "").split(",") if n.strip()]
        request = RunRequest(profile=profile, report_dir=report_dir, suites_dir=directory,
                             targets=select_suites(directory, names), suites=names, cloud=cloud, device=device,
                             network=network, workers=parse_workers(workers, profile), fuzz_budget=budget,
                             keyword=keyword, progress=not no_progress, plugins=list(plugins))
        _check_adapters(request)
        _check_plugins_and_faults(request)
        console = Console(stderr=False, highlight=False)
        summary = execute(request, console)
    except (UsageProblem, RunDirError) as exc:
        _fail_usage(str(exc))
        raise  # unreachable
    console.print(verdict_tables(summary))
    run_dir = request.report_dir.resolve() / summary.run_id
    if summary.exit_code == 2:
        click.echo(f"paircert run: {summary.interruption}", err=True)
    console.print(f"Report: {run_dir / 'report.html'}", highlight=False, soft_wrap=True)
    raise SystemExit(summary.exit_code)


def _check_adapters(request: RunRequest) -> None:
    """Unknown registered adapter names are usage errors (``module:factory`` specs are the plugin's to load)."""
    from harness.adapters.registry import registered

    names = registered()
    for kind, spec in (("cloud", request.cloud), ("device", request.device), ("network", request.network)):
        if spec and ":" not in spec and f"{kind}.{spec}" not in names:
            known = sorted(k.split(".", 1)[1] for k in names if k.startswith(kind + "."))
            raise UsageProblem(f"--{kind}: no {kind} adapter named {spec!r}; registered: {', '.join(known)}")


# -- plugins and faults (-p/--plugin) -------------------------------------------------------------------------

def _check_plugins_and_faults(request: RunRequest) -> None:
    """Import the ``-p`` modules here as pytest will (the current directory on the path, as ``python -m pytest``
    has it), so that the faults they register are known, then check every fault the profile names."""
    from harness.adapters.factories import check_fault_names
    from harness.emulator.fault_registry import import_module

    here = [Path.cwd()]
    for plugin in request.plugins:
        if not plugin or plugin.startswith("-"):
            raise UsageProblem(f"-p/--plugin: expected a module name, got {plugin!r}")
        try:
            import_module(plugin, here)
        except ValueError as exc:
            raise UsageProblem(f"-p/--plugin {plugin}: {exc}") from None
    try:
        check_fault_names(request.profile, cloud=request.cloud, device=request.device)
    except ProfileError as exc:
        lines = exc.lines()
        raise UsageProblem(lines[0] + (f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else "")) from None

# -- end of plugins and faults --------------------------------------------------------------------------------


__all__ = ["BUNDLED_SUITES_DIR", "RunRequest", "cli_command", "execute", "finalize", "new_run_id", "point_latest",
           "pytest_command", "resolve_run_dir", "select_suites", "suite_version"]
