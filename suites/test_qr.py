"""QR payload encoding: what the app renders decodes to exactly what it meant, the device pairs with every legal
encoding and refuses every illegal one without hanging (seed "device-pairing-qr-mode", PROTOCOL.md §1)."""

from __future__ import annotations

import pytest

from harness.adapters.contracts import CloudAdapter, DeviceAdapter, DeviceCapability
from harness.app.activator import QrOptions
from harness.conformance.lab import Lab
from harness.protocol.qr import QrPayload, illegal_qr_texts, rendering_problem
from harness.qrimage import decode_qr, render_qr

TOKEN = "AYabcdefgh1234"  # only to name the illegal cases; the device is always given a token the cloud issued

# The hard cases of PROTOCOL.md §1.2: (SSID, password).
HARD_CASES = {
    "multibyte-ssid-32-bytes": ("カメラ家の無線ネットab", "correct horse battery"),
    "password-64-hex": ("hex-net", "0123456789abcdef" * 4),
    "open-network": ("open café", ""),
    "quotes-backslashes-slashes": ('say "hi" \\ a/b', 'pw"\\/x12345'),
    "emoji": ("home 🏠📶", "pässwörd🔑"),
    "control-characters": ("tab\there\nnl", "bell\x07and\x1fus"),
}

# Values a parser must not touch (§1.1/§1.2): spaces at either end, and what URL encoding would decode.
VERBATIM_CASES = {
    "spaces-at-either-end": (" lab net ", " pass word "),
    "plus-and-percent": ("a+b%20c", "p%41ss+w%2Bord"),
}

# Legal encodings of the same payload (§1.2): any key order; escaped slashes and \uXXXX escapes.
KEY_ORDERS = ["spt", "pst", "tps"]
ESCAPES = {
    "escaped-slashes": QrOptions(escape_slash=True),
    "unicode-escapes": QrOptions(ascii_only=True, escape_slash=True),
}


# The illegal payloads a device cannot take a whole configuration from: it must join nothing from them.
UNPARSEABLE = frozenset({"missing-password", "missing-token", "not-json", "ssid-over-32-bytes", "duplicate-ssid"})

@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001", "REQ-QR-002"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("backend", ["zbar", "zxing"])
def test_every_rendered_qr_decodes_to_exactly_the_intended_payload(lab: Lab, device: DeviceAdapter,
                                                                   backend: str) -> None:
    """PROTOCOL.md §1.1/§1.2: compact JSON with exactly s, p and t, UTF-8 with non-ASCII written raw; each
    decoder recovers the bytes, and the members, exactly.

    The device is paired by QR through the lab's activator (the app side that REQ-QR-001 binds), and the very
    image it showed the device is checked. (paircert's own encoder on the hard cases is the project's own test,
    tests/test_protocol_qr.py: a check of the harness is no verdict on the device.)"""
    the_qr_the_activator_showed_is_exactly_the_payload(lab, device, backend)


def the_qr_the_activator_showed_is_exactly_the_payload(lab: Lab, device: DeviceAdapter, backend: str) -> None:
    """One QR pairing through the lab's activator; the image it presented, decoded with ``backend``, must carry
    exactly the payload of the SSID, password and token it was given."""
    token = lab.activator().get_token(lab.home())
    wifi = lab.default_wifi
    outcome = lab.pair("qr", token=token, ssid=wifi.ssid, password=wifi.password, device=device)
    assert outcome.qr_image is not None, "the activator showed the device no QR code"
    symbols = decode_qr(outcome.qr_image, backend=backend)  # type: ignore[arg-type]
    assert len(symbols) == 1, f"{backend} found {len(symbols)} QR symbols in the image the activator showed, not 1"
    problem = rendering_problem(symbols[0], QrPayload(wifi.ssid, wifi.password, token))
    assert problem is None, (f"the QR code the activator showed, read by {backend}, breaks §1.1: {problem} "
                             f"(it reads {symbols[0].decode('utf-8', 'replace')!r})")


