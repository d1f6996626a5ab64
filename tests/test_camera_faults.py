"""Every camera fault observably changes behaviour, next to a conformant camera; and faults from outside work."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, qr_image, wait_until

from harness.emulator.air import Air
from harness.emulator.camera import EmulatedCamera
from harness.emulator.camera_states import State
from harness.emulator.faults import CAMERA_FAULTS, camera_class, register_camera_fault
from harness.protocol import apconfig as ap
from harness.protocol.smartconfig import BROADCAST_PREAMBLE, encode_broadcast
from harness.protocol.token import split_token_fixed


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def fault(name: str) -> str:
    """A catalogued fault's name (the catalogue test checks that each one is used here)."""
    assert name in CAMERA_FAULTS
    return name


def pair(the_lab: Lab, cam: EmulatedCamera, **qr: object) -> State:
    assert cam.present_qr(qr_image(token=the_lab.token(), **qr)).outcome == "captured"  # type: ignore[arg-type]
    return cam.wait_for_state(State.ONLINE, State.PAIRING, State.FAILED, timeout=10)


def online(the_lab: Lab, name: str | None = None) -> EmulatedCamera:
    cam = the_lab.camera(faults=[fault(name)] if name else [])
    assert pair(the_lab, cam) is State.ONLINE
    the_lab.online(cam)
    return cam


# ------------------------------------------------------------------------------------------------- QR


def test_qr_mangles_utf8(the_lab: Lab) -> None:
    the_lab.air.add_access_point("café-net".encode(), PASSWORD)
    good = the_lab.camera()
    assert pair(the_lab, good, ssid="café-net") is State.ONLINE
    bad = the_lab.camera(faults=[fault("qr-mangles-utf8")])
    assert bad.present_qr(qr_image("café-net", token=the_lab.token())).outcome == "captured"
    assert bad.events("config-received")[0].details["ssid"] != "café-net"
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_qr_fixed_key_order(the_lab: Lab) -> None:
    good = the_lab.camera(pairing_modes=("qr",))
    assert good.present_qr(qr_image(token=the_lab.token(), key_order="pst")).outcome == "captured"
    bad = the_lab.camera(faults=[fault("qr-fixed-key-order")], pairing_modes=("qr",))
    assert bad.present_qr(qr_image(token=the_lab.token(), key_order="pst")).outcome == "refused"
    assert bad.present_qr(qr_image(token=the_lab.token(), key_order="spt")).outcome == "captured"


def test_qr_ignores_escapes(the_lab: Lab) -> None:
    the_lab.air.add_access_point(b"slash-net", b"pw/123456")
    good = the_lab.camera()
    assert pair(the_lab, good, ssid="slash-net", password="pw/123456", escape_slash=True) is State.ONLINE
    bad = the_lab.camera(faults=[fault("qr-ignores-escapes")])
    bad.present_qr(qr_image("slash-net", "pw/123456", the_lab.token(), escape_slash=True))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "wrong-password"


def test_no_prompt_sound(the_lab: Lab) -> None:
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("no-prompt-sound")])
    for cam in (good, bad):
        cam.present_qr(qr_image(token=the_lab.token()))
    assert good.events("prompt-sound") and not bad.events("prompt-sound")


# ----------------------------------------------------------------------------------------- config limits


def test_ssid_truncate_32(the_lab: Lab) -> None:
    ssid = "s" * 32
    the_lab.air.add_access_point(ssid.encode(), PASSWORD)
    assert pair(the_lab, the_lab.camera(), ssid=ssid) is State.ONLINE
    bad = the_lab.camera(faults=[fault("ssid-truncate-32")])
    bad.present_qr(qr_image(ssid, token=the_lab.token()))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_crashes_on_long_ssid(the_lab: Lab) -> None:
    from harness.protocol.qr import render_qr

    long_ssid = b'{"s":"' + b"x" * 40 + b'","p":"pw123456","t":"EUabcdefgh1234"}'
    good = the_lab.camera()
    assert good.present_qr(render_qr(long_ssid)).outcome == "refused" and good.state is State.PAIRING
    bad = the_lab.camera(faults=[fault("crashes-on-long-ssid")])
    address = bad.ap_address
    assert address is not None
    bad.present_qr(render_qr(long_ssid))
    assert bad.state is State.CRASHED and not bad.alive
    assert bad.ap_address is None and bad.present_qr(qr_image(token=the_lab.token())).outcome == "not-listening"
    bad.reset()  # a dead firmware ignores its button
    assert bad.state is State.CRASHED
    bad.power_cycle()
    assert pair(the_lab, bad) is State.ONLINE


# ------------------------------------------------------------------------------------------------- EZ


def test_ez_skips_crc(the_lab: Lab) -> None:
    token = the_lab.token().encode()
    clean = encode_broadcast(SSID, PASSWORD, token)
    corrupted = list(clean)
    first_data = next(i for i, v in enumerate(clean) if v >= 256)
    corrupted[first_data + 1] ^= 0x01  # the password's first byte; the group's CRC-8 now disagrees
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    good = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",))
    bad = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",), faults=[fault("ez-skips-crc")])
    for lengths in [list(BROADCAST_PREAMBLE) + corrupted] + [list(BROADCAST_PREAMBLE) + clean] * 3:
        for value in lengths:
            air.send_length(value)
    the_lab.online(good)
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "wrong-password"


# ------------------------------------------------------------------------------------------------- AP


