"""The camera end to end against the emulated cloud on loopback: activation, MQTT, DPs, removal, resets, power."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _camera_helpers import Lab, lab, qr_image, wait_until

from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.states import State


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def paired(the_lab: Lab, **kwargs: object) -> EmulatedCamera:
    cam = the_lab.camera(**kwargs)
    assert cam.present_qr(qr_image(token=the_lab.token())).outcome == "captured"
    the_lab.online(cam)
    return cam


def test_dp_report_reaches_the_cloud_and_a_command_is_applied_and_reported_back(the_lab: Lab) -> None:
    cam = paired(the_lab)
    wait_until(lambda: the_lab.device(cam).dps == cam.dps)
    assert the_lab.cloud.app.send_dps(the_lab.owner, cam.dev_id, {"103": True})  # type: ignore[arg-type]
    wait_until(lambda: the_lab.device(cam).dps.get("103") is True)
    assert cam.dps["103"] is True
    assert cam.events("mqtt-message")[0].details["protocol"] == 5


@pytest.mark.parametrize("api", ["v4.4", "opensdk"])
@pytest.mark.parametrize("pv", ["2.1", "2.2", "2.3"])
def test_both_activation_apis_and_every_envelope_version(the_lab: Lab, api: str, pv: str) -> None:
    cam = paired(the_lab, activation_api=api, mqtt_pv=pv)
    request = cam.events("atop-request")[0].details
    assert request["et"] == (1 if api == "v4.4" else 3)
    wait_until(lambda: bool(the_lab.device(cam).dps))


def test_removal_unactivates_and_the_reset_device_reactivates_with_the_same_dev_id(the_lab: Lab) -> None:
    cam = paired(the_lab)
    dev_id = cam.dev_id
    the_lab.cloud.app.remove_device(the_lab.owner, dev_id)  # type: ignore[arg-type]
    assert cam.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING
    assert not cam.activated and cam.kept_dev_id == dev_id
    assert cam.present_qr(qr_image(token=the_lab.token())).outcome == "captured"
    the_lab.online(cam)
    assert cam.events("atop-request")[-1].details["dev_id"] == dev_id
    assert cam.dev_id == dev_id


def test_reset_keeps_the_dev_id_and_factory_reset_forgets_it(the_lab: Lab) -> None:
    cam = paired(the_lab)
    dev_id = cam.dev_id
    cam.reset()
    assert cam.state is State.PAIRING and not cam.activated and cam.kept_dev_id == dev_id
    cam.factory_reset()
    assert cam.state is State.PAIRING and cam.kept_dev_id is None


def test_a_wrong_wifi_password_fails_the_join_after_retries_and_returns_to_pairing(the_lab: Lab) -> None:
    cam = the_lab.camera(join_attempts=3)
    assert cam.present_qr(qr_image(password="wrong-password", token=the_lab.token())).outcome == "captured"
    cam.wait_for_event("pairing-mode", after=len(cam.events()) - 1)
    assert cam.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING
    joins = cam.events("wifi-join")
    assert [j.details["outcome"] for j in joins] == ["wrong-password"] * 3
    assert not cam.events("atop-request")


def test_a_missing_ssid_fails_the_join(the_lab: Lab) -> None:
    cam = the_lab.camera(join_attempts=2)
    cam.present_qr(qr_image(ssid="nowhere", token=the_lab.token()))
    wait_until(lambda: len(cam.events("wifi-join")) == 2 and cam.state is State.PAIRING)
    assert cam.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_a_refused_activation_fails_then_returns_to_pairing_mode(the_lab: Lab) -> None:
    cam = the_lab.camera()
    cam.present_qr(qr_image(token="EUzzzzzzzz0000"))
    assert cam.wait_for_state(State.FAILED, State.PAIRING, State.ONLINE, timeout=5) in (State.FAILED, State.PAIRING)
    assert cam.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING
    assert cam.events("atop-refused")[0].details["error_code"]


def test_a_power_cycle_reconnects_by_itself(the_lab: Lab) -> None:
    cam = paired(the_lab)
    cam.power_off()
    assert cam.state is State.OFF and cam.ap_address is None
    wait_until(lambda: not the_lab.device(cam).online)
    cam.power_on()
    the_lab.online(cam)
    cam.power_cycle()
    the_lab.online(cam)


def test_removed_while_off_its_login_is_refused_and_it_returns_to_pairing_mode(the_lab: Lab) -> None:
    cam = paired(the_lab)
    cam.power_off()
    the_lab.cloud.app.remove_device(the_lab.owner, cam.kept_dev_id)  # type: ignore[arg-type]
    cam.power_on()
    assert cam.wait_for_state(State.PAIRING, timeout=10) is State.PAIRING
    assert cam.events("mqtt-refused") and not cam.activated


def test_illegal_driver_calls_raise(the_lab: Lab) -> None:
    from harness.emulator.camera.states import IllegalTransition

    cam = the_lab.camera(power=False)
    with pytest.raises(IllegalTransition):
        cam.power_off()
    with pytest.raises(IllegalTransition):
        cam.reset()
