"""The stateful pairing model on the emulated world, in every binding mode (REQ-FUZZ-005)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.registry import World, build_world
from harness.profiles import load_profile
from harness.stateful import PairingTarget, run_pairing_machine
from harness.strategies import budget_settings

PROFILES = ["camera-strong", "plug-medium", "bulb-weak"]


@pytest.fixture(params=PROFILES, scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = build_world(load_profile(request.param), seed=11)
    yield w
    w.close()


def test_the_emulated_world_agrees_with_the_model(world: World) -> None:
    target = PairingTarget.from_world(world)
    run_pairing_machine(target, budget_settings("ci", max_examples=10, stateful_step_count=10), time_limit_s=60)
