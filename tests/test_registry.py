"""The adapter registry: names, factory specs, name:argument specs, and worlds built from profiles."""

from __future__ import annotations

import pytest

from harness.adapters.contracts import AdapterError, CloudCapability
from harness.adapters.registry import build_world, registered, resolve, split_spec
from harness.profiles import load_profile


def test_builtin_names_are_registered() -> None:
    names = registered()
    for key in ("cloud.emulated", "cloud.remote", "device.emulated", "device.operator", "network.air",
                "network.scapy"):
        assert key in names


def test_a_name_with_an_argument_splits_but_a_factory_spec_does_not() -> None:
    assert split_spec("cloud", "remote:http://127.0.0.1:8080") == ("remote", {"url": "http://127.0.0.1:8080"})
    assert split_spec("network", "scapy:eth1") == ("scapy", {"interface": "eth1"})
    assert split_spec("device", "mypkg.devices:make") == ("mypkg.devices:make", {})
    assert split_spec("cloud", "emulated") == ("emulated", {})


def test_unknown_names_and_bad_specs_are_adapter_errors() -> None:
    with pytest.raises(AdapterError, match="no cloud adapter named 'nope'"):
        resolve("cloud", "nope")
    with pytest.raises(AdapterError, match="cannot import"):
        resolve("device", "no_such_module_here:factory")
    with pytest.raises(AdapterError, match="has no factory"):
        resolve("device", "harness.adapters.factories:missing")
    with pytest.raises(AdapterError, match="unknown adapter kind"):
        resolve("toaster", "emulated")


def test_an_emulated_world_offers_every_lab_capability_and_closes() -> None:
    world = build_world(load_profile("plug-medium"), seed=3)
    try:
        assert CloudCapability.TIME_TRAVEL.value in world.cloud.capabilities
        assert world.clock.is_virtual
        info = world.info()
        assert info["profile"] == "plug-medium" and info["seed"] == 3
        other = world.new_device()
        assert other.licence.uuid != world.device.licence.uuid
    finally:
        world.close()


def test_a_faulted_device_comes_from_overrides() -> None:
    world = build_world(load_profile("camera-strong"), seed=4, overrides={"device": {"faults": ["no-prompt-sound"]}})
    try:
        assert "no-prompt-sound" in world.device.info()["faults"]
    finally:
        world.close()
