"""``paircert report [DIR] [--pdf] [--allure] [--verify]``, ``paircert report --compare OLD NEW``: re-render a
run's report, print it to PDF, render Allure's, check the bundle, or compare two runs.

- no flag: re-render ``report.html`` from ``summary.json`` and re-hash the bundle. A bundle whose manifest
  does not verify is refused (re-hashing would bless the tampering).
- ``--pdf``: the same, then ``report.pdf`` printed by headless Chromium (A4); where Chromium is missing, say why
  and what to install, and write nothing.
- ``--verify``: check every file against ``manifest.json``; exit 1 and list what changed when it does not hold.
- ``--allure``: render ``allure-report/`` from ``allure-results/`` with Allure 3 through ``npx`` where Node is
  installed, and otherwise say exactly what to install.
- ``--compare OLD NEW``: what regressed, what was fixed, which TCs are new and which were removed from run OLD to
  run NEW (:mod:`harness.report.compare`); exit 1 when something regressed, so that CI can gate on it. Every run is
  also compared with the previous run of its profile in its report directory, on page 1 of its certificate.

Exit status: 0 done, 1 verification failed or a regression, 2 bad usage (no such run, unreadable summary, no Node,
no Chromium).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from harness.report.compare import compare
from harness.report.html import write_html
from harness.report.manifest import MANIFEST_FILE, verify_manifest, write_manifest
from harness.report.pdf import PDF_FILE, PdfError, render_pdf
from harness.report.rundir import resolve_run_dir
from harness.report.summary import SUMMARY_FILE, RunSummary, SummaryError, load_summary

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


def _summary(run_dir: Path) -> RunSummary:
    try:
        return load_summary(run_dir / SUMMARY_FILE)
    except SummaryError as exc:
        raise click.UsageError(str(exc)) from None


def compare_runs(old: Path, new: Path) -> int:
    """Print what changed from run ``old`` to run ``new``; 1 when something regressed, else 0."""
    comparison = compare(_summary(_run_dir(old)), _summary(_run_dir(new)))
    for line in comparison.lines():
        click.echo(line)
    return 1 if comparison.regressions else 0


def _refuse_tampered(run_dir: Path) -> None:
    if (run_dir / MANIFEST_FILE).exists():
        check = verify_manifest(run_dir)
        if not check.ok:
            for line in check.lines():
                click.echo(f"{run_dir}: {line}", err=True)
            click.echo(f"{run_dir}: refusing to render from a bundle that does not match its manifest", err=True)
            raise SystemExit(1)


def _print_pdf(run_dir: Path, html: Path) -> int:
    try:
        pdf = render_pdf(html, run_dir / PDF_FILE)
    except PdfError as exc:
        click.echo(f"paircert report --pdf: no PDF written: {exc}", err=True)
        return 2
    pdf.chmod(0o644)
    click.echo(f"PDF: {pdf}")
    return 0


@click.command(name="report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--pdf", is_flag=True, help="Also print the report to report.pdf (A4) with headless Chromium.")
@click.option("--allure", is_flag=True, help="Render the Allure 3 HTML report (needs Node.js and npx).")
@click.option("--verify", is_flag=True, help="Check every file of the run against manifest.json.")
@click.option("--compare", "runs", nargs=2, type=click.Path(path_type=Path), default=None, metavar="OLD NEW",
              help="List the regressions, fixes, new and removed TCs from run OLD to run NEW (exit 1 on a regression).")
def cli_command(directory: Path | None, pdf: bool, allure: bool, verify: bool, runs: tuple[Path, Path] | None) -> None:
    """Re-render a run's HTML report (DIR defaults to reports/latest), print it to PDF, render Allure's, verify
    the bundle, or compare two runs."""
    if runs:
        if directory is not None or pdf or allure or verify:
            raise click.UsageError("--compare OLD NEW takes no DIR and no other option")
        raise SystemExit(compare_runs(*runs))
    run_dir = _run_dir(directory)
    if verify:
        result = verify_manifest(run_dir)
        if result.ok:
            click.echo(f"{run_dir}: manifest holds ({result.checked} files verified)")
            raise SystemExit(0)
        for line in result.lines():
            click.echo(f"{run_dir}: {line}", err=True)
        raise SystemExit(1)
    summary = _summary(run_dir)
    _refuse_tampered(run_dir)
    if allure:
        status = render_allure(run_dir)
        if status == 0:
            write_manifest(run_dir, run_id=summary.run_id)
        raise SystemExit(status)
    path = write_html(summary, run_dir)
    status = _print_pdf(run_dir, path) if pdf else 0
    write_manifest(run_dir, run_id=summary.run_id)
    click.echo(f"Report: {path}")
    raise SystemExit(status)


__all__ = ["NODE_HELP", "allure_command", "cli_command", "compare_runs", "npx_version", "render_allure"]
