"""The keys of what the plugin keeps in pytest's stash: the run (on the config), and for each suite test its parsed
``tc`` marker, its title, its ``requires`` needs and its running state (on the item). A module of its own, so that
every part of the plugin can read them without importing the hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # named in the keys' types (strings, so that nothing is imported at run time)
    from typing import Any  # noqa: F401

    from harness.plugin.markers import TcMark  # noqa: F401
    from harness.plugin.run import ItemState, Run  # noqa: F401

RUN_KEY = pytest.StashKey["Run | None"]()
TC_KEY = pytest.StashKey["TcMark"]()
NEEDS_KEY = pytest.StashKey["tuple[Any, ...]"]()
STATE_KEY = pytest.StashKey["ItemState"]()
TITLE_KEY = pytest.StashKey[str]()  # the TC's title (harness.conformance.titles)

__all__ = ["NEEDS_KEY", "RUN_KEY", "STATE_KEY", "TC_KEY", "TITLE_KEY"]