@pytest.mark.tc("TC-QR-002", reqs=["REQ-QR-002"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("case", sorted(HARD_CASES))
def test_the_device_joins_exactly_the_network_in_the_qr(lab: Lab, device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §1.2: the device recovers SSID and password byte for byte, whatever they hold."""
    ssid, password = HARD_CASES[case]
    lab.wifi(ssid, password)
    outcome = lab.pair("qr", ssid=ssid, password=password)
    assert outcome.ok, f"{case}: {outcome.error}"


@pytest.mark.tc("TC-QR-008", reqs=["REQ-QR-008"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("case", sorted(VERBATIM_CASES))
def test_the_device_takes_the_ssid_and_password_verbatim(lab: Lab, device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §1.1/§1.2: s and p are JSON strings; spaces at either end, '+' and '%XX' are part of the
    network's name and password, so the device joins exactly that network."""
    ssid, password = VERBATIM_CASES[case]
    lab.wifi(ssid, password)
    outcome = lab.pair("qr", ssid=ssid, password=password)
    assert outcome.ok, f"{case}: SSID {ssid!r} and password as shown did not pair: {outcome.error}"


@pytest.mark.tc("TC-QR-003", reqs=["REQ-QR-003"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("key_order", KEY_ORDERS)
def test_the_device_pairs_whatever_the_order_of_the_members(lab: Lab, device: DeviceAdapter, key_order: str) -> None:
    """PROTOCOL.md §1.2: the key order is not fixed (s,p,t in the docs, p,s,t in IPC SDK examples)."""
    outcome = lab.pair("qr", options=QrOptions(key_order=key_order))
    assert outcome.ok, f"members in the order {key_order}: {outcome.error}"


@pytest.mark.tc("TC-QR-004", reqs=["REQ-QR-004"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("escapes", sorted(ESCAPES))
def test_the_device_pairs_with_json_escapes(lab: Lab, device: DeviceAdapter, escapes: str) -> None:
    """PROTOCOL.md §1.2: the escapes \\/, \\", \\\\ and \\uXXXX are undone before the device joins."""
    ssid, password = 'lab/net "é"', "pw/\\ü12345"
    lab.wifi(ssid, password)
    outcome = lab.pair("qr", ssid=ssid, password=password, options=ESCAPES[escapes])
    assert outcome.ok, f"{escapes}: {outcome.error}"


@pytest.mark.tc("TC-QR-005", reqs=["REQ-QR-005"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("case", sorted(illegal_qr_texts(TOKEN)))
def test_the_device_refuses_an_illegal_qr_and_then_pairs_normally(lab: Lab, device: DeviceAdapter,
                                                                  case: str) -> None:
    """PROTOCOL.md §1.1/§1.3/§1.4: a missing member, bad JSON, an SSID over 32 bytes or a malformed token is
    refused without activating and without hanging; a legal QR code pairs right after."""
    token = lab.activator().get_token(lab.home())
    since = len(device.events()) if DeviceCapability.EVENTS in device.capabilities else None
    device.present_qr(render_qr(illegal_qr_texts(token)[case]))
    lab.expect_still_pairing(f"the illegal QR payload {case}")
    assert not lab.is_bound(), f"{case}: the device activated from an illegal QR payload"
    if since is not None and case in UNPARSEABLE:  # §1.4: a malformed token is only found out by the cloud
        joins = [f"{e.details.get('ssid')!r} ({e.details.get('outcome')})" for e in device.events()[since:]
                 if e.name == "wifi-join"]
        assert not joins, f"{case}: the device took a network from an illegal QR payload and tried to join {joins}"
    outcome = lab.pair("qr")
    assert outcome.ok, f"after {case} the device did not pair normally: {outcome.error}"


@pytest.mark.tc("TC-QR-006", reqs=["REQ-QR-006"])
@pytest.mark.requires("mode:qr", "device:qr-prompt", "device:events")
def test_the_device_sounds_a_prompt_after_capturing_a_qr(lab: Lab, device: DeviceAdapter) -> None:
    """"The device will sound a prompt after capturing the information of the QR code" (seed)."""
    outcome = lab.pair("qr")
    assert outcome.ok, f"the pairing failed: {outcome.error}"
    assert any(event.name == "prompt-sound" for event in device.events()), "no prompt after the QR was captured"


@pytest.mark.tc("TC-QR-007", reqs=["REQ-QR-007"])
@pytest.mark.requires("mode:qr")
def test_the_device_activates_with_the_8_character_token(lab: Lab, cloud: CloudAdapter,
                                                         device: DeviceAdapter) -> None:
    """PROTOCOL.md §1.4: region [0,2), token [2,10), secret [10,14); the activation carries the token part, so
    the cloud sees exactly one activation under the token it issued, and no request carrying another cut of it
    (a cloud that tells, as the emulated one does, records those under the token as refused ILLEGAL_PARAM)."""
    token = lab.activator().get_token(lab.home())
    outcome = lab.pair("qr", token=token)
    assert outcome.ok, outcome.error
    attempts = list(cloud.token_attempts(token))
    seen = [a.outcome if a.error_code is None else f"{a.outcome} {a.error_code}: {a.error_msg}" for a in attempts]
    assert [a.outcome for a in attempts] == ["activated"], \
        f"§1.4: one activation with the 8-character token expected; the cloud saw {len(attempts)}: {seen}"
