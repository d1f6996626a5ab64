"""QR payload encoding: what the app renders decodes to exactly what it meant, the device pairs with every legal
encoding and refuses every illegal one without hanging (seed "device-pairing-qr-mode", PROTOCOL.md §1)."""

from __future__ import annotations

import pytest

from harness.activator import Outcome, QrOptions, pair
from harness.adapters.contracts import AdapterError, CloudAdapter, DeviceAdapter
from harness.lab import Lab
from harness.protocol.qr import QrPayload, decode_qr, parse_qr_text, render_qr

RETURN_TO_PAIRING_S = 5.0
TOKEN = "AYabcdefgh1234"  # only for what the harness renders; the device is always given a token the cloud issued

# The hard cases of PROTOCOL.md §1.2: (SSID, password).
HARD_CASES = {
    "multibyte-ssid-32-bytes": ("カメラ家の無線ネットab", "correct horse battery"),
    "password-64-hex": ("hex-net", "0123456789abcdef" * 4),
    "open-network": ("open café", ""),
    "quotes-backslashes-slashes": ('say "hi" \\ a/b', 'pw"\\/x12345'),
    "emoji": ("home 🏠📶", "pässwörd🔑"),
    "control-characters": ("tab\there\nnl", "bell\x07and\x1fus"),
}

# Legal encodings of the same payload (§1.2): any key order; escaped slashes and \uXXXX escapes.
KEY_ORDERS = ["spt", "pst", "tps"]
ESCAPES = {
    "escaped-slashes": QrOptions(escape_slash=True),
    "unicode-escapes": QrOptions(ascii_only=True, escape_slash=True),
}


def illegal_payloads(token: str) -> dict[str, str]:
    """§1.1/§1.3/§1.4: payloads a device must refuse (built around a token the cloud really issued)."""
    def text(ssid: str = "lab-net", token_text: str = token, *, drop: str = "", close: str = "}") -> str:
        members = {"s": ssid, "p": "pw123456", "t": token_text}
        return "{" + ",".join(f'"{k}":"{v}"' for k, v in members.items() if k != drop) + close

    return {
        "missing-password": text(drop="p"),
        "missing-token": text(drop="t"),
        "not-json": text(close=""),
        "ssid-over-32-bytes": text(ssid="x" * 40),
        "malformed-token": text(token_text=token[:9]),
    }


def pair_with_qr(lab: Lab, options: QrOptions, ssid: str, password: str) -> Outcome:
    """Pair by QR with the app rendering the payload as ``options`` says."""
    activator = lab.activator()
    activator.qr = options
    token = activator.get_token(lab.home())
    return pair(activator, "qr", ssid, password, token, timeout=lab.activator_timeout_s)


def back_in_pairing_mode(device: DeviceAdapter, after: str) -> None:
    """Alive and in pairing mode again by itself, within a bounded wait (no hang, no reset needed); a dead or
    stuck device is power cycled for the tests that follow (the verdict on this one stands)."""
    try:
        device.wait_pairing_mode(RETURN_TO_PAIRING_S)
        pairing = True
    except AdapterError:
        pairing = False
    alive = device.is_alive()
    if alive and pairing:
        return
    device.power_cycle()
    if not alive:
        pytest.fail(f"{after}: the device died on an illegal QR payload", pytrace=False)
    pytest.fail(f"after {after} the device did not return to pairing mode within {RETURN_TO_PAIRING_S:g} s",
                pytrace=False)


def bound(cloud: CloudAdapter, device: DeviceAdapter) -> bool:
    record = cloud.device_by_uuid(device.licence.uuid)
    return record is not None and record.home is not None


@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001", "REQ-QR-002"])
@pytest.mark.parametrize("case", sorted(HARD_CASES))
@pytest.mark.parametrize("backend", ["zbar", "zxing"])
def test_every_rendered_qr_decodes_to_exactly_the_intended_payload(case: str, backend: str) -> None:
    """PROTOCOL.md §1.1/§1.2: compact JSON with exactly s, p and t, UTF-8 with non-ASCII written raw; each
    decoder recovers the bytes, and the members, exactly."""
    ssid, password = HARD_CASES[case]
    text = QrPayload(ssid, password, TOKEN).to_text()
    assert decode_qr(render_qr(text), backend=backend) == [text.encode("utf-8")]  # type: ignore[arg-type]
    payload = parse_qr_text(text)
    assert (payload.ssid, payload.password, payload.token, payload.extras) == (ssid, password, TOKEN, ())


