"""The activator end to end on the emulated world: every mode, every refusal, and the exactly-once delegate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.adapters.contracts import World
from harness.adapters.registry import build_world
from harness.app.activator import (
    Activator,
    ActivatorBusy,
    ActivatorError,
    ActivatorMode,
    ActivatorStep,
    ApOptions,
    DeviceModel,
    EzOptions,
    pair,
)
from harness.model import ActivatorErrorCode, Role
from harness.profiles import load_profile

SSID, PASSWORD = "HomeNet", "hunter22"
MODES = [
    pytest.param(ActivatorMode.QR, ApOptions(), id="qr"),
    pytest.param(ActivatorMode.EZ, ApOptions(), id="ez"),
    pytest.param(ActivatorMode.AP, ApOptions(variant="legacy"), id="ap-legacy"),
    pytest.param(ActivatorMode.AP, ApOptions(variant="lpv35"), id="ap-lpv35"),
]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = build_world(load_profile("camera-strong"), seed=7)
    w.network.add_access_point(SSID.encode(), PASSWORD.encode())
    yield w
    w.close()


@dataclass
class Home:
    account: str
    home: str


@pytest.fixture
def alice(world: World) -> Home:
    account = world.cloud.create_account("alice")
    return Home(account, world.cloud.create_home(account, "flat"))


def clean_slate(world: World) -> None:
    """The lab's start position: the device removed (and wiped) by its owner, factory-reset, in pairing mode.
    Removed again once it is back in pairing mode: a pairing whose app was stopped goes on in the device, and
    its activation may land after the first removal (the reset ends it; nothing after the reset activates)."""
    for _ in range(2):
        record = world.cloud.device_by_uuid(world.device.licence.uuid)
        if record is not None and record.home is not None and record.owner is not None:
            world.cloud.remove_device(record.dev_id, account=record.owner, wipe=True)
        world.device.factory_reset()
        world.device.wait_pairing_mode(10)


@pytest.fixture
def fresh(world: World) -> World:
    clean_slate(world)
    return world


def activator_for(world: World, who: Home, ap: ApOptions | None = None, **kw: object) -> Activator:
    return Activator(world.cloud, account=who.account, device=world.device, network=world.network,
                     ap=ap or ApOptions(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "ap"), MODES)
def test_pairing_succeeds_in_every_mode(fresh: World, alice: Home, mode: ActivatorMode, ap: ApOptions) -> None:
    act = activator_for(fresh, alice, ap)
    outcome = pair(act, mode, SSID, PASSWORD, act.get_token(alice.home))
    assert outcome.ok, outcome.error
    assert outcome.calls == 1
    model = outcome.device_model
    assert model is not None
    assert model.home == alice.home
    assert model.pid == fresh.device.pid and model.uuid == fresh.device.licence.uuid
    record = fresh.cloud.device(model.dev_id)
    assert record is not None and record.online and record.home == alice.home
    assert outcome.steps == [ActivatorStep.FOUND, ActivatorStep.REGISTERED, ActivatorStep.INITIALIZED]


class LosesApFrames:
    """The world's network, but the first ``lost`` legacy AP datagrams never arrive (a busy air, or a config port
    not open yet)."""

    def __init__(self, network: object, lost: int) -> None:
        self.network, self.lost, self.sent = network, lost, 0

    def send_ap_legacy(self, address: object, frame: bytes) -> None:
        self.sent += 1
        if self.sent > self.lost:
            self.network.send_ap_legacy(address, frame)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.network, name)


def test_a_lost_ap_frame_is_sent_again_until_the_device_tries(fresh: World, alice: Home) -> None:
    repeats = ApOptions().repeats
    lossy = LosesApFrames(fresh.network, lost=repeats)  # every copy of the first hand-over
    act = Activator(fresh.cloud, account=alice.account, device=fresh.device, network=lossy,  # type: ignore[arg-type]
                    ap=ApOptions(variant="legacy"))
    outcome = pair(act, ActivatorMode.AP, SSID, PASSWORD, act.get_token(alice.home), timeout=100)
    assert outcome.ok, outcome.error
    assert lossy.sent == 2 * repeats  # handed over once more, and no more once the device had tried


@pytest.mark.parametrize(("mode", "ap"), MODES)
def test_a_wrong_wifi_password_never_activates(fresh: World, alice: Home, mode: ActivatorMode, ap: ApOptions) -> None:
    act = activator_for(fresh, alice, ap)
    token = act.get_token(alice.home)
    outcome = pair(act, mode, SSID, "not-the-password", token, timeout=30)
    assert not outcome.ok
    assert outcome.code == ActivatorErrorCode.TIMEOUT
    assert fresh.cloud.token_attempts(token) == []
    assert fresh.cloud.device_by_uuid(fresh.device.licence.uuid) is None or \
        fresh.cloud.device_by_uuid(fresh.device.licence.uuid).home is None  # type: ignore[union-attr]
    assert any(e.name == "wifi-join" and e.details.get("outcome") != "ok" for e in fresh.device.events())


@pytest.mark.parametrize(("mode", "ap"), MODES)
def test_an_expired_token_is_refused_with_3718(fresh: World, alice: Home, mode: ActivatorMode, ap: ApOptions) -> None:
    act = activator_for(fresh, alice, ap)
    token = act.get_token(alice.home)
    fresh.cloud.advance_time(fresh.profile.parameters.token_ttl_s + 1)
    outcome = pair(act, mode, SSID, PASSWORD, token)
    assert outcome.code == ActivatorErrorCode.TOKEN_EXPIRED
    assert outcome.error is not None and outcome.error.cloud_error == "EXPIRE"


@pytest.mark.parametrize(("mode", "ap"), MODES)
def test_a_consumed_token_cannot_pair_again(fresh: World, alice: Home, mode: ActivatorMode, ap: ApOptions) -> None:
    act = activator_for(fresh, alice, ap)
    token = act.get_token(alice.home)
    assert pair(act, mode, SSID, PASSWORD, token).ok
    clean_slate(fresh)
    again = pair(act, mode, SSID, PASSWORD, token)
    assert again.code == ActivatorErrorCode.TOKEN_EXPIRED
    clean_slate(fresh)  # a refused camera holds in FAILED for a while; the user resets it and pairs anew
    assert pair(act, mode, SSID, PASSWORD, act.get_token(alice.home)).ok


@pytest.mark.parametrize(("mode", "ap"), MODES)
def test_a_strong_bound_device_refuses_another_account_with_3711(fresh: World, alice: Home, mode: ActivatorMode,
                                                                 ap: ApOptions) -> None:
    first = activator_for(fresh, alice, ap)
    assert pair(first, mode, SSID, PASSWORD, first.get_token(alice.home)).ok
    fresh.device.reset()
    fresh.device.wait_pairing_mode(10)
    bob_account = fresh.cloud.create_account("bob")
    bob = Home(bob_account, fresh.cloud.create_home(bob_account, "bobs"))
    second = activator_for(fresh, bob, ap)
    outcome = pair(second, mode, SSID, PASSWORD, second.get_token(bob.home))
    assert outcome.code == ActivatorErrorCode.DEVICE_ALREADY_BOUND
    assert fresh.cloud.list_devices(bob.home) == []


def test_activated_but_never_on_mqtt_is_3709(world: World, alice: Home) -> None:
    """Pairing counts only when the device is online on MQTT (§0 step 5): a device whose MQTT login is
    refused was activated, yet the app reports DeviceNotConnectMQTT at its deadline."""
    faulty = build_world(load_profile("camera-strong"), seed=8,
                         overrides={"device": {"faults": ["mqtt-password-wrong"]}})
    try:
        faulty.network.add_access_point(SSID.encode(), PASSWORD.encode())
        account = faulty.cloud.create_account("carol")
        home = faulty.cloud.create_home(account, "flat")
        act = Activator(faulty.cloud, account=account, device=faulty.device, network=faulty.network)
        token = act.get_token(home)
        outcome = pair(act, ActivatorMode.QR, SSID, PASSWORD, token, timeout=100)
        assert outcome.code == ActivatorErrorCode.DEVICE_NOT_CONNECT_MQTT
        assert [a.outcome for a in faulty.cloud.token_attempts(token)] == ["activated"]
        assert ActivatorStep.REGISTERED in outcome.steps and ActivatorStep.INITIALIZED not in outcome.steps
    finally:
        faulty.close()


def test_a_guest_cannot_add_a_strong_binding_device(fresh: World, alice: Home) -> None:
    guest = fresh.cloud.create_account("guest")
    fresh.cloud.add_member(alice.home, guest, Role.MEMBER)
    act = activator_for(fresh, Home(guest, alice.home))
    outcome = pair(act, ActivatorMode.QR, SSID, PASSWORD, act.get_token(alice.home))
    assert outcome.code == ActivatorErrorCode.GUEST_NOT_SUPPORT_STRONG_BIND


def test_no_device_means_a_timeout_that_costs_no_wall_time(world: World, alice: Home) -> None:
    world.device.power_cycle()  # any state; the QR below is never shown to it
    act = Activator(world.cloud, account=alice.account, network=world.network)
    token = act.get_token(alice.home)
    started = time.monotonic()
    outcome = pair(act, ActivatorMode.EZ, "NoSuchNetwork", PASSWORD, token, timeout=100)
    assert outcome.code == ActivatorErrorCode.TIMEOUT and outcome.calls == 1
    assert ActivatorStep.TIMEOUT in outcome.steps
    assert time.monotonic() - started < 20  # 100 s of world time, a fraction of that in wall time


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[DeviceModel | None, ActivatorError | None]] = []
        self.heard = threading.Event()

    def did_receive_device(self, activator: Activator, device_model: DeviceModel | None,
                           error: ActivatorError | None) -> None:
        self.calls.append((device_model, error))
        self.heard.set()


def test_nothing_is_heard_after_stop_and_a_new_start_works(fresh: World, alice: Home) -> None:
    recorder = Recorder()
    act = Activator(fresh.cloud, account=alice.account, network=fresh.network, device=fresh.device,
                    delegate=recorder)
    act.start_config_wifi(ActivatorMode.EZ, "NoSuchNetwork", PASSWORD, act.get_token(alice.home), timeout=100)
    with pytest.raises(ActivatorBusy):
        act.start_config_wifi(ActivatorMode.EZ, "NoSuchNetwork", PASSWORD, act.get_token(alice.home))
    act.stop_config_wifi()
    assert not recorder.heard.wait(0.5)
    assert recorder.calls == []
    act.start_config_wifi(ActivatorMode.QR, SSID, PASSWORD, act.get_token(alice.home), timeout=100)
    assert recorder.heard.wait(30)
    act.join(10)
    assert len(recorder.calls) == 1
    model, error = recorder.calls[0]
    assert model is not None and error is None


def test_stop_racing_the_outcome_never_gives_two_callbacks(fresh: World, alice: Home) -> None:
    for round_ in range(5):
        clean_slate(fresh)
        recorder = Recorder()
        act = activator_for(fresh, alice, delegate=recorder)
        act.start_config_wifi(ActivatorMode.AP, SSID, PASSWORD, act.get_token(alice.home), timeout=100)
        time.sleep(0.002 * round_)  # the stimulus: stop at another moment of the pairing each round
        act.stop_config_wifi()  # joins the worker: nothing can be heard after it returns
        assert not act.running
        assert len(recorder.calls) <= 1
        for model, error in recorder.calls:
            assert (model is None) != (error is None)


@pytest.mark.parametrize("channels", [("broadcast",), ("multicast",)], ids=["broadcast", "multicast"])
def test_ez_pairs_from_either_channel_alone(fresh: World, alice: Home, channels: tuple[str, ...]) -> None:
    act = activator_for(fresh, alice, ez=EzOptions(channels=channels, tail="tuya-convert"))
    assert pair(act, ActivatorMode.EZ, SSID, PASSWORD, act.get_token(alice.home)).ok


def test_the_outcome_carries_the_qr_code_shown_in_its_own_start_only(fresh: World, alice: Home) -> None:
    act = activator_for(fresh, alice)
    token = act.get_token(alice.home)
    shown = pair(act, ActivatorMode.QR, SSID, PASSWORD, token)
    assert shown.ok and shown.qr_image is not None
    assert shown.qr_text == f'{{"s":"{SSID}","p":"{PASSWORD}","t":"{token}"}}'
    clean_slate(fresh)
    assert pair(act, ActivatorMode.EZ, SSID, PASSWORD, act.get_token(alice.home)).qr_image is None
