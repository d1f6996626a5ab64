"""The stateful pairing model on the emulated world, in every binding mode (REQ-FUZZ-005)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.registry import ProfileWorld, build_world
from harness.profiles import load_profile
from harness.testing.stateful import PairingTarget, run_pairing_machine
from harness.testing.strategies import budget_settings

PROFILES = ["camera-strong", "plug-medium", "bulb-weak"]


@pytest.fixture(params=PROFILES, scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[ProfileWorld]:
    w = build_world(load_profile(request.param), seed=11)
    yield w
    w.close()


def test_the_emulated_world_agrees_with_the_model(world: ProfileWorld) -> None:
    target = PairingTarget.from_world(world)
    run_pairing_machine(target, budget_settings("ci", max_examples=10, stateful_step_count=10))


def test_a_cloud_that_breaks_the_model_is_a_device_failure_so_the_suites_say_fail() -> None:
    """A model check raised inside harness/ must read as the system under test's failure, not the harness's."""
    from hypothesis import Phase

    from harness.conformance.verdicts import DeviceFailure, Verdict, classify

    faulty = build_world(load_profile("camera-strong"), seed=11, overrides={"cloud": {"faults": ["token-reusable"]}})
    try:
        with pytest.raises(DeviceFailure) as caught:
            budget = budget_settings("ci", max_examples=30, stateful_step_count=10,
                                     phases=[Phase.generate])  # found is enough: no shrinking
            run_pairing_machine(PairingTarget.from_world(faulty), budget)
    finally:
        faulty.close()
    assert str(caught.traceback[-1].path).endswith("harness/testing/stateful.py")
    assert classify(caught.value, phase="call")[0] is Verdict.FAIL
