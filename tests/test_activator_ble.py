"""The activator's BLE mode (PROTOCOL.md §7, §9.1, §9.8): it finds the device by its BLE ID, pairs, hands over the
Wi-Fi configuration, and the delegate hears exactly once: success when the device is online in the token's home,
else the app-side code (3700 nothing found, -14 refused, -20 no answer, -2561 the radio failed: the harness's
fault, never the device's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from harness.adapters.contracts import CapabilityMissing
from harness.adapters.registry import World, build_world
from harness.app import Activator, ActivatorMode, ActivatorStep, pair
from harness.app.ble import BleOptions
from harness.emulator.camera.firmware import EmulatedCamera
from harness.model import ActivatorErrorCode
from harness.profiles import load_profile
from harness.protocol.ble import BleDeviceConnection, PairResult

QUICK = BleOptions(scan_timeout_s=0.3, response_timeout_s=0.3)


class AnswersAlreadyBound(BleDeviceConnection):
    def pair_result(self, data: bytes) -> PairResult:
        return PairResult.ALREADY_BOUND


class BrokenOnPair(BleDeviceConnection):
    def pair_result(self, data: bytes) -> PairResult:
        raise RuntimeError("an emulator bug")


class RefusesPairing(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return AnswersAlreadyBound(**options)


class BreaksOnPairing(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return BrokenOnPair(**options)


def world_with(*faults: type[EmulatedCamera]) -> World:
    overrides = {"device": {"faults": list(faults)}} if faults else None
    return build_world(load_profile("camera-strong"), seed=5, overrides=overrides)


@pytest.fixture
def world() -> Iterator[World]:
    built = world_with()
    yield built
    built.close()


def start(world: World, **kwargs: Any) -> tuple[Activator, str, str]:
    world.network.add_access_point(b"BleHome", b"ble-home-pw")
    alice = world.cloud.create_account("alice")
    home = world.cloud.create_home(alice, "flat")
    activator = Activator(world.cloud, account=alice, device=world.device, network=world.network, **kwargs)
    return activator, home, activator.get_token(home)


def test_ble_pairing_succeeds_once_the_device_is_online_in_the_tokens_home(world: World) -> None:
    activator, home, token = start(world)
    outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
    assert outcome.ok and outcome.calls == 1 and outcome.device_model is not None
    assert outcome.device_model.home == home and outcome.device_model.uuid == world.device.licence.uuid
    assert outcome.steps == [ActivatorStep.FOUND, ActivatorStep.REGISTERED, ActivatorStep.INITIALIZED]
    record = world.cloud.device(outcome.device_model.dev_id)
    assert record is not None and record.online


def test_no_device_advertising_is_3700(world: World) -> None:
    activator, _, token = start(world, ble=QUICK)
    world.device.close()  # powered off: nothing advertises
    outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
    assert outcome.calls == 1 and outcome.code == ActivatorErrorCode.BLE_SCAN_EXPIRED
    assert outcome.error is not None and outcome.error.harness_fault is None


def test_a_device_that_cannot_decrypt_the_app_gives_no_answer_minus_20(world: World) -> None:
    activator, _, token = start(world, ble=QUICK)
    activator.device = _with_licence(world.device, "x" * 32)
    outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
    assert outcome.code == ActivatorErrorCode.BLE_TIMEOUT and outcome.error is not None
    assert "device-info request" in outcome.error.message and outcome.error.harness_fault is None


def _with_licence(device: Any, auth_key: str) -> Any:
    """The device adapter as a lab with the wrong AuthKey on file would hand it to the app."""
    class WrongKey:
        licence = dataclasses.replace(device.licence, auth_key=auth_key)
        pid = device.pid
        name = device.name
        capabilities = device.capabilities

    return WrongKey()


def test_a_refused_pair_is_minus_14() -> None:
    world = world_with(RefusesPairing)
    try:
        activator, _, token = start(world, ble=QUICK)
        outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
        assert outcome.calls == 1 and outcome.code == ActivatorErrorCode.BLE_SEND_FAILED
        assert outcome.error is not None and "0x02" in outcome.error.message
    finally:
        world.close()


def test_a_dropped_link_is_minus_2561_and_the_harness_fault() -> None:
    world = world_with(BreaksOnPairing)
    try:
        activator, _, token = start(world, ble=QUICK)
        outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
        assert outcome.code == ActivatorErrorCode.BLE_CONNECT_FAILED
        assert outcome.error is not None and outcome.error.harness_fault is not None
        assert any(e.name == "firmware-error" for e in world.device.events())
    finally:
        world.close()


def test_a_network_without_a_radio_is_the_harness_fault(world: World) -> None:
    class NoRadio:
        name = "wired"

    activator, _, token = start(world)
    activator.network = NoRadio()  # type: ignore[assignment]
    outcome = pair(activator, ActivatorMode.BLE, "BleHome", "ble-home-pw", token, timeout=100)
    assert outcome.calls == 1 and outcome.error is not None
    assert isinstance(outcome.error.harness_fault, CapabilityMissing)
