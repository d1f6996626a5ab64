"""Comparing two runs of a device: what regressed, what was fixed, which TCs are new and which went away.

What a vendor validating builds looks at first. Test cases are matched by TC id and parametrisation (the ``[...]``
of the nodeid), not by file: a suite file renamed between two versions compares the same. A *regression* is a case
that is now FAIL or ERROR and was better before (PASS, N/A, INCONCLUSIVE, or ERROR that became FAIL); a *fix* is a
case that was FAIL or ERROR and now PASSes; every other change of verdict is listed as *changed*. A TC is *new*
when the old run did not have it, *removed* when the new one does not.

:func:`previous_run` finds the run a new one is compared with automatically: the newest earlier run of the same
profile in the same report directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.report.summary import SUMMARY_FILE, RunSummary, SummaryError, TestCaseResult, load_summary

#: how bad a verdict is, for telling regressions from other changes
_RANK = {"PASS": 0, "N/A": 0, "INCONCLUSIVE": 1, "ERROR": 2, "FAIL": 3}
_LOOK_BACK = 50  # earlier runs read at most, newest first, when looking for the previous run of a profile


@dataclass(frozen=True)
class CaseChange:
    """One test case whose verdict changed: its TC, its parametrisation ('' when none), both verdicts."""

    tc: str
    case: str
    old: str
    new: str
    title: str = ""
    message: str = ""  # the new run's message

    @property
    def label(self) -> str:
        return f"{self.tc} [{self.case}]" if self.case else self.tc


@dataclass
class Comparison:
    """What changed from ``old_run`` to ``new_run`` (see the module's docstring)."""

    old_run: str
    new_run: str
    old_started_at: str = ""
    old_verdict: str = ""
    old_firmware: str = ""
    new_firmware: str = ""
    profile_changed: bool = False  # the profile's hash differs: the two runs did not claim the same
    regressions: list[CaseChange] = field(default_factory=list)
    fixes: list[CaseChange] = field(default_factory=list)
    changed: list[CaseChange] = field(default_factory=list)
    new_tcs: list[str] = field(default_factory=list)
    removed_tcs: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.regressions or self.fixes or self.changed or self.new_tcs or self.removed_tcs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        """The comparison a summary keeps (``summary.comparison``); a SummaryError when it is not one."""
        try:
            comparison = cls(**{k: v for k, v in data.items() if k not in ("regressions", "fixes", "changed")})
            comparison.regressions = [CaseChange(**c) for c in data.get("regressions", [])]
            comparison.fixes = [CaseChange(**c) for c in data.get("fixes", [])]
            comparison.changed = [CaseChange(**c) for c in data.get("changed", [])]
            return comparison
        except TypeError as exc:
            raise SummaryError(f"comparison: {exc}") from None

    def lines(self) -> list[str]:
        """The comparison as text, one finding a line."""
        head = f"{self.old_run} ({self.old_verdict or 'verdict unknown'}) -> {self.new_run}"
        if self.old_firmware != self.new_firmware:
            head += f"; firmware {self.old_firmware or 'unknown'} -> {self.new_firmware or 'unknown'}"
        out = [head]
        if self.profile_changed:
            out.append("the profile changed between the two runs (its SHA-256 differs)")
        for title, changes in (("regression", self.regressions), ("fixed", self.fixes), ("changed", self.changed)):
            out += [f"{title}: {c.label} {c.old} -> {c.new}" + (f" ({c.message})" if c.message and c.new != "PASS"
                                                               else "") for c in changes]
        out += [f"new: {tc}" for tc in self.new_tcs] + [f"removed: {tc}" for tc in self.removed_tcs]
        if self.unchanged:
            out.append("no verdict changed, no TC is new or removed")
        return out


def case_of(result: TestCaseResult) -> str:
    """A result's parametrisation: the ``[...]`` of its nodeid ('' when it has none)."""
    _, bracket, rest = result.nodeid.partition("[")
    return rest[:-1] if bracket and rest.endswith("]") else ""


def _cases(summary: RunSummary) -> dict[tuple[str, str], TestCaseResult]:
    return {(r.tc, case_of(r)): r for r in summary.results}


def _kind(old: str, new: str) -> str:
    if new in ("FAIL", "ERROR") and (_RANK[new] > _RANK[old]):
        return "regression"
    if old in ("FAIL", "ERROR") and new == "PASS":
        return "fix"
    return "changed"


def compare(old: RunSummary, new: RunSummary) -> Comparison:
    """What changed from ``old`` to ``new``."""
    comparison = Comparison(
        old_run=old.run_id, new_run=new.run_id, old_started_at=old.started_at, old_verdict=old.verdict,
        old_firmware=old.firmware, new_firmware=new.firmware,
        profile_changed=old.profile.get("sha256") != new.profile.get("sha256"))
    before, after = _cases(old), _cases(new)
    buckets = {"regression": comparison.regressions, "fix": comparison.fixes, "changed": comparison.changed}
    for key in sorted(set(before) & set(after)):
        was, now = before[key], after[key]
        if was.verdict != now.verdict:
            buckets[_kind(was.verdict, now.verdict)].append(
                CaseChange(key[0], key[1], was.verdict, now.verdict, now.title or was.title, now.message))
    old_tcs, new_tcs = {tc for tc, _ in before}, {tc for tc, _ in after}
    comparison.new_tcs = sorted(new_tcs - old_tcs)
    comparison.removed_tcs = sorted(old_tcs - new_tcs)
    return comparison


def previous_run(run_dir: Path, profile: str) -> tuple[Path, RunSummary] | None:
    """The newest run before ``run_dir`` in its report directory with the same profile name (and a readable
    summary), or None."""
    earlier = sorted((p for p in run_dir.parent.iterdir() if p.is_dir() and not p.is_symlink()
                      and p.name < run_dir.name and (p / SUMMARY_FILE).is_file()), reverse=True)
    for candidate in earlier[:_LOOK_BACK]:
        try:
            summary = load_summary(candidate / SUMMARY_FILE)
        except SummaryError:
            continue
        if summary.profile.get("profile") == profile and summary.results:
            return candidate, summary
    return None


__all__ = ["CaseChange", "Comparison", "case_of", "compare", "previous_run"]
