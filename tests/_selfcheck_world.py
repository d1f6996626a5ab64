"""A world builder for the self-check: the profile's world with the camera and cloud faults the environment names.

Loaded with ``-p _selfcheck_world`` (tests/ on ``sys.path``); ``PAIRCERT_DEVICE_FAULTS``,
``PAIRCERT_CLOUD_FAULTS`` and ``PAIRCERT_ACTIVATOR_FAULTS`` are comma-separated fault names
(:mod:`harness.emulator.camera.faults`, :mod:`harness.emulator.cloud.faults`, :mod:`harness.app.faults`, the last
named to the lab through ``pytest_paircert_activator_class``). Without camera or cloud faults, the plugin's own
world builder runs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def _names(variable: str) -> list[str]:
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


@pytest.hookimpl(tryfirst=True)
def pytest_paircert_make_world(config: pytest.Config, profile: Any, cloud: str | None, device: str | None,
                               network: str | None, seed: int) -> Any:
    from harness.adapters.registry import build_world

    variables = ("PAIRCERT_DEVICE_FAULTS", "PAIRCERT_CLOUD_FAULTS")
    if not any(_names(variable) for variable in variables):
        return None
    overrides: dict[str, dict[str, Any]] = {}
    if _names("PAIRCERT_DEVICE_FAULTS"):
        overrides["device"] = {"faults": _names("PAIRCERT_DEVICE_FAULTS")}
    if _names("PAIRCERT_CLOUD_FAULTS"):
        overrides["cloud"] = {"faults": _names("PAIRCERT_CLOUD_FAULTS")}
    return build_world(profile, cloud=cloud, device=device, network=network, seed=seed, overrides=overrides)


@pytest.hookimpl(tryfirst=True)
def pytest_paircert_activator_class(config: pytest.Config) -> Any:
    """The faulty app side ``PAIRCERT_ACTIVATOR_FAULTS`` names (None: the plugin's own Activator)."""
    from harness.app.faults import activator_class

    names = _names("PAIRCERT_ACTIVATOR_FAULTS")
    return activator_class(names) if names else None
