"""The emulated camera as a BLE+Wi-Fi combo (PROTOCOL.md §9): it advertises while unbound, takes the Wi-Fi
configuration over BLE in its generation, joins, activates with the token and goes online, then stops
advertising; bound while activated and offline; the 30 s pair timer; reset over BLE; both generations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _camera_helpers import PASSWORD, SSID, Lab
from _camera_helpers import lab as camera_lab

from harness.adapters.contracts import Licence
from harness.adapters.emulated_ble import EmulatedBleCentral
from harness.app.ble import BleSession, credentials_for, find_device, provision
from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.states import State
from harness.emulator.radio import Radio
from harness.protocol.ble import (
    Generation,
    ResetAnswer,
    ResetRequest,
    WifiCredentials,
    ble_id,
    parse_scan_record,
)
from harness.protocol.ble.advertisement import FC_BOUND, FC_CONNECTION_REQUEST
from harness.protocol.ble.messages import Cmd
from harness.protocol.ble.security import bound_advertised_id


@pytest.fixture
def the_lab() -> Iterator[Lab]:
    with camera_lab() as lab:
        yield lab


def ble_camera(lab: Lab, radio: Radio, generation: str = "v2") -> EmulatedCamera:
    return lab.camera(pairing_modes=("qr", "ble"), radio=radio, ble_generation=generation)


def licence(cam: EmulatedCamera) -> Licence:
    return Licence(uuid=cam.uuid, auth_key=cam.auth_key, pid=cam.pid)


def modes(cam: EmulatedCamera) -> list[str]:
    return [str(e.details["mode"]) for e in cam.events("ble-advertising")]


@pytest.mark.parametrize("generation", ["v2", "v1"])
def test_the_camera_pairs_over_ble_and_stops_advertising_once_online(the_lab: Lab, generation: str) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = ble_camera(the_lab, radio, generation)
    central = EmulatedBleCentral(radio)
    found = find_device(central, target=ble_id(cam.uuid), timeout=2.0)
    assert found is not None and found.generation is Generation(generation) and not found.bound
    token = the_lab.token()
    failure = provision(central, licence(cam), WifiCredentials(SSID.decode(), PASSWORD.decode(), token))
    assert failure is None, failure
    the_lab.online(cam)
    assert cam.config is not None and (cam.config.mode, cam.config.token) == ("ble", token)
    assert cam.ble_advertising is None and radio.advertising(cam.ble_address) is None
    assert modes(cam)[0] == "unbound" and modes(cam)[-1] == "off"
    assert "bound" in modes(cam)  # activated, not yet on MQTT (§9.8)


def test_an_activated_camera_advertises_bound_until_it_is_online(the_lab: Lab) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = ble_camera(the_lab, radio)
    assert provision(EmulatedBleCentral(radio), licence(cam),
                     WifiCredentials(SSID.decode(), PASSWORD.decode(), the_lab.token())) is None
    the_lab.online(cam)
    assert cam.activation is not None
    advertisement = cam.ble_advertisement(bound=True, wifi_up=True)
    assert advertisement.service.frame_control & FC_BOUND and not advertisement.service.frame_control & \
        FC_CONNECTION_REQUEST
    assert advertisement.service.id_field == bound_advertised_id(ble_id(cam.uuid), cam.activation.sec_key.encode())
    since = len(cam.events())
    cam.power_cycle()  # boots activated: CONNECTING (bound advertising), then online again (off)
    the_lab.online(cam)
    later = [str(e.details["mode"]) for e in cam.events()[since:] if e.name == "ble-advertising"]
    assert later[:1] == ["bound"] and later[-1] == "off"
    scan = parse_scan_record(*_scan_of(advertisement))
    assert scan.service.bound


def _scan_of(advertisement: Any) -> tuple[dict[str, bytes], dict[int, bytes]]:
    from harness.emulator.radio import ScanResult

    result = ScanResult("x", *advertisement.encode())
    return result.service_data, result.manufacturer_data


def test_the_pair_timer_drops_a_connection_that_did_not_pair_within_30_s(the_lab: Lab) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = ble_camera(the_lab, radio)
    central = EmulatedBleCentral(radio)
    found = find_device(central, target=ble_id(cam.uuid), timeout=2.0)
    assert found is not None
    with BleSession(central, found, credentials_for(licence(cam))) as session:
        assert session.device_info() is not None
        the_lab.clock.advance(31)
        assert session.pair() is None and session.disconnected == "pair-timeout"
    assert cam.in_state(State.PAIRING) and cam.ble_advertising == "unbound"


def test_a_paired_app_resets_the_camera_over_ble(the_lab: Lab) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = ble_camera(the_lab, radio)
    central = EmulatedBleCentral(radio)
    found = find_device(central, target=ble_id(cam.uuid), timeout=2.0)
    assert found is not None
    with BleSession(central, found, credentials_for(licence(cam))) as session:
        assert session.device_info() is not None and session.pair() is not None
        session.send(ResetRequest(Cmd.DEVICE_RESET))
        assert session.wait_for(ResetAnswer) == ResetAnswer(Cmd.DEVICE_RESET, 0x01)
    cam.wait_for_event("ble-reset-requested", 5)
    assert cam.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING


def test_a_camera_without_ble_never_advertises_and_ble_needs_a_radio(the_lab: Lab) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = the_lab.camera(pairing_modes=("qr",), radio=radio)
    assert cam.ble_advertising is None and radio.scan() == []
    with pytest.raises(ValueError, match="needs the world's radio"):
        the_lab.camera(pairing_modes=("ble",), power=False)
