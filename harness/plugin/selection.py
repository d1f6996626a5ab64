"""Choosing which suite tests run: by TC id (``--paircert-tc``, a glob such as ``TC-QR-*``, repeatable) and by
lists of node ids, one per line (``--paircert-select FILE``: only these, what ``paircert run --rerun-failed`` hands
over; ``--paircert-exclude FILE``: not these, what ``--resume`` hands over). Tests left out are reported as
deselected, as ``-k`` does."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest


def add_selection_options(group: pytest.OptionGroup) -> None:
    group.addoption("--paircert-tc", dest="paircert_tc", action="append", default=[], metavar="TC-ID",
                    help="run only the tests of this TC id (a glob such as 'TC-QR-*'; repeatable)")
    group.addoption("--paircert-select", dest="paircert_select", default=None, metavar="FILE",
                    help="run only the node ids listed in FILE, one per line")
    group.addoption("--paircert-exclude", dest="paircert_exclude", default=None, metavar="FILE",
                    help="leave out the node ids listed in FILE, one per line (what a resumed run already decided)")


def _node_ids(path: str) -> set[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"--paircert-select {path}: cannot read it: {exc.strerror}") from None
    return {line.strip() for line in text.splitlines() if line.strip()}


def wanted(item: pytest.Item, patterns: list[str], node_ids: set[str] | None,
           excluded: frozenset[str] = frozenset()) -> bool:
    """Whether ``item`` is selected by the TC id globs (any) and the node id lists (when given)."""
    if (node_ids is not None and item.nodeid not in node_ids) or item.nodeid in excluded:
        return False
    if not patterns:
        return True
    from harness.plugin.stash import TC_KEY  # here: an inert plugin imports no more than it must

    tc = item.stash.get(TC_KEY, None)
    return tc is not None and any(fnmatch.fnmatchcase(tc.id, p.strip().upper()) for p in patterns)


def apply_selection(config: pytest.Config, items: list[pytest.Item]) -> None:
    patterns = [p for p in config.getoption("paircert_tc", None) or [] if p.strip()]
    select = config.getoption("paircert_select", None)
    exclude = config.getoption("paircert_exclude", None)
    node_ids = _node_ids(select) if select else None
    excluded = frozenset(_node_ids(exclude)) if exclude else frozenset()
    if not patterns and node_ids is None and not excluded:
        return
    keep = [item for item in items if wanted(item, patterns, node_ids, excluded)]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


__all__ = ["add_selection_options", "apply_selection", "wanted"]
