"""``paircert report [DIR] [--allure] [--verify]``: re-render a run's report, render Allure's, or check the bundle.

- no flag: re-render ``report.html`` from ``summary.json`` and re-hash the bundle. A bundle whose manifest
  does not verify is refused (re-hashing would bless the tampering).
- ``--verify``: check every file against ``manifest.json``; exit 1 and list what changed when it does not hold.
- ``--allure``: render ``allure-report/`` from ``allure-results/`` with Allure 3 through ``npx`` where Node is
  installed, and otherwise say exactly what to install.

Exit status: 0 done, 1 verification failed, 2 bad usage (no such run, unreadable summary, no Node).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from harness.report.html import write_html
from harness.report.manifest import MANIFEST_FILE, verify_manifest, write_manifest
from harness.report.rundir import resolve_run_dir
from harness.report.summary import SUMMARY_FILE, SummaryError, load_summary

ALLURE_PACKAGE = "allure"
NODE_HELP = ("Allure 3 needs Node.js 20 or newer with npx: install it (Debian/Ubuntu: `apt-get install -y nodejs "
             "npm`, or from https://nodejs.org), then run `paircert report --allure` again. "
             "The bundle's allure-results/ can also be rendered on any machine with `npx allure generate`.")
_NPX_TIMEOUT_S = 20
_ALLURE_TIMEOUT_S = 600


def default_run_dir() -> Path:
    return Path("reports") / "latest"


def _run_dir(path: Path | None) -> Path:
    directory = resolve_run_dir(path or default_run_dir())
    if not directory.is_dir():
        raise click.UsageError(f"{path or default_run_dir()}: not a paircert run directory")
    return directory


def npx_version() -> str | None:
    """The version ``npx --version`` prints, or None when npx is not installed or does not run."""
    npx = shutil.which("npx")
    if npx is None:
        return None
    try:
        done = subprocess.run([npx, "--version"], capture_output=True, text=True, timeout=_NPX_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def allure_command(run_dir: Path) -> list[str]:
    """The Allure 3 command that renders ``allure-results/`` into ``allure-report/``."""
    return ["npx", "--yes", ALLURE_PACKAGE, "generate", str(run_dir / "allure-results"),
            "--output", str(run_dir / "allure-report")]


def render_allure(run_dir: Path) -> int:
    if not (run_dir / "allure-results").is_dir():
        click.echo(f"{run_dir}: no allure-results/ in this run", err=True)
        return 2
    if npx_version() is None:
        click.echo(f"paircert report --allure: npx was not found. {NODE_HELP}", err=True)
        return 2
    try:
        done = subprocess.run(allure_command(run_dir), timeout=_ALLURE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        click.echo("paircert report --allure: Allure did not finish in time", err=True)
        return 2
    if done.returncode != 0:
        click.echo(f"paircert report --allure: `{' '.join(allure_command(run_dir))}` exited {done.returncode}",
                   err=True)
        return 2
    click.echo(f"Allure report: {run_dir / 'allure-report' / 'index.html'}")
    return 0


@click.command(name="report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--allure", is_flag=True, help="Render the Allure 3 HTML report (needs Node.js and npx).")
@click.option("--verify", is_flag=True, help="Check every file of the run against manifest.json.")
def cli_command(directory: Path | None, allure: bool, verify: bool) -> None:
    """Re-render a run's HTML report (DIR defaults to reports/latest), render Allure's, or verify the bundle."""
    run_dir = _run_dir(directory)
    if verify:
        result = verify_manifest(run_dir)
        if result.ok:
            click.echo(f"{run_dir}: manifest holds ({result.checked} files verified)")
            raise SystemExit(0)
        for line in result.lines():
            click.echo(f"{run_dir}: {line}", err=True)
        raise SystemExit(1)
    try:
        summary = load_summary(run_dir / SUMMARY_FILE)
    except SummaryError as exc:
        raise click.UsageError(str(exc)) from None
    if (run_dir / MANIFEST_FILE).exists():
        check = verify_manifest(run_dir)
        if not check.ok:
            for line in check.lines():
                click.echo(f"{run_dir}: {line}", err=True)
            click.echo(f"{run_dir}: refusing to render from a bundle that does not match its manifest", err=True)
            raise SystemExit(1)
    if allure:
        status = render_allure(run_dir)
        if status == 0:
            write_manifest(run_dir, run_id=summary.run_id)
        raise SystemExit(status)
    path = write_html(summary, run_dir)
    write_manifest(run_dir, run_id=summary.run_id)
    click.echo(f"Report: {path}")


__all__ = ["NODE_HELP", "allure_command", "cli_command", "npx_version", "render_allure"]
