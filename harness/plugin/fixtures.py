"""The plugin's fixtures: the profile, the world and its adapters (session), the device, lab, activator and evidence
of each test (function). Registered only when a run names a profile (:mod:`harness.plugin.entry`), so their common
names (``device``, ``cloud``, ``profile``, ...) never shadow another project's fixtures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from harness.plugin.hooks import _run
from harness.plugin.run import ItemState, Run
from harness.plugin.stash import STATE_KEY, TC_KEY

if TYPE_CHECKING:
    from harness.adapters.contracts import CloudAdapter, DeviceAdapter, NetworkAdapter, World
    from harness.app.activator import Activator
    from harness.clock import Clock
    from harness.conformance.lab import Lab
    from harness.evidence import EvidenceRecorder
    from harness.profiles import Profile


def _require_run(config: pytest.Config) -> Run:
    run = _run(config)
    if run is None:
        pytest.fail("paircert's fixtures need a device profile: pass --paircert-profile NAME|PATH "
                    "(or set PAIRCERT_PROFILE, or ini paircert_profile)", pytrace=False)
    return run


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> Profile:
    """The device profile of this run (--paircert-profile)."""
    return _require_run(pytestconfig).profile


@pytest.fixture(scope="session")
def world(pytestconfig: pytest.Config) -> World:
    """The world built from the profile and the adapter options; one per process, closed at session end."""
    return _require_run(pytestconfig).world()


@pytest.fixture(scope="session")
def clock(world: World) -> Clock:
    return world.clock


@pytest.fixture(scope="session")
def cloud(world: World) -> CloudAdapter:
    return world.cloud


@pytest.fixture(scope="session")
def network(world: World) -> NetworkAdapter:
    return world.network


@pytest.fixture
def device(request: pytest.FixtureRequest, world: World) -> DeviceAdapter:
    """The device under test, released by its owner, after a factory reset, in pairing mode (a power cycle when a
    reset does not bring pairing mode back; once that fails too, later tests are INCONCLUSIVE: blocked)."""
    run = _require_run(request.config)
    state: ItemState | None = request.node.stash.get(STATE_KEY, None)
    if state is not None:
        state.started = world.clock.time() if state.started is None else state.started
        state.devices.append(world.device)
    run.preparer.prepare(world.device, for_test=request.node.nodeid, cloud=world.cloud,
                         evidence=state.recorder if state is not None else None)
    return world.device


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> EvidenceRecorder:
    """The test's evidence recorder: note(), attach_image(), attach_text(), timeline."""
    run = _require_run(request.config)
    state: ItemState | None = request.node.stash.get(STATE_KEY, None)
    if state is not None:
        return state.recorder
    from harness.evidence import EvidenceRecorder

    return EvidenceRecorder("no-tc", request.node.nodeid, redactor=run.redactor, now=run.now,
                            virtual=run.clock_is_virtual)


@pytest.fixture
def lab(request: pytest.FixtureRequest, world: World, evidence: EvidenceRecorder) -> Iterator[Lab]:
    """Accounts, homes, members, Wi-Fi, pairing and time travel in the suites' words; the networks the test made
    are removed after it."""
    from harness.conformance.lab import Lab

    run = _require_run(request.config)
    node = request.node
    tc = node.stash.get(TC_KEY, None)
    helper = Lab(world, run.profile, evidence=evidence, redactor=run.redactor,
                 device=lambda: request.getfixturevalue("device"), activator_class=run.activator_class(),
                 rng=random.Random(f"{run.seed}:{node.nodeid}"), slow=node.get_closest_marker("slow") is not None,
                 prefix=tc.id if tc is not None else "lab")
    state: ItemState | None = node.stash.get(STATE_KEY, None)
    if state is not None:
        state.lab = helper
        state.started = world.clock.time() if state.started is None else state.started
    yield helper
    helper.close()


@pytest.fixture
def activator(lab: Lab) -> Activator:
    """An app-side Activator signed in as a fresh account, for the test's device."""
    return lab.activator(lab.account())
