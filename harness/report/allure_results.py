"""Allure results that read like the certificate: paircert's verdicts, titles, requirements and evidence written
into the ``--alluredir`` that allure-pytest filled.

allure-pytest decides a result's status from the exception's type and names it after the Python function. After
the run (in the controller, once every worker is done) this:

- names each TC's result ``TC-QR-007 <title>`` (:mod:`harness.conformance.titles`) and sets its status from the
  verdict: FAIL ``failed``, ERROR ``broken``, N/A and INCONCLUSIVE ``skipped`` with the verdict in the message;
- adds each requirement as a ``requirement`` label and a link (to the requirement's anchor in ``report.html``),
  and the requirements' sentences to the description;
- attaches the test's evidence files (timeline, QR images, texts, pcaps) that are not attached yet;
- writes ``environment.properties`` (profile, firmware, adapters, seed, ...) and ``categories.json`` (the device's
  FAIL, the harness's ERROR, and the blocked: N/A and INCONCLUSIVE).

Allure 2 and Allure 3 (``npx allure generate``) both read these files.
"""

from __future__ import annotations

import json
import mimetypes
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

NODEID_LABEL = "paircert_nodeid"
STATUS = {"PASS": "passed", "FAIL": "failed", "ERROR": "broken", "N/A": "skipped", "INCONCLUSIVE": "skipped"}
CATEGORIES: list[dict[str, Any]] = [
    {"name": "FAIL: the device or cloud broke a requirement", "matchedStatuses": ["failed"]},
    {"name": "ERROR: the harness, an adapter or the lab broke (not the device's fault)",
     "matchedStatuses": ["broken"]},
    {"name": "Blocked: N/A, a capability the profile does not claim", "matchedStatuses": ["skipped"],
     "messageRegex": "N/A:.*"},
    {"name": "Blocked: INCONCLUSIVE, could not be decided", "matchedStatuses": ["skipped"],
     "messageRegex": "INCONCLUSIVE:.*"},
]
_TYPES = {".pcap": "application/vnd.tcpdump.pcap", ".json": "application/json", ".txt": "text/plain",
          ".png": "image/png"}


def write_environment(alluredir: Path, environment: Mapping[str, str]) -> Path:
    """``environment.properties``: one ``key = value`` line each (the Allure report's Environment panel)."""
    def escape(text: str) -> str:
        return str(text).replace("\\", "\\\\").replace("\n", "\\n")

    path = alluredir / "environment.properties"
    path.write_text("".join(f"{escape(k).replace(' ', '_')} = {escape(v)}\n" for k, v in environment.items()),
                    encoding="utf-8")
    return path


def write_categories(alluredir: Path) -> Path:
    path = alluredir / "categories.json"
    path.write_text(json.dumps(CATEGORIES, indent=1), encoding="utf-8")
    return path


def _attach(alluredir: Path, data: dict[str, Any], files: Iterable[Path]) -> None:
    attachments: list[dict[str, Any]] = data.setdefault("attachments", [])
    present = {a.get("name") for a in attachments} | {Path(str(a.get("name"))).stem for a in attachments}
    for path in files:
        if path.name in present or path.stem in present:
            continue
        target = f"{uuid.uuid4()}-attachment{path.suffix}"
        shutil.copyfile(path, alluredir / target)
        kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        attachments.append({"name": path.name, "source": target, "type": kind})


def _requirements(data: dict[str, Any], result: Mapping[str, Any], catalogue: Mapping[str, Any]) -> None:
    labels: list[dict[str, Any]] = data.setdefault("labels", [])
    links: list[dict[str, Any]] = data.setdefault("links", [])
    lines = []
    for req in result.get("reqs", []):
        labels.append({"name": "requirement", "value": req})
        links.append({"name": req, "url": f"../report.html#{req}", "type": "requirement"})
        requirement = catalogue.get(req)
        if requirement is not None:
            lines.append(f"- **{req}** ({requirement.source}): {requirement.text}")
    if lines:
        data["description"] = "\n".join(["Requirements checked:", "", *lines])


def rewrite_results(alluredir: Path, results: Iterable[Mapping[str, Any]], *, evidence_root: Path | None,
                    catalogue: Mapping[str, Any]) -> int:
    """Rewrite allure-pytest's ``*-result.json`` files from paircert's results; returns how many were rewritten."""
    by_nodeid = {str(r["nodeid"]): r for r in results if r.get("nodeid")}
    rewritten = 0
    for path in sorted(alluredir.glob("*-result.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        nodeid = next((lb.get("value") for lb in data.get("labels", []) if lb.get("name") == NODEID_LABEL), None)
        result = by_nodeid.get(str(nodeid)) if nodeid else None
        if result is None:
            continue
        verdict = str(result.get("verdict"))
        data["name"] = result.get("name") or data.get("name")
        data["status"] = STATUS.get(verdict, "unknown")
        details = data.setdefault("statusDetails", {}) or {}
        details["message"] = f"{verdict}: {result.get('message')}" if verdict != "PASS" else ""
        data["statusDetails"] = details
        data["labels"] = [lb for lb in data.get("labels", []) if lb.get("name") != NODEID_LABEL]
        data["labels"].append({"name": "verdict", "value": verdict})
        _requirements(data, result, catalogue)
        evidence = result.get("evidence")
        if evidence and evidence_root is not None:
            directory = (evidence_root / str(evidence)).resolve()
            if directory.is_dir():
                _attach(alluredir, data, sorted(p for p in directory.iterdir() if p.is_file()))
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        rewritten += 1
    return rewritten


__all__ = ["CATEGORIES", "NODEID_LABEL", "STATUS", "rewrite_results", "write_categories", "write_environment"]
