"""The camera's QR channel (PROTOCOL.md §1): capture, prompt, every legal encoding, refusals, the window."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, qr_image
from PIL import Image

from harness.clock import VirtualClock
from harness.emulator.air import Air
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.camera.states import State
from harness.emulator.loop import DeviceLoop
from harness.qrimage import render_qr


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def test_a_rendered_qr_is_captured_with_a_prompt_and_the_camera_comes_online(the_lab: Lab) -> None:
    cam = the_lab.camera()
    scan = cam.present_qr(qr_image(token=the_lab.token()))
    assert scan.outcome == "captured"
    names = cam.timeline.names()
    assert names.index("prompt-sound") < names.index("config-received")
    the_lab.online(cam)
    assert the_lab.device(cam).home == the_lab.home


@pytest.mark.parametrize("style", [
    {"key_order": "spt"}, {"key_order": "pst"}, {"key_order": "tps"},
    {"escape_slash": True}, {"ascii_only": True}, {"ascii_only": True, "escape_slash": True, "key_order": "pst"},
], ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_every_legal_encoding_is_accepted(the_lab: Lab, style: dict[str, object]) -> None:
    ssid, password = "café/né", 'p/w"\\ü12345'
    cam = the_lab.camera(pairing_modes=("qr",))
    assert cam.present_qr(qr_image(ssid, password, the_lab.token(), **style)).outcome == "captured"
    received = cam.events("config-received")[0].details
    assert received["ssid"] == ssid
    assert received["password"] == f"<redacted {len(password.encode())}>"


ILLEGAL = {
    "not-json": b"s=home;p=pw;t=AY",
    "missing-t": b'{"s":"home","p":"pw123456"}',
    "ssid-33-bytes": b'{"s":"' + b"x" * 33 + b'","p":"pw123456","t":"AYabcdefgh1234"}',
    "not-utf8": b'{"s":"\xff\xfe","p":"pw123456","t":"AYabcdefgh1234"}',
    "number-ssid": b'{"s":12,"p":"pw123456","t":"AYabcdefgh1234"}',
    "duplicate-member": b'{"s":"a","s":"b","p":"pw123456","t":"AYabcdefgh1234"}',
}


@pytest.mark.parametrize("payload", ILLEGAL.values(), ids=ILLEGAL.keys())
def test_an_illegal_payload_is_refused_and_the_camera_still_pairs(the_lab: Lab, payload: bytes) -> None:
    cam = the_lab.camera()
    scan = cam.present_qr(render_qr(payload), timeout=5)
    assert scan.outcome == "refused"
    assert cam.state is State.PAIRING
    assert "prompt-sound" not in cam.timeline.names()
    assert cam.events("config-refused")
    assert cam.present_qr(qr_image(token=the_lab.token())).outcome == "captured"
    the_lab.online(cam)


def test_an_image_without_a_code_and_a_camera_not_listening(the_lab: Lab) -> None:
    cam = the_lab.camera(power=False)
    assert cam.present_qr(qr_image(token=the_lab.token())).outcome == "not-listening"
    cam.power_on()
    assert cam.present_qr(Image.new("L", (200, 200), 255)).outcome == "no-code"
    assert cam.state is State.PAIRING


def test_the_pairing_window_closes_on_the_clock_and_reset_reopens_it() -> None:
    clock = VirtualClock(autojump=False)
    with DeviceLoop(clock) as device_loop:
        air = Air(clock=clock)
        cam = EmulatedCamera(device_loop, air, uuid="uuid00000000window", auth_key="k" * 32, pid="p" * 16,
                             mac="02:00:00:00:00:ff", cloud=CloudEndpoint("http://127.0.0.1:9/d.json", "127.0.0.1", 9),
                             pairing_window_s=180.0)
        cam.power_on()
        cam.wait_for_event("ap-open", 5)
        clock.advance(179.0)
        time.sleep(0.05)
        assert cam.state is State.PAIRING
        clock.advance(1.0)
        assert cam.wait_for_state(State.PAIRING_CLOSED, timeout=5) is State.PAIRING_CLOSED
        assert cam.ap_address is None and air.device_ap(cam.ap_ssid) is None and air.listener_count == 0
        assert cam.present_qr(qr_image(token="AYabcdefgh1234")).outcome == "not-listening"
        cam.reset()
        assert cam.state is State.PAIRING
        assert cam.present_qr(qr_image(token="AYabcdefgh1234")).outcome == "captured"


def test_secrets_never_reach_the_timeline(the_lab: Lab) -> None:
    cam = the_lab.camera()
    cam.present_qr(qr_image(token=the_lab.token()))
    the_lab.online(cam)
    text = repr([e.to_dict() for e in cam.events()])
    activation = cam.activation
    assert activation is not None
    for secret in (PASSWORD.decode(), cam.auth_key, activation.sec_key, activation.local_key):
        assert secret not in text
    assert SSID.decode() in text
