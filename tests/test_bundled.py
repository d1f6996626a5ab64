"""What the wheel ships besides code (harness.bundled) is found through importlib.resources, and the rules that the
wheel's layout touches: a suite's assertion is the device's FAIL wherever the suites are installed, and a TC's
title comes from one place (harness.conformance.titles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import bundled
from harness.conformance.titles import display_name, first_sentence, tc_title, words_of
from harness.conformance.verdicts import Verdict, classify
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundled_parts_are_the_checkouts_folders_in_an_editable_install() -> None:
    assert bundled.suites_dir() == ROOT / "suites"
    assert bundled.profiles_dir() == ROOT / "profiles"
    assert bundled.requirements_file() == ROOT / "suites" / "requirements.toml"
    assert sorted(p.name for p in bundled.faults_dir().glob("*.toml")) == ["activator.toml", "camera.toml",
                                                                          "cloud.toml"]


def test_a_missing_part_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "SUITES_PACKAGE", "harness.bundled.nothing_here")
    with pytest.raises(bundled.BundleMissing, match=r"harness\.bundled\.nothing_here is not installed"):
        bundled.suites_dir()


def test_an_assertion_in_an_installed_suite_is_the_devices_fail() -> None:
    """The verdict follows the exception's type, never the file it was raised in: a suite's assertion is the
    device's FAIL wherever the suites are installed, and the harness's own broken invariant is a HarnessError."""
    assert classify(AssertionError("the device sent 14 characters"), phase="call") == (
        Verdict.FAIL, "AssertionError: the device sent 14 characters")
    assert classify(HarnessError("broken invariant: x"), phase="call")[0] is Verdict.ERROR


@pytest.mark.parametrize(("title", "docstring", "function", "expected"), [
    ("the device reads the QR code", "Anything.", "test_x", "the device reads the QR code"),
    (None, "The camera blinks blue. Then it pairs.", "test_x", "The camera blinks blue"),
    (None, "PROTOCOL.md §1.4: region [0,2), token [2,10).", "test_the_device_activates_with_the_8_character_token",
     "the device activates with the 8 character token"),
    (None, '"The Token is valid for 10 minutes" (seed): a token used late pairs.', "test_a_token_pairs[qr]",
     "a token pairs"),
    (None, "A" * 101 + ".", "test_long_docstrings_give_way", "long docstrings give way"),
    (None, None, "test_no_docstring", "no docstring"),
])
def test_a_tcs_title_follows_one_rule(title: str | None, docstring: str | None, function: str, expected: str) -> None:
    assert tc_title(title=title, docstring=docstring, function=function) == expected


def test_the_title_helpers() -> None:
    assert first_sentence("  One line.\n  More of it.\n\nAnother paragraph.") == "One line"
    assert first_sentence("Version 1.2 of the spec says so") == "Version 1.2 of the spec says so"
    assert words_of("test_a__b_c[param]") == "a b c"
    assert display_name("TC-QR-007", "the device", "emoji") == "TC-QR-007 the device [emoji]"
    assert display_name("TC-QR-007", "the device") == "TC-QR-007 the device"
