"""Blame and diagnosis (issue "Detection power"): a device that does not act within its stated time is the
device's FAIL, never a harness ERROR; a pairing FAIL says what the device decoded, joined or was told against
what it was given, from the device adapter's events."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from harness.adapters.contracts import AdapterError, DeviceDidNotAct, DeviceEvent
from harness.adapters.registry import World, build_world
from harness.conformance.diagnosis import explain_pairing
from harness.conformance.lab import Lab
from harness.conformance.verdicts import Verdict, classify
from harness.evidence import EvidenceRecorder
from harness.model import ActivatorErrorCode
from harness.profiles import load_profile
from harness.redaction import Redactor

TOKEN = "AYabcdefgh1234"


def event(at: float, name: str, **details: Any) -> DeviceEvent:
    return DeviceEvent(at=at, name=name, details=details)


# ---- the verdict of a device that does not act ---------------------------------------------------------------


def test_a_device_that_does_not_act_in_time_is_a_fail_and_lab_trouble_an_error() -> None:
    verdict, message = classify(DeviceDidNotAct("reach pairing mode", 5.0, "it is online"), phase="call")
    assert verdict is Verdict.FAIL
    assert "did not reach pairing mode within 5 s (it is online)" in message
    assert classify(AdapterError("the reset hook exited 127"), phase="call")[0] is Verdict.ERROR


# ---- diagnosis from events -------------------------------------------------------------------------------------


def test_a_mangled_ssid_is_named_as_decoded_against_shown() -> None:
    events = [event(9.0, "config-received", mode="qr", ssid="old", password="<redacted 8>", token=TOKEN),
              event(10.0, "qr-decoded", length=60),
              event(10.0, "config-received", mode="qr", ssid="open cafÃ©", password="<redacted 0>", token=TOKEN)]
    why = explain_pairing(events, since=10.0, mode="qr", ssid="open café", password="", token=TOKEN)
    assert why == "the device decoded SSID 'open cafÃ©', the QR code held 'open café'"


def test_a_password_is_compared_by_length_only_and_a_token_by_value() -> None:
    events = [event(1.0, "config-received", mode="ez", ssid="lab", password="<redacted 7>", token="AYabcdefgh123")]
    why = explain_pairing(events, since=0.0, mode="ez", ssid="lab", password="hunter22", token=TOKEN)
    assert why is not None and "hunter22" not in why
    assert "a password of 7 bytes, the EZ transmission held one of 8 bytes" in why
    assert "the device decoded token 'AYabcdefgh123', the EZ transmission held 'AYabcdefgh1234'" in why


@pytest.mark.parametrize(("events", "expected"), [
    ([event(1, "config-refused", mode="qr", reason="missing member t")], "the device refused the QR code: missing"),
    ([event(1, "qr-scan-stuck")], "the device's QR scan never ended"),
    ([event(1, "qr-no-code")], "the device found no QR code in the image it was shown"),
    ([event(1, "qr-ignored", state="online")], "the device ignored the QR code (it was online)"),
    ([], "the device never took the QR code"),
    ([event(1, "config-received", ssid="lab", password="<redacted 8>", token=TOKEN),
      event(2, "wifi-join", ssid="lab", outcome="wrong-password")],
     "the device took the right configuration but could not join 'lab': wrong-password"),
    ([event(1, "config-received", ssid="lab", password="<redacted 8>", token=TOKEN),
      event(2, "wifi-join", ssid="lab", outcome="ok"), event(3, "atop-request", token="AYabcdef"),
      event(4, "atop-refused", error_code="EXPIRE", error_msg="token unknown")],
     "the cloud refused the device's activation: EXPIRE token unknown"),
    ([event(1, "config-received", ssid="lab", password="<redacted 8>", token=TOKEN),
      event(2, "wifi-join", ssid="lab", outcome="ok"), event(3, "atop-request", token="AYabcdef"),
      event(4, "atop-activated")],
     "the device activated with token 'AYabcdef', not the 8 characters 'abcdefgh' of the token shown"),
    ([event(1, "config-received", ssid="lab", password="<redacted 8>", token=TOKEN),
      event(2, "wifi-join", ssid="lab", outcome="ok"), event(3, "atop-request", token="abcdefgh"),
      event(4, "atop-activated"), event(5, "mqtt-refused", reason="not authorized")],
     "the device activated but its MQTT login failed (mqtt-refused: not authorized)"),
])
def test_each_stage_of_a_failed_pairing_is_named(events: list[DeviceEvent], expected: str) -> None:
    why = explain_pairing(events, since=0.0, mode="qr", ssid="lab", password="pw123456", token=TOKEN)
    assert why is not None and why.startswith(expected), why


@pytest.mark.parametrize(("events", "expected"), [
    ([event(1, "bind-push-ignored", protocol=46)],
     "the device received the bind push but ignored it (took no token from it, never activated)"),
    ([event(1, "bind-push-refused", reason="a 2.3 envelope; this login reads only 2.2")],
     "the device refused the bind push: a 2.3 envelope; this login reads only 2.2"),
    ([], "the device never took the bind push"),
])
def test_what_a_device_did_with_a_token_pushed_by_a_bind_by_uuid_is_named(events: list[DeviceEvent],
                                                                          expected: str) -> None:
    """PROTOCOL.md §11.6: a device bound by its UUID activates with the token it is pushed."""
    why = explain_pairing(events, since=0.0, mode="mqtt-bind", ssid="", password="", token=TOKEN)
    assert why is not None and why.startswith(expected), why


def test_a_pairing_the_events_show_nothing_wrong_with_has_no_diagnosis() -> None:
    events = [event(1, "config-received", ssid="lab", password="<redacted 8>", token=TOKEN),
              event(2, "wifi-join", ssid="lab", outcome="ok"), event(3, "atop-request", token="abcdefgh"),
              event(4, "atop-activated"), event(5, "online")]
    assert explain_pairing(events, since=0.0, mode="qr", ssid="lab", password="pw123456", token=TOKEN) is None


# ---- through the lab, on the emulated world ------------------------------------------------------------------------


def make_lab(faults: list[str]) -> Iterator[tuple[World, Lab]]:
    world = build_world(load_profile("camera-strong"), overrides={"device": {"faults": faults}})
    redactor = Redactor()
    lab = Lab(world, load_profile("camera-strong"), evidence=EvidenceRecorder("TC-TEST", "test", redactor=redactor),
              redactor=redactor, device=lambda: world.device, rng=random.Random(7))
    try:
        world.device.wait_pairing_mode(10)
        yield world, lab
    finally:
        world.close()


@pytest.fixture
def mangling_lab() -> Iterator[tuple[World, Lab]]:
    yield from make_lab(["qr-mangles-utf8"])


@pytest.fixture
def hanging_lab() -> Iterator[tuple[World, Lab]]:
    yield from make_lab(["qr-scan-hangs-on-astral"])


def test_a_qr_pairing_that_never_activates_says_what_the_device_decoded(mangling_lab: tuple[World, Lab]) -> None:
    _, lab = mangling_lab
    lab.wifi("open café", "")
    outcome = lab.pair("qr", ssid="open café", password="")
    assert outcome.code is ActivatorErrorCode.TIMEOUT
    message = str(outcome.error)  # zbar's charset guess makes the é of the UTF-8 bytes something else
    assert "the device decoded SSID 'open caf" in message and ", the QR code held 'open café'" in message
    assert "the device decoded SSID 'open café'" not in message


def test_a_qr_scan_that_never_ends_is_the_devices_timeout_not_a_harness_error(hanging_lab: tuple[World, Lab]) -> None:
    world, lab = hanging_lab
    with pytest.raises(DeviceDidNotAct):  # the contract: the device did not act, the lab is fine
        lab.wifi("home 🏠", "pw123456")
        world.device.present_qr(__import__("harness.qrimage", fromlist=["render_qr"]).render_qr(
            '{"s":"home 🏠","p":"pw123456","t":"' + TOKEN + '"}'))
    world.device.factory_reset()
    world.device.wait_pairing_mode(10)
    outcome = lab.pair("qr", ssid="home 🏠", password="pw123456")  # no AdapterError: an outcome to judge
    assert outcome.code is ActivatorErrorCode.TIMEOUT
    message = str(outcome.error)
    assert "the device did not take the QR code held in front of it" in message
    assert "the device's QR scan never ended" in message


def test_a_failed_pairing_whose_events_cannot_be_read_keeps_the_devices_error(mangling_lab: tuple[World, Lab],
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagnosis is best effort: a hung camera's events hook timing out must not turn its FAIL into an ERROR."""
    world, lab = mangling_lab

    def unreadable() -> list[DeviceEvent]:
        raise AdapterError("hook 'events' timed out")

    monkeypatch.setattr(world.device, "events", unreadable)
    lab.wifi("open café", "")
    outcome = lab.pair("qr", ssid="open café", password="")  # no AdapterError: an outcome to judge
    assert outcome.code is ActivatorErrorCode.TIMEOUT
    assert "the device decoded" not in str(outcome.error)
    [entry] = [e for e in lab.evidence.timeline if e.name == "diagnosis unavailable"]
    assert "hook 'events' timed out" in entry.details["error"]
