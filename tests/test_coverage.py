"""Traceability: every requirement of the catalogue has at least one TC in the bundled suites, and every TC
names only known requirements. Read from the suites' source (the ``tc`` markers), so it cannot drift."""

from __future__ import annotations

from harness import bundled
from harness.conformance.requirements import load_requirements
from harness.conformance.traceability import problems
from harness.conformance.traceability import tc_markers as read_markers

SUITES = bundled.suites_dir()


def tc_markers() -> dict[str, set[str]]:
    """TC id -> the requirement ids its ``@pytest.mark.tc(...)`` names, over every suite module."""
    return read_markers([SUITES])


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


def test_the_library_check_agrees() -> None:
    assert problems(load_requirements(), tc_markers(), must_be_checked=load_requirements()) == []
    broken = {"TC-X-001": {"REQ-QR-001", "REQ-NOPE-001"}, "TC-X-002": set()}
    assert problems(load_requirements(), broken, must_be_checked=["REQ-QR-001", "REQ-QR-002"]) == [
        "TC-X-001 names unknown requirement(s) REQ-NOPE-001", "TC-X-002 names no requirement",
        "no TC checks REQ-QR-002"]
