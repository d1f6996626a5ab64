"""Hooks the paircert plugin adds to pytest; implement them in a ``conftest.py`` or a plugin.

- :func:`pytest_paircert_make_world` builds the world a run talks to (the default builds it with
  :func:`harness.adapters.registry.build_world`); a test harness of the harness returns a fake one here.
- :func:`pytest_paircert_tc_result` hears every test case's result as it finishes, on the controller
  (what ``paircert run`` shows as live progress); the same record is a line of ``results.jsonl``.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_paircert_make_world(config: pytest.Config, profile: Any, cloud: str | None, device: str | None,
                               network: str | None, seed: int) -> Any:
    """Return the world (clock, cloud, device, network, info(), new_device(), close()) for this process."""


def pytest_paircert_tc_result(config: pytest.Config, result: dict[str, Any]) -> None:
    """A test case finished: ``result`` is its results.jsonl record (tc, reqs, verdict, duration_s, ...)."""