def _udp(address: tuple[str, int, int], frame: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(frame, address[:2])
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


def test_ap_skips_crc(the_lab: Lab) -> None:
    frame = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token())
    bad_crc = frame[:-8] + bytes([frame[-8] ^ 0xFF]) + frame[-7:]
    good = the_lab.camera(pairing_modes=("ap",))
    assert good.ap_address is not None and _udp(good.ap_address, bad_crc) is None
    assert good.state is State.PAIRING
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("ap-skips-crc")])
    assert bad.ap_address is not None and _udp(bad.ap_address, bad_crc) is not None
    the_lab.online(bad)


def test_keeps_ap_open_after_success(the_lab: Lab) -> None:
    good = online(the_lab)
    bad = online(the_lab, "keeps-ap-open-after-success")
    assert good.ap_address is None and bad.ap_address is not None


# ------------------------------------------------------------------------------------------ activation


def test_token_split_wrong(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("token-split-wrong")])
    token = the_lab.token()
    bad.present_qr(qr_image(token=token))
    assert bad.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is State.FAILED
    assert bad.events("atop-request")[0].details["token"] != split_token_fixed(token)[1]


def test_activates_without_token(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("activates-without-token")])
    bad.present_qr(qr_image(token=the_lab.token()))
    assert bad.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is State.FAILED
    assert bad.events("atop-refused") or bad.events("atop-bad-reply")


def test_forgets_dev_id_on_reset(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "forgets-dev-id-on-reset")
    for cam in (good, bad):
        cam.reset()
    assert good.kept_dev_id is not None and bad.kept_dev_id is None
    assert pair(the_lab, bad) is State.ONLINE
    assert bad.events("atop-request")[-1].details["dev_id"] is None


# ------------------------------------------------------------------------------------------------ MQTT


def test_mqtt_password_wrong(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("mqtt-password-wrong")])
    assert pair(the_lab, bad) is State.PAIRING
    assert bad.events("mqtt-refused") and not bad.events("online")


def test_never_reports_dps(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "never-reports-dps")
    wait_until(lambda: bool(the_lab.device(good).dps))
    time.sleep(0.1)
    assert the_lab.device(bad).dps == {}


def test_ignores_dp_commands(the_lab: Lab) -> None:
    bad = online(the_lab, "ignores-dp-commands")
    the_lab.cloud.app.send_dps(the_lab.owner, bad.dev_id, {"103": True})  # type: ignore[arg-type]
    bad.wait_for_event("dp-command-ignored", 5)
    assert bad.dps["103"] is False


def test_ignores_remote_unbind(the_lab: Lab) -> None:
    bad = online(the_lab, "ignores-remote-unbind")
    the_lab.cloud.app.remove_device(the_lab.owner, bad.dev_id)  # type: ignore[arg-type]
    bad.wait_for_event("unbind-ignored", 5)
    assert bad.state is State.ONLINE and bad.activated


def test_ignores_remote_reset(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "ignores-remote-reset")
    for cam in (good, bad):
        the_lab.cloud.app.remove_device(the_lab.owner, cam.dev_id, wipe=True)  # type: ignore[arg-type]
    assert good.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING and good.kept_dev_id is None
    bad.wait_for_event("reset-ignored", 5)
    assert bad.state is State.ONLINE


def test_reconnect_never(the_lab: Lab) -> None:
    bad = online(the_lab, "reconnect-never")
    bad.power_cycle()
    bad.wait_for_event("mqtt-not-attempted", 5)
    assert bad.state is State.CONNECTING and not bad.mqtt_online
    wait_until(lambda: not the_lab.device(bad).online)


def test_every_catalogued_fault_has_a_test_and_says_what_it_breaks() -> None:
    for entry in CAMERA_FAULTS.values():
        assert entry.description and entry.requirement and issubclass(entry.cls, EmulatedCamera)
    builtin = {n for n, e in CAMERA_FAULTS.items() if e.cls.__module__ == "harness.emulator.faults"}
    source = Path(__file__).read_text(encoding="utf-8")
    untested = {name for name in builtin if f'"{name}")' not in source}
    assert not untested, f"camera faults without a test here: {sorted(untested)}"


# ------------------------------------------------------------------------------------------ from outside


class ShoutsToken(EmulatedCamera):
    """A fault defined outside the package, the documented way: subclass, override one hook."""

    def split_token(self, text: str) -> tuple[str, str, str]:
        region, token, secret = super().split_token(text)
        return region, token.upper(), secret


@pytest.fixture
def shouts_token() -> Iterator[type[EmulatedCamera]]:
    """Registered for this test only: the catalogue is global, and other tests check it lists the built-ins."""
    register_camera_fault("test-shouts-token", "sends its token in upper case",
                          requirement="PROTOCOL.md §1.4")(ShoutsToken)
    try:
        yield ShoutsToken
    finally:
        CAMERA_FAULTS.pop("test-shouts-token", None)


def test_a_fault_from_outside_combines_with_catalogued_ones(the_lab: Lab, shouts_token: type[EmulatedCamera]) -> None:
    cls = camera_class(["test-shouts-token", "no-prompt-sound"])
    assert cls.fault_names == ("test-shouts-token", "no-prompt-sound")
    assert camera_class([ShoutsToken]).fault_names == ("test-shouts-token",)
    cam = the_lab.camera(faults=[ShoutsToken, "no-prompt-sound"])
    token = the_lab.token()
    cam.present_qr(qr_image(token=token))
    assert not cam.events("prompt-sound")
    assert cam.events("atop-request")[0].details["token"] == split_token_fixed(token)[1].upper()
    expected = State.ONLINE if token[2:10] == token[2:10].upper() else State.FAILED
    assert cam.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is expected
    with pytest.raises(ValueError, match="unknown camera fault"):
        camera_class(["no-such-fault"])
