"""``report.html``: the one-page certificate, rendered from ``summary.json`` with Jinja2.

One self-contained file that opens from disk with no network: CSS inline, no fonts or scripts from anywhere,
evidence images as ``data:`` URIs. Everything shown is escaped (autoescape on). It shows the overall verdict,
the device and environment, a table per area, every TC with its verdict, requirement text and duration, the
traceability matrix (requirement -> TCs -> verdicts, "not covered" where no TC ran), and the evidence of every
test that did not pass.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.report.summary import VERDICT_ORDER, RunSummary, TestCaseResult, atomic_write_text

REPORT_FILE = "report.html"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_IMAGE_LIMIT = 2 * 1024 * 1024
_TEXT_LIMIT = 40_000
_FILES_PER_TEST = 12
_SHOW_EVIDENCE_FOR = ("FAIL", "ERROR", "INCONCLUSIVE")


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


def build_context(summary: RunSummary, run_dir: Path) -> dict[str, Any]:
    """Everything the template shows."""
    catalogue, catalogue_note = _catalogue()
    rows: dict[str, RequirementRow] = {}
    for req in catalogue.values():
        rows[req.id] = RequirementRow(req.id, req.area, req.text, req.source, req.severity)
    for result in summary.results:
        for req_id in result.requirements:
            row = rows.get(req_id)
            if row is None:
                row = rows[req_id] = RequirementRow(req_id, result.area, "(not in the requirement catalogue)", "",
                                                    "")
            if (result.tc, result.verdict) not in row.tcs:
                row.tcs.append((result.tc, result.verdict))
    areas = []
    for area, results in summary.by_area().items():
        counts = {v: sum(1 for r in results if r.verdict == v) for v in VERDICT_ORDER}
        areas.append({"name": area, "results": results, "counts": counts,
                      "duration_s": round(sum(r.duration_s for r in results), 3)})
    failures = [{"result": r, "evidence": _evidence(run_dir, r)}
                for r in summary.results if r.verdict in _SHOW_EVIDENCE_FOR]
    requirement_rows = sorted(rows.values(), key=lambda r: (r.area, r.id))
    covered = sum(1 for r in requirement_rows if r.tcs)
    return {
        "s": summary,
        "verdicts": VERDICT_ORDER,
        "areas": areas,
        "failures": failures,
        "requirements": requirement_rows,
        "requirement_text": {rid: row.text for rid, row in rows.items()},
        "coverage": {"covered": covered, "total": len(requirement_rows)},
        "catalogue_note": catalogue_note,
    }


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
