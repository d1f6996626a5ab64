"""``paircert run``: run the conformance suites against a profile and write the certification bundle.

The suites run in a pytest subprocess with the plugin (DESIGN.md "Commands"): this process checks the whole
configuration first (:mod:`harness.adapters.preflight`: every ``env:`` reference, adapter, argument, fault, hook
command and interface; a problem exits 2 naming the file and the key), makes ``<report-dir>/<run-id>/`` and the
``latest`` link, follows the run live (and shows the operator's prompts, :mod:`harness.cli.desk`), and when
pytest is done (or was interrupted, or died with the device) writes ``summary.json``, sweeps every file for
secrets, writes ``report.html`` from the swept evidence and checks it, and hashes everything into
``manifest.json`` (:mod:`harness.cli.runner`).

Exit status: 0 all PASS, N/A or INCONCLUSIVE; 1 any FAIL; 3 any ERROR and no FAIL, or a run that did not
complete (Ctrl-C, a crash) without a FAIL; 2 bad usage, profile or configuration, with one line saying why.

Choosing what runs: ``--suite``, ``--tc TC-QR-007`` (repeatable; globs such as ``TC-QR-*``), ``-k``, and any
pytest argument after ``--``; ``--resume RUN_DIR`` runs the tests of an unfinished run that have no verdict
yet, into the same run directory (one report); ``--rerun-failed RUN_DIR`` runs a run's FAIL and ERROR tests
again, as a new run. ``--seed`` replays a run's generated names, passwords and examples.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness import bundled
from harness.cli.rundir import (
    UsageProblem,
    new_run_id,
    parse_workers,
    point_latest,
    resolve_run_dir,
    select_suites,
    suite_version,
)
from harness.cli.runner import FUZZ_BUDGET_ENV, LOG_FILE, execute, finalize, stdin_is_a_person
from harness.errors import HarnessError
from harness.profiles.schema import Profile, ProfileError, load_profile

if TYPE_CHECKING:
    from harness.cli.resume import EarlierRun

FUZZ_BUDGETS = ("ci", "default", "nightly")
DEFAULT_REPORT_DIR = Path("reports")


@dataclass
class Resume:
    """An earlier run to go on with: its directory, when it started, how long it ran, what already has a verdict."""

    run_dir: Path
    started: datetime
    duration_s: float
    decided: list[str]
    part: int


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
    seed: int = 0
    tcs: list[str] = field(default_factory=list)
    pytest_args: list[str] = field(default_factory=list)
    select: list[str] | None = None  # only these node ids (--rerun-failed)
    resume: Resume | None = None
    rerun_of: str = ""
    interactive: bool = False
    plugins: list[str] = field(default_factory=list)  # -p/--plugin: pytest plugin modules to load
    evidence: str | None = None  # which tests keep an evidence directory (all, failed, none); None: the plugin's

    def selection(self) -> dict[str, Any]:
        """What the summary records about the selection (all strings, as the report shows them)."""
        chosen = {"suites_dir": str(self.suites_dir), "keyword": self.keyword or "", "workers": str(self.workers or ""),
                  "fuzz_budget": self.fuzz_budget, "seed": str(self.seed), "tc": ",".join(self.tcs),
                  "pytest_args": " ".join(self.pytest_args), "suites_chosen": "yes" if self.suites else "no",
                  "cloud": self.cloud or "", "device": self.device or "", "network": self.network or "",
                  "plugins": ",".join(self.plugins), "evidence": self.evidence or ""}
        if self.resume is not None:
            chosen["resumed"] = str(self.resume.part)
        if self.rerun_of:
            chosen["rerun_failed_of"] = self.rerun_of
        return chosen


def _list_file(run_dir: Path, name: str, node_ids: list[str]) -> Path:
    path = run_dir / name
    path.write_text("".join(n + "\n" for n in node_ids), encoding="utf-8")
    return path


# The pytest plugins of a run, by entry-point name, and no others: a plugin that happens to be installed does not
# change a certification run (``-p MODULE`` adds one), and pytest marks for assertion rewriting only these plugin
# modules, not every module of their packages (the whole harness and hypothesis were parsed and rewritten on every
# start of every process, 2-3 s of CPU each where bytecode is not cached: PYTHONDONTWRITEBYTECODE).
RUN_PLUGINS = ("--disable-plugin-autoload", "-p", "paircert", "-p", "timeout", "-p", "hypothesispytest",
               "-p", "allure_pytest")


def pytest_command(request: RunRequest, run_dir: Path) -> list[str]:
    """The pytest child's command line. The project's own pytest settings (its 120 s ``timeout``) are not the
    run's: each suite test gets its limit from the profile (:mod:`harness.plugin.limits`). Only the run's own
    plugins load (:data:`RUN_PLUGINS`, ``-p``)."""
    profile_path = request.profile.path
    if profile_path is None:  # load_profile always records the file
        raise HarnessError("broken invariant: profile_path is not None")
    part = request.resume.part if request.resume is not None else 0
    junit = run_dir / ("junit.xml" if not part else f"junit-resumed-{part}.xml")
    command = [sys.executable, "-m", "pytest", *map(str, request.targets), *RUN_PLUGINS,
               "-p", "harness.report.sink", "-q", "-rN", "-o", "timeout=0",
               "-o", f"cache_dir={request.report_dir.resolve() / '.pytest_cache'}",
               "--paircert-profile", str(profile_path.resolve()), "--paircert-seed", str(request.seed),
               f"--hypothesis-seed={request.seed}",
               "--paircert-report-dir", str(run_dir), "--paircert-evidence-dir", str(run_dir / "evidence"),
               f"--junitxml={junit}", f"--alluredir={run_dir / 'allure-results'}"]
    for option, value in (("--paircert-cloud", request.cloud), ("--paircert-device", request.device),
                          ("--paircert-network", request.network)):
        if value:
            command += [option, value]
    if request.evidence:
        command += ["--paircert-evidence", request.evidence]
    if request.keyword:
        command += ["-k", request.keyword]
    for plugin in request.plugins:
        command += ["-p", plugin]
    for tc in request.tcs:
        command += ["--paircert-tc", tc]
    if request.select is not None:
        command += ["--paircert-select", str(_list_file(run_dir, ".selected", request.select))]
    if request.resume is not None:
        command += ["--paircert-exclude", str(_list_file(run_dir, f".decided-{part}", request.resume.decided))]
    if request.workers is not None and request.workers != 1:
        command += ["-p", "xdist", "-n", str(request.workers)]
    return [*command, *request.pytest_args]


# -- the command ----------------------------------------------------------------------------------------------

def _fail_usage(message: str) -> None:
    click.echo(f"paircert run: {message}", err=True)
    raise SystemExit(2)


def _profile_problem(exc: ProfileError) -> str:
    lines = exc.lines()
    return lines[0] + (f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else "")


@click.command(name="run", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "profile_name", metavar="NAME|PATH",
              help="Bundled profile name or TOML (with --resume/--rerun-failed: the run's own by default).")
@click.option("--cloud", metavar="SPEC", help="Cloud adapter, overriding the profile's.")
@click.option("--device", metavar="SPEC", help="Device adapter, overriding the profile's.")
@click.option("--network", metavar="SPEC", help="Network adapter, overriding the profile's.")
@click.option("--suite", "suite_names", metavar="NAME[,NAME...]", help="Only these suites (token,qr,delegate,...).")
@click.option("--tc", "tcs", metavar="TC-ID", multiple=True,
              help="Only the tests of this TC id (repeatable; a glob such as 'TC-QR-*').")
@click.option("--suites-dir", type=click.Path(path_type=Path), help="Run your own suites instead of the bundled.")
@click.option("--report-dir", type=click.Path(path_type=Path), default=None,
              help="Where <run-id>/ and the latest link are written [default: reports; with --resume or "
                   "--rerun-failed: beside that run].")
@click.option("-n", "workers", metavar="N|auto", help="Spread tests over N pytest-xdist workers.")
@click.option("--fuzz-budget", type=click.Choice(FUZZ_BUDGETS), default=None,
              help=f"How long fuzz tests may run (default: ${FUZZ_BUDGET_ENV} or 'default').")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests matching the pytest -k expression (TC ids match).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,
              help="The run's seed (default: random; printed, and kept in the report).")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Go on with an unfinished run: only its tests without a verdict, into the same report.")
@click.option("--rerun-failed", "rerun_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Run the FAIL and ERROR tests of that run again, as a new run.")
@click.option("--evidence", type=click.Choice(("all", "failed", "none")), default=None,
              help="Which tests keep an evidence directory (timeline, images, pcaps): all (the default, or "
                   "$PAIRCERT_EVIDENCE), failed (not PASS or N/A) or none.")
@click.option("--no-progress", is_flag=True, help="Plain lines instead of the live table.")
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Load this pytest plugin module in the run (repeatable), e.g. one that registers your own faults.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST-ARGS...]")
def cli_command(profile_name: str | None, cloud: str | None, device: str | None, network: str | None,
                suite_names: str | None, tcs: tuple[str, ...], suites_dir: Path | None, report_dir: Path | None,
                workers: str | None, fuzz_budget: str | None, keyword: str | None, seed: int | None,
                resume_dir: Path | None, rerun_dir: Path | None, evidence: str | None, no_progress: bool,
                plugins: tuple[str, ...], pytest_args: tuple[str, ...]) -> None:
    """Run the conformance suites against a profile and write the report."""
    from rich.console import Console

    from harness.report.progress import verdict_tables

    try:
        request = build_request(profile_name=profile_name, cloud=cloud, device=device, network=network,
                                suite_names=suite_names, tcs=list(tcs), suites_dir=suites_dir, report_dir=report_dir,
                                workers=workers, fuzz_budget=fuzz_budget, keyword=keyword, seed=seed,
                                resume_dir=resume_dir, rerun_dir=rerun_dir, pytest_args=list(pytest_args),
                                plugins=list(plugins))
        request.progress = not no_progress
        request.evidence = evidence
        console = Console(stderr=False, highlight=False)
        console.print(f"Seed: {request.seed} (replay with --seed {request.seed})", highlight=False)
        summary = execute(request, console)
    except UsageProblem as exc:
        _fail_usage(str(exc))
        raise  # unreachable: _fail_usage exits
    console.print(verdict_tables(summary))
    run_dir = (request.resume.run_dir if request.resume is not None
               else request.report_dir.resolve() / summary.run_id)
    if summary.exit_code == 2:
        click.echo(f"paircert run: {summary.interruption}", err=True)
    elif summary.interrupted:
        click.echo(f"paircert run: stopped early ({summary.interruption}); {len(summary.not_run)} test(s) not run: "
                   f"go on with paircert run --resume {run_dir}", err=True)
    console.print(f"Report: {run_dir / 'report.html'}", highlight=False, soft_wrap=True)
    raise SystemExit(summary.exit_code)


def build_request(*, profile_name: str | None, cloud: str | None, device: str | None, network: str | None,
                  suite_names: str | None, tcs: list[str], suites_dir: Path | None, report_dir: Path | None,
                  workers: str | None, fuzz_budget: str | None, keyword: str | None, seed: int | None,
                  resume_dir: Path | None, rerun_dir: Path | None, pytest_args: list[str],
                  plugins: list[str] | None = None) -> RunRequest:
    """Everything ``paircert run`` was asked, checked: a UsageProblem (exit 2) names what is wrong."""
    from harness.cli.resume import earlier_run

    if resume_dir is not None and rerun_dir is not None:
        raise UsageProblem("--resume and --rerun-failed: choose one")
    earlier = earlier_run(resume_dir or rerun_dir, resume=resume_dir is not None) \
        if (resume_dir or rerun_dir) else None
    profile = _load(profile_name, earlier)
    budget = _budget(fuzz_budget, earlier)
    directory = _suites_directory(suites_dir, earlier)
    names = [n.strip() for n in (suite_names or "").split(",") if n.strip()]
    if earlier is not None and not names:
        names = list(earlier.suites)
    if seed is None:
        seed = earlier.seed if earlier is not None and earlier.seed is not None else random.SystemRandom().randrange(
            2**32)
    if report_dir is None:  # a re-run goes beside the run it repeats
        report_dir = earlier.run_dir.parent if earlier is not None else DEFAULT_REPORT_DIR
    request = RunRequest(profile=profile, report_dir=report_dir, suites_dir=directory,
                         targets=select_suites(directory, names), suites=names, cloud=cloud, device=device,
                         network=network, workers=parse_workers(workers, profile), fuzz_budget=budget,
                         keyword=keyword, seed=seed, tcs=[t for t in tcs if t.strip()], pytest_args=pytest_args,
                         interactive=stdin_is_a_person(), plugins=list(plugins or []))
    if earlier is not None:
        earlier.apply(request)
    _import_plugins(request.plugins)
    _preflight(request)
    return request


def _budget(fuzz_budget: str | None, earlier: EarlierRun | None) -> str:
    """The fuzz budget: the option, else the earlier run's, else ``$PAIRCERT_FUZZ_BUDGET``, else default."""
    budget = fuzz_budget or (earlier.selection.get("fuzz_budget") if earlier else None) \
        or os.environ.get(FUZZ_BUDGET_ENV) or "default"
    if budget not in FUZZ_BUDGETS:
        raise UsageProblem(f"${FUZZ_BUDGET_ENV}: expected one of {', '.join(FUZZ_BUDGETS)}, got {budget!r}")
    return str(budget)


