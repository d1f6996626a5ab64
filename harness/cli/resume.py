"""``paircert run --resume RUN_DIR`` and ``--rerun-failed RUN_DIR``: what an earlier run already decided.

A resumed run goes on in the same run directory with the tests that have no verdict yet (the report then
covers the whole run: the plugin appends to its ``results.jsonl``), under the same profile (unchanged, by its
hash), seed, suites and adapters. A re-run of the failures is a new run of the FAIL and ERROR tests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.rundir import UsageProblem, resolve_run_dir
from harness.errors import HarnessError
from harness.report.summary import SUMMARY_FILE, RunSummary, SummaryError, load_summary

if TYPE_CHECKING:
    from harness.cli.run import RunRequest
    from harness.profiles import Profile


@dataclass
class EarlierRun:
    run_dir: Path
    summary: RunSummary
    resume: bool

    @property
    def option(self) -> str:
        return "--resume" if self.resume else "--rerun-failed"

    @property
    def selection(self) -> dict[str, Any]:
        return dict(self.summary.selection)

    @property
    def suites(self) -> list[str]:
        return list(self.summary.suites) if self.selection.get("suites_chosen") == "yes" else []

    @property
    def seed(self) -> int | None:
        text = str(self.selection.get("seed", ""))
        if text.isdigit():
            return int(text)
        return self.summary.seeds[0] if self.summary.seeds else None

    @property
    def profile_file(self) -> str:
        where = str(self.summary.profile.get("file") or self.summary.profile.get("profile") or "")
        if not where:
            raise UsageProblem(f"{self.option} {self.run_dir}: its summary names no profile; give --profile")
        return where

    def check_profile(self, profile: Profile) -> None:
        """A resumed run tests what the run tested: the same profile, by its hash."""
        was = str(self.summary.profile.get("sha256", ""))
        if self.resume and was and profile.hash() != was:
            raise UsageProblem(f"--resume {self.run_dir}: profile {profile.name} changed since the run "
                               f"(sha256 {was[:12]}, now {profile.hash()[:12]}); start a new run instead")

    def apply(self, request: RunRequest) -> None:
        """The earlier run's choices where ``request`` leaves them open, then what to run: the tests without a
        verdict (``--resume``) or those that FAILed or ERRORed (``--rerun-failed``)."""
        self._inherit_selection(request)
        if self.resume:
            self._resume(request)
            return
        failed = [r.nodeid for r in self.summary.results if r.verdict in ("FAIL", "ERROR") and r.nodeid]
        if not failed:
            raise UsageProblem(f"--rerun-failed {self.run_dir}: that run has no FAIL or ERROR to run again")
        request.select = failed
        request.rerun_of = self.summary.run_id

    def _inherit_selection(self, request: RunRequest) -> None:
        chosen = self.selection
        request.cloud = request.cloud or chosen.get("cloud") or None
        request.device = request.device or chosen.get("device") or None
        request.network = request.network or chosen.get("network") or None
        request.keyword = request.keyword or chosen.get("keyword") or None
        if not request.tcs and chosen.get("tc"):
            request.tcs = str(chosen["tc"]).split(",")
        if not request.plugins and chosen.get("plugins"):
            request.plugins = str(chosen["plugins"]).split(",")

    def _resume(self, request: RunRequest) -> None:
        from harness.cli.run import Resume

        if not self.summary.interrupted and not self.summary.not_run:
            raise UsageProblem(f"--resume {self.run_dir}: that run finished; every test has a verdict")
        decided = [r.nodeid for r in self.summary.results if r.nodeid]
        part = 1 + sum(1 for _ in self.run_dir.glob("junit-resumed-*.xml"))
        started = _when(self.summary.started_at)
        request.resume = Resume(self.run_dir, started, self.summary.duration_s, decided, part)
        request.report_dir = self.run_dir.parent


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC)


def earlier_run(path: Path | None, *, resume: bool) -> EarlierRun:
    option = "--resume" if resume else "--rerun-failed"
    if path is None:
        raise HarnessError("broken invariant: path is not None")
    run_dir = resolve_run_dir(path)
    if not (run_dir / SUMMARY_FILE).is_file():
        raise UsageProblem(f"{option} {path}: not a run directory (no {SUMMARY_FILE})")
    try:
        summary = load_summary(run_dir / SUMMARY_FILE)
    except SummaryError as exc:
        raise UsageProblem(f"{option} {path}: {exc}") from None
    return EarlierRun(run_dir, summary, resume)


__all__ = ["EarlierRun", "earlier_run"]
