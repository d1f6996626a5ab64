"""The lab vocabulary the suites speak (harness.conformance.lab), on the emulated world: what the cloud shows of a
device, a device that survived bad input or did not, licences and raw activations with their secrets learned,
pairing with the app's options, and the bounded poll."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from harness.adapters.contracts import AdapterError, DeviceAdapter, DeviceEvent, World
from harness.adapters.registry import build_world
from harness.app.activator import EzOptions, QrOptions
from harness.conformance.lab import Lab, eventually, release_device
from harness.conformance.verdicts import DeviceFailure
from harness.evidence import EvidenceRecorder
from harness.profiles import load_profile
from harness.redaction import Redactor


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = build_world(load_profile("camera-strong"), seed=5)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def lab(world: World) -> Lab:
    release_device(world.cloud, world.device)
    return Lab(world, world.profile, evidence=EvidenceRecorder("TC-LAB-000", "test_lab"), redactor=Redactor(),
               device=lambda: world.device, rng=random.Random(3))


def test_a_pairing_shows_the_device_in_its_home_only(lab: Lab) -> None:
    first, chosen = lab.home(), lab.home()
    assert not lab.is_bound() and lab.homes_holding([first, chosen]) == []
    assert lab.pair("qr", home=chosen).ok
    assert lab.holds(chosen) and not lab.holds(first)
    assert lab.homes_holding([first, chosen]) == [chosen]
    assert lab.is_bound()


def test_pairing_options_reach_the_app_and_the_evidence(lab: Lab) -> None:
    assert lab.pair("qr", options=QrOptions(key_order="tps")).ok
    outcome_text = lab.evidence.texts["qr-text"]
    assert outcome_text.startswith('{"t":'), outcome_text
    lab.press_reset()
    assert lab.pair("ez", options=EzOptions(channels=("broadcast",))).ok
    starts = [e.details for e in lab.evidence.timeline if e.kind == "activator" and e.name == "start"]
    assert "EzOptions(channels=('broadcast',)" in str(starts[-1]["options"])


def test_issued_licences_and_raw_activations_teach_the_redactor_their_secrets(lab: Lab) -> None:
    licence = lab.issue_licence()
    assert licence.auth_key not in lab.redactor.redact(f"key {licence.auth_key}")
    home = lab.home()
    reply = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=licence.pid or lab.device.pid,
                                   home=home)
    assert reply.accepted and reply.sec_key and reply.local_key
    for secret in (reply.sec_key, reply.local_key):
        assert secret not in lab.redactor.redact(f"<{secret}>")
    holder = [d.uuid for d in lab.cloud.list_devices(home)]
    assert holder == [licence.uuid]
    names = [e.name for e in lab.evidence.timeline if e.kind == "lab"]
    assert "licence" in names and "raw activation" in names


def test_a_raw_activation_with_a_token_of_its_own_uses_it(lab: Lab) -> None:
    licence = lab.issue_licence()
    token = lab.activator().get_token(lab.home())
    first = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=lab.device.pid, token=token)
    other = lab.issue_licence()
    again = lab.activate_as_device(uuid=other.uuid, auth_key=other.auth_key, pid=lab.device.pid, token=token)
    assert first.accepted and not again.accepted  # the token was consumed by the first


def test_a_device_in_pairing_mode_is_still_pairing(lab: Lab) -> None:
    lab.expect_still_pairing("nothing at all")


class _Stuck:
    """A device that is alive or dead, never in pairing mode, and records its power cycles."""

    name = "stuck"
    capabilities = frozenset({"power-cycle", "liveness"})
    pid = "p" * 16

    def __init__(self, alive: bool) -> None:
        self.alive = alive
        self.cycles = 0

    def wait_pairing_mode(self, timeout: float) -> None:
        raise AdapterError("not in pairing mode")

    def is_alive(self) -> bool:
        return self.alive

    def power_cycle(self) -> None:
        self.cycles += 1

    def events(self) -> Sequence[DeviceEvent]:
        return []

    def info(self) -> Mapping[str, Any]:
        return {}


@pytest.mark.parametrize(("alive", "message"), [
    (False, "the device died on a broken frame"),
    (True, "after a broken frame the device was not in pairing mode within 0.1 s"),
])
def test_a_dead_or_stuck_device_fails_and_is_power_cycled_for_the_next_test(lab: Lab, alive: bool,
                                                                            message: str) -> None:
    stuck = _Stuck(alive)
    device: DeviceAdapter = stuck  # type: ignore[assignment]
    with pytest.raises(DeviceFailure, match=message):
        lab.expect_still_pairing("a broken frame", device, within_s=0.1)
    assert stuck.cycles == 1


def test_eventually_polls_until_true_and_gives_up_at_its_deadline() -> None:
    start = time.monotonic()
    assert eventually(lambda: time.monotonic() - start > 0.05, timeout_s=2.0)
    assert time.monotonic() - start < 1.0
    start = time.monotonic()
    assert not eventually(lambda: False, timeout_s=0.1)
    assert 0.1 <= time.monotonic() - start < 1.0