def _suites_directory(suites_dir: Path | None, earlier: EarlierRun | None) -> Path:
    """The suites to run: ``--suites-dir``, else the earlier run's, else the bundled ones."""
    earlier_dir = earlier.selection.get("suites_dir") if earlier is not None else None
    directory = (suites_dir or (Path(earlier_dir) if earlier_dir else _bundled_suites())).resolve()
    if not directory.is_dir():
        raise UsageProblem(f"--suites-dir {directory}: not a directory")
    return directory


def _bundled_suites() -> Path:
    """The suites the wheel ships (:mod:`harness.bundled`, through importlib.resources)."""
    try:
        return bundled.suites_dir()
    except bundled.BundleMissing as exc:
        raise UsageProblem(f"no bundled suites: {exc}; pass --suites-dir") from None


def _load(profile_name: str | None, earlier: EarlierRun | None) -> Profile:
    source = profile_name if profile_name is not None else earlier.profile_file if earlier is not None else None
    if source is None:
        raise UsageProblem("--profile: a profile is needed (a bundled name or a TOML file)")
    try:
        profile = load_profile(source)
    except ProfileError as exc:
        raise UsageProblem(_profile_problem(exc)) from None
    if earlier is not None:
        earlier.check_profile(profile)
    return profile


def _preflight(request: RunRequest) -> None:
    """Every piece of configuration, before any test (:mod:`harness.adapters.preflight`)."""
    from harness.adapters.preflight import preflight

    try:
        preflight(request.profile, cloud=request.cloud, device=request.device, network=request.network)
    except ProfileError as exc:
        raise UsageProblem(_profile_problem(exc)) from None


def _import_plugins(plugins: list[str]) -> None:
    """Import the ``-p`` modules here as pytest will (the current directory on the path, as ``python -m pytest``
    has it), so that the faults they register are known to the preflight."""
    from harness.emulator.fault_registry import import_module

    for plugin in plugins:
        if not plugin or plugin.startswith("-"):
            raise UsageProblem(f"-p/--plugin: expected a module name, got {plugin!r}")
        try:
            import_module(plugin, [Path.cwd()])
        except ValueError as exc:
            raise UsageProblem(f"-p/--plugin {plugin}: {exc}") from None


__all__ = ["LOG_FILE", "Resume", "RunRequest", "build_request", "cli_command", "execute",
           "finalize", "new_run_id", "point_latest", "pytest_command", "resolve_run_dir", "select_suites",
           "suite_version"]
