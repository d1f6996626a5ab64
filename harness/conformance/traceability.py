"""Traceability between a requirement catalogue and the TCs that check it: every TC names known requirements, and
every requirement of a catalogue is checked by some TC.

The TCs are read from the test files' source (each ``@pytest.mark.tc("TC-...", reqs=[...])`` call with literal
arguments), so the check needs no pytest run and cannot drift from what the suites say. paircert's own catalogue
is checked against the bundled suites by the project's tests; a vendor's catalogue against the vendor's suite
directories by the plugin, before the first test (:mod:`harness.plugin.hooks`).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path


def _literal_strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return [str(e.value) for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def tc_markers(directories: Iterable[Path]) -> dict[str, set[str]]:
    """TC id -> the requirement ids its ``tc`` marker names, over every ``test_*.py`` under ``directories``."""
    found: dict[str, set[str]] = defaultdict(set)
    for directory in directories:
        for path in sorted(Path(directory).rglob("test_*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "tc"):
                    continue
                if not node.args or not isinstance(node.args[0], ast.Constant):
                    continue
                reqs = found[str(node.args[0].value)]
                for keyword in node.keywords:
                    if keyword.arg == "reqs":
                        reqs.update(_literal_strings(keyword.value))
    return dict(found)


def problems(known: Iterable[str], markers: Mapping[str, set[str]], *, must_be_checked: Iterable[str]) -> list[str]:
    """What breaks traceability: a TC naming no requirement or an unknown one, a requirement of
    ``must_be_checked`` that no TC names. Empty when all is well."""
    known_ids = set(known)
    found = []
    for tc, reqs in sorted(markers.items()):
        if not reqs:
            found.append(f"{tc} names no requirement")
        unknown = sorted(reqs - known_ids)
        if unknown:
            found.append(f"{tc} names unknown requirement(s) {', '.join(unknown)}")
    checked = set().union(*markers.values()) if markers else set()
    unchecked = [req for req in must_be_checked if req not in checked]
    if unchecked:
        found.append(f"no TC checks {', '.join(unchecked)}")
    return found


__all__ = ["problems", "tc_markers"]
