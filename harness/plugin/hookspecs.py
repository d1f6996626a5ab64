"""Hooks the paircert plugin adds to pytest; implement them in a ``conftest.py`` or a plugin.

- :func:`pytest_paircert_make_world` builds the world a run talks to (the default builds it with
  :func:`harness.adapters.registry.build_world`); a test harness of the harness returns a fake one here.
- :func:`pytest_paircert_activator_class` names the app side the lab pairs with (the default is
  :class:`harness.app.activator.Activator`; the self-check returns a faulty one of :mod:`harness.app.faults`).
- :func:`pytest_paircert_tc_result` hears every test case's result as it finishes, on the controller
  (what ``paircert run`` shows as live progress); the same record is a line of ``results.jsonl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.adapters.contracts import World
    from harness.app.activator import Activator
    from harness.profiles import Profile


@pytest.hookspec(firstresult=True)
def pytest_paircert_make_world(config: pytest.Config, profile: Profile, cloud: str | None, device: str | None,
                               network: str | None, seed: int) -> World | None:
    """Return the :class:`~harness.adapters.contracts.World` for this process (None: let the next hook decide)."""


@pytest.hookspec(firstresult=True)
def pytest_paircert_activator_class(config: pytest.Config) -> type[Activator] | None:
    """Return the activator class the lab pairs with (None: let the next hook decide)."""


def pytest_paircert_tc_result(config: pytest.Config, result: dict[str, Any]) -> None:
    """A test case finished: ``result`` is its results.jsonl record (tc, reqs, verdict, duration_s, ...)."""
