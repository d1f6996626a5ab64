"""The contract-test base classes (harness.testing.contracts) as a vendor uses them: subclassed for the emulated
cloud and device, they pass; against adapters that break the contract, their checks fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.contracts import CloudAdapter, DeviceAdapter, DeviceEvent
from harness.adapters.registry import ProfileWorld, build_world
from harness.profiles import load_profile
from harness.testing.contracts import CloudAdapterTests, DeviceAdapterTests


@pytest.fixture(scope="module")
def world() -> Iterator[ProfileWorld]:
    w = build_world(load_profile("camera-strong"), seed=13)
    yield w
    w.close()


class TestTheEmulatedCloud(CloudAdapterTests):
    @pytest.fixture
    def cloud(self, world: ProfileWorld) -> CloudAdapter:
        return world.cloud


class TestTheEmulatedDevice(DeviceAdapterTests):
    @pytest.fixture
    def device(self, world: ProfileWorld) -> DeviceAdapter:
        return world.device


def test_a_cloud_that_reissues_a_token_fails_its_contract(world: ProfileWorld,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.cloud, "get_token", lambda home, account: f"{world.cloud.region}abcdefgh1234")
    with pytest.raises(AssertionError, match="issued the same token twice"):
        CloudAdapterTests().test_tokens_are_never_reissued(world.cloud)


def test_a_cloud_whose_token_is_malformed_or_of_another_region_fails_its_contract(
        world: ProfileWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.cloud, "get_token", lambda home, account: "AYabcdefgh12")
    with pytest.raises(pytest.fail.Exception, match=r"not a §1\.3 pairing token"):
        CloudAdapterTests().test_a_token_is_fourteen_characters_of_the_clouds_region(world.cloud)
    other = "EU" if world.cloud.region != "EU" else "AY"
    monkeypatch.setattr(world.cloud, "get_token", lambda home, account: f"{other}abcdefgh1234")
    with pytest.raises(AssertionError, match=f"a token of region {other}"):
        CloudAdapterTests().test_a_token_is_fourteen_characters_of_the_clouds_region(world.cloud)


def test_a_cloud_that_claims_no_time_travel_yet_travels_fails_its_contract(world: ProfileWorld,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.cloud, "capabilities", frozenset())
    monkeypatch.setattr(world.cloud, "advance_time", lambda seconds: None)
    with pytest.raises(pytest.fail.Exception, match="CapabilityMissing"):
        CloudAdapterTests().test_time_travel_is_offered_only_where_claimed(world.cloud)


def test_a_device_whose_timeline_runs_backwards_fails_its_contract(world: ProfileWorld,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.device, "events", lambda: [DeviceEvent(2.0, "later"), DeviceEvent(1.0, "earlier")])
    with pytest.raises(AssertionError, match="not in time order"):
        DeviceAdapterTests().test_its_events_are_a_timeline(world.device)


def test_the_base_classes_are_not_collected_by_themselves() -> None:
    assert not CloudAdapterTests.__name__.startswith("Test") and not DeviceAdapterTests.__name__.startswith("Test")