@pytest.mark.tc("TC-QR-002", reqs=["REQ-QR-002"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("case", sorted(HARD_CASES))
def test_the_device_joins_exactly_the_network_in_the_qr(lab: Lab, device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §1.2: the device recovers SSID and password byte for byte, whatever they hold."""
    ssid, password = HARD_CASES[case]
    lab.wifi(ssid, password)
    outcome = lab.pair("qr", ssid=ssid, password=password)
    assert outcome.ok, f"{case}: {outcome.error}"


@pytest.mark.tc("TC-QR-003", reqs=["REQ-QR-003"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("key_order", KEY_ORDERS)
def test_the_device_pairs_whatever_the_order_of_the_members(lab: Lab, device: DeviceAdapter, key_order: str) -> None:
    """PROTOCOL.md §1.2: the key order is not fixed (s,p,t in the docs, p,s,t in IPC SDK examples)."""
    wifi = lab.default_wifi
    outcome = pair_with_qr(lab, QrOptions(key_order=key_order), wifi.ssid, wifi.password)
    assert outcome.ok, f"members in the order {key_order}: {outcome.error}"


@pytest.mark.tc("TC-QR-004", reqs=["REQ-QR-004"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("escapes", sorted(ESCAPES))
def test_the_device_pairs_with_json_escapes(lab: Lab, device: DeviceAdapter, escapes: str) -> None:
    """PROTOCOL.md §1.2: the escapes \\/, \\", \\\\ and \\uXXXX are undone before the device joins."""
    ssid, password = 'lab/net "é"', "pw/\\ü12345"
    lab.wifi(ssid, password)
    outcome = pair_with_qr(lab, ESCAPES[escapes], ssid, password)
    assert outcome.ok, f"{escapes}: {outcome.error}"


@pytest.mark.tc("TC-QR-005", reqs=["REQ-QR-005"])
@pytest.mark.requires("mode:qr")
@pytest.mark.parametrize("case", sorted(illegal_payloads(TOKEN)))
def test_the_device_refuses_an_illegal_qr_and_then_pairs_normally(lab: Lab, cloud: CloudAdapter,
                                                                  device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §1.1/§1.3/§1.4: a missing member, bad JSON, an SSID over 32 bytes or a malformed token is
    refused without activating and without hanging; a legal QR code pairs right after."""
    token = lab.activator().get_token(lab.home())
    device.present_qr(render_qr(illegal_payloads(token)[case]))
    back_in_pairing_mode(device, case)
    assert not bound(cloud, device), f"{case}: the device activated from an illegal QR payload"
    outcome = lab.pair("qr")
    assert outcome.ok, f"after {case} the device did not pair normally: {outcome.error}"


@pytest.mark.tc("TC-QR-006", reqs=["REQ-QR-006"])
@pytest.mark.requires("mode:qr", "device:qr-prompt", "device:events")
def test_the_device_sounds_a_prompt_after_capturing_a_qr(lab: Lab, device: DeviceAdapter) -> None:
    """"The device will sound a prompt after capturing the information of the QR code" (seed)."""
    assert lab.pair("qr").ok
    assert any(event.name == "prompt-sound" for event in device.events()), "no prompt after the QR was captured"


@pytest.mark.tc("TC-QR-007", reqs=["REQ-QR-007"])
@pytest.mark.requires("mode:qr")
def test_the_device_activates_with_the_8_character_token(lab: Lab, cloud: CloudAdapter,
                                                         device: DeviceAdapter) -> None:
    """PROTOCOL.md §1.4: region [0,2), token [2,10), secret [10,14); the activation carries the token part, so
    the cloud sees exactly one activation under the token it issued."""
    token = lab.activator().get_token(lab.home())
    outcome = lab.pair("qr", token=token)
    assert outcome.ok, outcome.error
    assert [a.outcome for a in cloud.token_attempts(token)] == ["activated"]
