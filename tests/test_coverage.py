"""Traceability: every requirement of the catalogue has at least one TC in the bundled suites, and every TC
names only known requirements. Read from the suites' source (the ``tc`` markers), so it cannot drift."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from harness.conformance.requirements import load_requirements

SUITES = Path(__file__).resolve().parent.parent / "suites"


def tc_markers() -> dict[str, set[str]]:
    """TC id -> the requirement ids its ``@pytest.mark.tc(...)`` names, over every suite module."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SUITES.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "tc"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            tc = str(node.args[0].value)
            for kw in node.keywords:
                if kw.arg == "reqs" and isinstance(kw.value, ast.List | ast.Tuple):
                    found[tc].update(str(e.value) for e in kw.value.elts if isinstance(e, ast.Constant))
    return dict(found)


def test_the_reader_finds_the_suites_tcs() -> None:
    markers = tc_markers()
    assert "TC-TOKEN-001" in markers and "REQ-TOKEN-001" in markers["TC-TOKEN-001"]


def test_every_requirement_has_a_tc() -> None:
    covered = set().union(*tc_markers().values())
    missing = [rid for rid in load_requirements() if rid not in covered]
    assert not missing, f"requirements with no TC in suites/: {', '.join(missing)}"


def test_every_tc_names_known_requirements() -> None:
    known = set(load_requirements())
    unknown = {tc: sorted(reqs - known) for tc, reqs in tc_markers().items() if reqs - known}
    assert not unknown, f"TCs naming unknown requirements: {unknown}"
    assert all(reqs for reqs in tc_markers().values()), "a TC names no requirement"
