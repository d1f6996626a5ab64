"""The activator faults of the QR payload (harness.app.faults): each renders a QR code that breaks
REQ-QR-001 yet still pairs a tolerant camera, and TC-QR-001's check of the image tells it from every legal
encoding (PROTOCOL.md §1.1/§1.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.registry import ProfileWorld, build_world
from harness.app.activator import Activator, QrOptions, pair
from harness.app.faults import ACTIVATOR_FAULTS, activator_class
from harness.profiles import load_profile
from harness.protocol.qr import QrPayload, parse_qr_text, rendering_problem
from harness.qrimage import decode_qr

SSID, PASSWORD = "Home/Net é", 'hunter"22'
TOKEN = "AYabcdefgh1234"
QR_FAULTS = ["qr-pretty-printed-json", "qr-extra-version-member"]


def qr_payload_problem(data: bytes, ssid: str, password: str, token: str) -> str | None:
    """TC-QR-001's check of what the app rendered (harness.protocol.qr.rendering_problem)."""
    return rendering_problem(data, QrPayload(ssid, password, token))


LEGAL = [QrOptions(), QrOptions(key_order="pst"), QrOptions(key_order="tps", escape_slash=True),
         QrOptions(ascii_only=True, escape_slash=True)]


@pytest.fixture(scope="module")
def world() -> Iterator[ProfileWorld]:
    w = build_world(load_profile("camera-strong"), seed=11)
    w.network.add_access_point(SSID.encode(), PASSWORD.encode())
    yield w
    w.close()


def clean_slate(world: ProfileWorld) -> None:
    record = world.cloud.device_by_uuid(world.device.licence.uuid)
    if record is not None and record.home is not None and record.owner is not None:
        world.cloud.remove_device(record.dev_id, account=record.owner, wipe=True)
    world.device.factory_reset()
    world.device.wait_pairing_mode(10)


def qr_text_of(fault: str, options: QrOptions | None = None) -> str:
    activator = activator_class([fault])(None, account="alice", qr=options or QrOptions())  # type: ignore[arg-type]
    return activator._qr_text(SSID, PASSWORD, TOKEN)


@pytest.mark.parametrize("fault", QR_FAULTS)
def test_a_qr_fault_still_pairs_the_emulated_camera_with_the_qr_it_showed(world: ProfileWorld, fault: str) -> None:
    clean_slate(world)
    account = world.cloud.create_account(f"alice-{fault}")
    home = world.cloud.create_home(account, "flat")
    activator = activator_class([fault])(world.cloud, account=account, device=world.device, network=world.network)
    token = activator.get_token(home)
    outcome = pair(activator, "qr", SSID, PASSWORD, token)
    assert outcome.ok, outcome.error
    assert outcome.qr_image is not None and outcome.qr_text is not None
    for backend in ("zbar", "zxing"):
        assert decode_qr(outcome.qr_image, backend=backend) == [outcome.qr_text.encode("utf-8")]  # type: ignore[arg-type]
    problem = qr_payload_problem(outcome.qr_text.encode("utf-8"), SSID, PASSWORD, token)
    assert problem is not None, f"{fault}: TC-QR-001's check finds nothing wrong with {outcome.qr_text!r}"


def test_pretty_printed_json_has_a_space_after_every_separator_and_keeps_the_options() -> None:
    assert qr_text_of("qr-pretty-printed-json") == '{"s": "Home/Net é", "p": "hunter\\"22", "t": "AYabcdefgh1234"}'
    escaped = qr_text_of("qr-pretty-printed-json", QrOptions(key_order="pst", escape_slash=True, ascii_only=True))
    assert escaped == '{"p": "hunter\\"22", "s": "Home\\/Net \\u00e9", "t": "AYabcdefgh1234"}'
    assert parse_qr_text(escaped) == QrPayload(SSID, PASSWORD, TOKEN)
    problem = qr_payload_problem(escaped.encode(), SSID, PASSWORD, TOKEN)
    assert problem is not None and "not compact JSON" in problem


def test_the_extra_version_member_follows_s_p_and_t() -> None:
    text = qr_text_of("qr-extra-version-member", QrOptions(key_order="pst"))
    assert text == '{"p":"hunter\\"22","s":"Home/Net é","t":"AYabcdefgh1234","v":"2.0"}'
    assert parse_qr_text(text) == QrPayload(SSID, PASSWORD, TOKEN, extras=(("v", '"2.0"'),))
    problem = qr_payload_problem(text.encode(), SSID, PASSWORD, TOKEN)
    assert problem is not None and "extra ['v']" in problem


def test_the_qr_faults_are_catalogued_with_a_description_and_requirement() -> None:
    for name in QR_FAULTS:
        entry = ACTIVATOR_FAULTS[name]
        assert issubclass(entry.cls, Activator) and entry.requirement.startswith("REQ-QR-001")
        assert entry.description and "\n" not in entry.description


@pytest.mark.parametrize("options", LEGAL, ids=lambda o: f"{o.key_order}-slash{o.escape_slash:d}-ascii{o.ascii_only:d}")
def test_tc_qr_001_accepts_every_legal_encoding(options: QrOptions) -> None:
    text = Activator(None, account="alice", qr=options)._qr_text(SSID, PASSWORD, TOKEN)  # type: ignore[arg-type]
    assert qr_payload_problem(text.encode(), SSID, PASSWORD, TOKEN) is None


@pytest.mark.parametrize(("data", "complaint"), [
    (b'{"s":"a","p":"b","t":"AYabcdefgh1234"}\n', "not compact JSON: whitespace '\\n'"),
    (b'{"s" :"a","p":"b","t":"AYabcdefgh1234"}', "not compact JSON"),
    (b'{"s":"a b","p":"b","t":"AYabcdefgh1234"}', "s is not the SSID used"),
    (b'{"s":"a","p":"b"}', "missing ['t']"),
    (b'{"s":"a","p":"b","t":"AYabcdefgh1234","s":"a"}', "duplicated ['s']"),
    (b'{"s":"a","p":1,"t":"AYabcdefgh1234"}', "['p'] are not JSON strings"),
    (b'["a","b","AYabcdefgh1234"]', "not a JSON object"),
    (b'{"s":"a","p":"b","t":"AYabcdefgh1234"', "not JSON"),
    (b'{"s":"\xff","p":"b","t":"AYabcdefgh1234"}', "not UTF-8"),
    (b'{"s":"a","p":"c","t":"AYabcdefgh1234"}', "p is not the Wi-Fi password used"),
])
def test_tc_qr_001_says_what_is_wrong(data: bytes, complaint: str) -> None:
    problem = qr_payload_problem(data, "a", "b", TOKEN)
    assert problem is not None and complaint in problem, problem


def test_tc_qr_001_wants_a_14_character_token() -> None:
    problem = qr_payload_problem(b'{"s":"a","p":"b","t":"AYabcdefgh12"}', "a", "b", "AYabcdefgh12")
    assert problem == "the token t has 12 characters, not 14"
