"""``report.html``: the certificate, rendered from ``summary.json`` with Jinja2.

One self-contained file that opens from disk with no network: CSS inline, no fonts or scripts from anywhere,
evidence images as ``data:`` URIs. Everything shown is escaped (autoescape on). Page 1: the verdict, an
"EMULATED ..." mark when anything was emulated, what did not pass (each with the deviation observed against the
requirement and a link to its evidence), the comparison with the previous run, the device (PID, firmware, the
capabilities claimed, the profile's hash), the lab and the summary by area; then every TC once with its
parametrisations as sub-rows (a TC that passed folded to its title line on screen, whole in print), the
traceability matrix (requirement -> TCs -> verdicts, "not covered" where no TC ran, sources named for a reader),
and the evidence of every test that did not pass, the timeline one click away.
Printed (or ``paircert report --pdf``): A4, each section on its own pages. What it says is worked out in
:mod:`harness.report.certificate`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.conformance.sources import cite_all
from harness.report.certificate import (
    claimed_capabilities,
    emulated_parts,
    group_by_tc,
    headline,
    injected_faults,
    lab_rows,
    problems,
    show,
    tc_verdict,
    title_of,
)
from harness.report.compare import Comparison, case_of
from harness.report.summary import VERDICT_ORDER, RunSummary, SummaryError, TestCaseResult, atomic_write_text

REPORT_FILE = "report.html"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_IMAGE_LIMIT = 2 * 1024 * 1024
_TEXT_LIMIT = 40_000
_FILES_PER_TEST = 12
_PAGE_ONE_PROBLEMS = 8  # what did not pass, listed on page 1; the rest are in the TC tables and the evidence


@dataclass
class EvidenceItem:
    name: str
    kind: str  # "image", "text" or "file" (linked, not inlined: a packet capture, say)
    data_uri: str = ""
    href: str = ""  # "file": the path relative to the run directory, where report.html lives
    text: str = ""
    truncated: bool = False


@dataclass
class RequirementRow:
    id: str
    area: str
    text: str
    source: str
    severity: str
    tcs: list[tuple[str, str]] = field(default_factory=list)  # (tc, verdict)
    sources: list[str] = field(default_factory=list)  # named for a reader (harness.conformance.sources)
    quote: str = ""

    @property
    def verdict(self) -> str:
        if not self.tcs:
            return "not covered"
        present = {v for _, v in self.tcs}
        return next(v for v in ("FAIL", "ERROR", "INCONCLUSIVE", "PASS", "N/A") if v in present)


def _catalogue() -> tuple[dict[str, Any], str]:
    """The requirement catalogue by id, and a note when it could not be read."""
    try:
        from harness.conformance.requirements import load_requirements

        return dict(load_requirements()), ""
    except Exception as exc:  # the report must render even without the catalogue
        return {}, f"requirement catalogue unavailable: {exc}"


def _evidence(run_dir: Path, result: TestCaseResult) -> list[EvidenceItem]:
    if not result.evidence:
        return []
    directory = (run_dir / result.evidence).resolve()
    if not directory.is_relative_to(run_dir.resolve()) or not directory.exists():
        return []
    files = [directory] if directory.is_file() else sorted(p for p in directory.iterdir() if p.is_file())
    names = {p.name for p in files}
    items: list[EvidenceItem] = []
    for path in files[:_FILES_PER_TEST]:
        suffix = path.suffix.lower()
        if suffix == ".png":
            data = path.read_bytes()
            if len(data) > _IMAGE_LIMIT:
                items.append(EvidenceItem(path.name, "text", text=f"(image of {len(data)} bytes not inlined)"))
                continue
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            items.append(EvidenceItem(path.name, "image", data_uri=uri))
        elif suffix in (".txt", ".log") or (suffix == ".json" and path.stem + ".txt" not in names):
            text = path.read_text(encoding="utf-8", errors="replace")
            items.append(EvidenceItem(path.name, "text", text=text[:_TEXT_LIMIT],
                                      truncated=len(text) > _TEXT_LIMIT))
        elif suffix != ".json":  # e.g. traffic-*.pcap: named, sized and linked for Wireshark
            href = path.relative_to(run_dir.resolve()).as_posix()  # the link itself, not where a symlink points
            items.append(EvidenceItem(path.name, "file", href=href, text=f"{path.stat().st_size:,} bytes"))
    kinds = {"image": 0, "text": 1, "file": 2}
    items.sort(key=lambda item: (kinds[item.kind], item.name != "timeline.txt", item.name))
    return items


@dataclass
class Problem:
    """A result that did not pass, as page 1 lists it and the evidence section shows it."""

    result: TestCaseResult
    title: str
    case: str
    headline: str
    requirements: list[tuple[str, str]]
    anchor: str
    evidence: list[EvidenceItem] = field(default_factory=list)
    cited: list[tuple[str, str, str]] = field(default_factory=list)  # (id, text, sources and the source's words)

    @property
    def timeline_events(self) -> int:
        timeline = next((item for item in self.evidence if item.name == "timeline.txt"), None)
        return 0 if timeline is None else sum(1 for line in timeline.text.splitlines() if not line.startswith("#"))


def _traceability(summary: RunSummary, catalogue: dict[str, Any]) -> list[RequirementRow]:
    rows: dict[str, RequirementRow] = {}
    for req in catalogue.values():
        rows[req.id] = RequirementRow(req.id, req.area, req.text, req.source, req.severity,
                                      sources=cite_all(req.sources), quote=req.quote or "")
    for result in summary.results:
        for req_id in result.requirements:
            row = rows.get(req_id)
            if row is None:
                row = rows[req_id] = RequirementRow(req_id, result.area, "(not in the requirement catalogue)", "",
                                                    "")
            if result.tc not in [tc for tc, _ in row.tcs]:
                row.tcs.append((result.tc, ""))
    verdicts: dict[str, list[str]] = {}
    for result in summary.results:
        verdicts.setdefault(result.tc, []).append(result.verdict)
    for row in rows.values():
        row.tcs = [(tc, tc_verdict(verdicts.get(tc, []))) for tc, _ in row.tcs]
    return sorted(rows.values(), key=lambda r: (r.area, r.id))


def _cited(rows: dict[str, RequirementRow], req_id: str) -> tuple[str, str, str]:
    row = rows.get(req_id)
    if row is None:
        return req_id, "(not in the requirement catalogue)", ""
    source = "; ".join(row.sources) + (f": “{row.quote}”" if row.quote else "")
    return req_id, row.text, source


def _comparison(summary: RunSummary) -> Comparison | None:
    if not summary.comparison:
        return None
    try:
        return Comparison.from_json(summary.comparison)
    except SummaryError:
        return None


def build_context(summary: RunSummary, run_dir: Path) -> dict[str, Any]:
    """Everything the template shows (:mod:`harness.report.certificate` works it out for people)."""
    catalogue, catalogue_note = _catalogue()
    requirement_rows = _traceability(summary, catalogue)
    requirement_text = {row.id: row.text for row in requirement_rows}
    found = problems(summary)
    anchors = {index: f"evidence-{n}" for n, (index, _) in enumerate(found, start=1)}
    shown_problems = _shown_problems(found, anchors, requirement_rows, run_dir)
    areas = _areas(summary)
    tcs = group_by_tc(summary, requirement_text, anchors)
    covered = sum(1 for r in requirement_rows if r.tcs)
    profile = summary.profile
    return {
        "s": summary,
        "verdicts": VERDICT_ORDER,
        "emulated": emulated_parts(summary.adapters),
        "faults": injected_faults(summary.adapters),
        "capabilities": claimed_capabilities(profile.get("capabilities") or {}),
        "lab": lab_rows(summary.adapters),
        "areas": areas,
        "problems": shown_problems,
        "first_problems": shown_problems[:_PAGE_ONE_PROBLEMS],
        "tcs_by_area": [(area, [t for t in tcs if t.area == area]) for area in dict.fromkeys(t.area for t in tcs)],
        "tc_count": len(tcs),
        "requirements": requirement_rows,
        "coverage": {"covered": covered, "total": len(requirement_rows)},
        "catalogue_note": catalogue_note,
        "comparison": _comparison(summary),
        "title": f"{profile.get('device') or profile.get('profile') or 'device'}",
    }


def _shown_problems(found: list[tuple[int, TestCaseResult]], anchors: dict[int, str],
                    requirement_rows: list[RequirementRow], run_dir: Path) -> list[Problem]:
    """Each FAIL, ERROR or INCONCLUSIVE as the report shows it: its case, headline, requirements and evidence."""
    by_id = {row.id: row for row in requirement_rows}
    return [Problem(r, title_of(r), case_of(r), headline(r.message),
                    [(rid, by_id[rid].text if rid in by_id else "") for rid in r.requirements], anchors[i],
                    _evidence(run_dir, r), [_cited(by_id, rid) for rid in r.requirements])
            for i, r in found]


def _areas(summary: RunSummary) -> list[dict[str, Any]]:
    """Per behaviour area: how many results of each verdict, the time spent and the TCs run."""
    areas = []
    for area, results in summary.by_area().items():
        counts = {v: sum(1 for r in results if r.verdict == v) for v in VERDICT_ORDER}
        areas.append({"name": area, "counts": counts, "duration_s": round(sum(r.duration_s for r in results), 3),
                      "tcs": len({r.tc for r in results})})
    return areas


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vclass"] = lambda verdict: {"N/A": "na", "not covered": "notcovered"}.get(
        str(verdict), str(verdict).lower())
    env.filters["show"] = show
    return env


def render_html(summary: RunSummary, run_dir: Path) -> str:
    """The report as a string."""
    return _environment().get_template("report.html.j2").render(**build_context(summary, run_dir))


def write_html(summary: RunSummary, run_dir: Path) -> Path:
    """Render and write ``report.html`` in the run directory."""
    path = run_dir / REPORT_FILE
    atomic_write_text(path, render_html(summary, run_dir))
    return path


__all__ = ["REPORT_FILE", "TEMPLATES_DIR", "build_context", "render_html", "write_html"]
