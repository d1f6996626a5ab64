"""QR payload encoding: what the app renders decodes to exactly what it meant, the device pairs with every legal
encoding and refuses every illegal one without hanging (seed "device-pairing-qr-mode", PROTOCOL.md §1)."""

from __future__ import annotations

import json

import pytest

from harness.adapters.contracts import AdapterError, CloudAdapter, DeviceAdapter
from harness.app.activator import Outcome, QrOptions, pair
from harness.conformance.lab import Lab
from harness.protocol.qr import MEMBERS
from harness.protocol.token import TOKEN_STRING_LEN
from harness.qrimage import decode_qr, render_qr

RETURN_TO_PAIRING_S = 5.0
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


class _Members(list[tuple[str, object]]):
    """A JSON object's members in document order, duplicates kept."""


def _whitespace_outside_strings(text: str) -> int | None:
    """Index of the first JSON whitespace character between tokens (compact JSON has none), or None."""
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in " \t\n\r":
            return index
    return None


def qr_payload_problem(data: bytes, ssid: str, password: str, token: str) -> str | None:
    """What keeps ``data`` from being the QR payload of §1.1 for this SSID, password and token, or None: compact
    JSON (no whitespace outside strings; any key order and any legal escape, §1.2), one object with exactly the
    string members s, p and t, holding exactly what was meant, the token 14 characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 ({exc.reason} at byte {exc.start})"
    where = _whitespace_outside_strings(text)
    if where is not None:
        return f"it is not compact JSON: whitespace {text[where]!r} outside a string at character {where}"
    try:
        document = json.loads(text, object_pairs_hook=_Members)
    except json.JSONDecodeError as exc:
        return f"it is not JSON: {exc.msg} at character {exc.pos}"
    if not isinstance(document, _Members):
        return f"it is not a JSON object but a {type(document).__name__}"
    names = [name for name, _ in document]
    if sorted(names) != sorted(MEMBERS):
        missing = [name for name in MEMBERS if name not in names]
        others = [name for name in names if name not in MEMBERS]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        return (f"it does not have exactly the members s, p and t: members {names}"
                + (f", missing {missing}" if missing else "") + (f", extra {others}" if others else "")
                + (f", duplicated {duplicates}" if duplicates else ""))
    members = dict(document)
    not_strings = [name for name in MEMBERS if not isinstance(members[name], str)]
    if not_strings:
        return f"members {not_strings} are not JSON strings"
    meant = {"s": ("the SSID", ssid), "p": ("the Wi-Fi password", password), "t": ("the token", token)}
    wrong = [f"{name} is not {what} used" for name, (what, value) in meant.items() if members[name] != value]
    if wrong:
        return "; ".join(wrong)
    if len(token) != TOKEN_STRING_LEN:
        return f"the token t has {len(token)} characters, not {TOKEN_STRING_LEN}"
    return None


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
    problem = qr_payload_problem(symbols[0], wifi.ssid, wifi.password, token)
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
    the cloud sees exactly one activation under the token it issued, and no request carrying another cut of it
    (a cloud that tells, as the emulated one does, records those under the token as refused ILLEGAL_PARAM)."""
    token = lab.activator().get_token(lab.home())
    outcome = lab.pair("qr", token=token)
    assert outcome.ok, outcome.error
    attempts = list(cloud.token_attempts(token))
    seen = [a.outcome if a.error_code is None else f"{a.outcome} {a.error_code}: {a.error_msg}" for a in attempts]
    assert [a.outcome for a in attempts] == ["activated"], \
        f"§1.4: one activation with the 8-character token expected; the cloud saw {len(attempts)}: {seen}"
