"""The pairing-token codec against the reference vectors and PROTOCOL.md §1.3-1.4."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from harness.protocol.token import (
    KNOWN_REGIONS,
    PairingToken,
    split_token_by_length,
    split_token_fixed,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors" / "qr.json").read_text(encoding="utf-8"))["vectors"]

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
VALID = re.compile(r"[A-Z]{2}[A-Za-z0-9]{8}[A-Za-z0-9_]{4}")

regions = st.sampled_from(sorted(KNOWN_REGIONS))
token_parts = st.text(alphabet=ALNUM, min_size=8, max_size=8)
secrets_ = st.text(alphabet=ALNUM + "_", min_size=4, max_size=4)
pairing_tokens = st.builds(PairingToken, regions, token_parts, secrets_)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_vector_token_parses_into_its_three_parts(vector: dict[str, Any]) -> None:
    split = vector["token_split"]
    parsed = PairingToken.parse(vector["token"])
    assert (parsed.region, parsed.token, parsed.secret) == (split["region"], split["token"], split["secret"])
    assert str(parsed) == vector["token"]
    assert PairingToken.parse(vector["token"].encode("ascii")) == parsed


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_both_firmware_splits_agree_on_a_well_formed_vector(vector: dict[str, Any]) -> None:
    split = vector["token_split"]
    expected = (split["region"], split["token"], split["secret"])
    assert split_token_fixed(vector["token"]) == expected
    assert split_token_by_length(vector["token"]) == expected


def test_known_regions_are_the_seven_of_ak_plus_tuya_convert_us() -> None:
    assert dict(KNOWN_REGIONS) == {
        "AY": "China", "AZ": "US-West", "UE": "US-East", "EU": "Central Europe", "WE": "Western Europe",
        "IN": "India", "SG": "Singapore", "US": "tuya-convert default region",
    }
    with pytest.raises(TypeError):
        KNOWN_REGIONS["XX"] = "nowhere"  # type: ignore[index]


def test_openapi_example_secret_with_underscore_is_valid() -> None:
    token = PairingToken("AY", "H73Habcd", "pr_0")
    assert str(token) == "AYH73Habcdpr_0"
    assert token.region_name == "China"
    assert PairingToken.parse("AYH73Habcdpr_0") == token


@pytest.mark.parametrize(("region", "token", "secret", "complaint"), [
    ("XX", "AbCd1234", "WWB3", "not a known region"),
    ("ay", "AbCd1234", "WWB3", "region must be 2 upper-case letters"),
    ("AYY", "AbCd1234", "WWB3", "region must be"),
    ("EU", "AbCd123", "WWB3", "token must be 8 characters"),
    ("EU", "AbCd12345", "WWB3", "token must be 8"),
    ("EU", "AbCd_234", "WWB3", "token must be 8 characters of [A-Za-z0-9]"),
    ("EU", "AbCd1234", "WWB", "secret must be 4"),
    ("EU", "AbCd1234", "WW-3", "secret must be 4 characters of [A-Za-z0-9_]"),
    ("EU", "AbCd1234", "WWB3\n", "secret must be"),
    ("EU", "AbCd123é", "WWB3", "token must be"),
    ("EU", 12345678, "WWB3", "token must be"),
])
def test_an_invalid_token_cannot_be_built(region: str, token: Any, secret: str, complaint: str) -> None:
    with pytest.raises(LocalProtocolError, match=re.escape(complaint)):
        PairingToken(region, token, secret)


@pytest.mark.parametrize(("text", "complaint"), [
    ("", "must be 14 characters (region 2 + token 8 + secret 4), got 0"),
    ("EUAbCd1234WWB", "must be 14 characters (region 2 + token 8 + secret 4), got 13"),
    ("EUAbCd1234WWB3X", "got 15"),
    ("XXAbCd1234WWB3", "unknown region 'XX' (known: AY, AZ, EU, IN, SG, UE, US, WE)"),
    ("euAbCd1234WWB3", "bad character 'e' (U+0065) at position 0: the region allows only [A-Z]"),
    ("EUAbCd-234WWB3", "bad character '-' (U+002D) at position 6: the token allows only [A-Za-z0-9]"),
    ("EUAbCd1234WW 3", "bad character ' ' (U+0020) at position 12: the secret allows only [A-Za-z0-9_]"),
    ("EUAbCd1234WWB\x00", "at position 13"),
    ("EUAbCdé234WWB3", "bad character 'é' (U+00E9) at position 6"),
    ("EUAbCd\ud800234WWB3", "(U+D800) at position 6"),
    (b"EUAbCd\xff234WWB3", "not valid UTF-8: invalid start byte at byte 6 (0xff)"),
    (b"EUAbCd\xc3\xa9234WWB3", "bad character 'é' (U+00E9) at position 6"),
])
def test_malformed_token_text_is_the_remote_side_fault(text: str | bytes, complaint: str) -> None:
    with pytest.raises(RemoteProtocolError, match=re.escape(complaint)) as info:
        PairingToken.parse(text)
    assert info.value.section == "§1.3"


def test_region_table_can_be_narrowed_or_extended() -> None:
    china_only = {"AY": "China"}
    assert PairingToken.parse("AYkbx3mD298GJi", regions=china_only).region == "AY"
    with pytest.raises(RemoteProtocolError, match="unknown region 'EU' \\(known: AY\\)"):
        PairingToken.parse("EUkbx3mD298GJi", regions=china_only)
    lab = {"XX": "lab cloud"}
    token = PairingToken.parse("XXkbx3mD298GJi", regions=lab)
    assert token.region_name == "lab cloud"
    assert token == PairingToken("XX", "kbx3mD29", "8GJi", regions=lab)
    with pytest.raises(LocalProtocolError, match="not a known region"):
        PairingToken("XX", "kbx3mD29", "8GJi")


def test_parse_rejects_a_non_text_argument_as_a_local_mistake() -> None:
    with pytest.raises(LocalProtocolError, match="takes str or bytes, not int"):
        PairingToken.parse(12345678901234)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "fixed", "by_length"), [
    ("", ("", "", ""), ("", "", "")),
    ("A", ("A", "", ""), ("A", "", "A")),
    ("AYkbx", ("AY", "kbx", ""), ("AY", "", "Ykbx")),
    ("AYkbx3", ("AY", "kbx3", ""), ("AY", "", "kbx3")),
    ("AYkbx3mD298G", ("AY", "kbx3mD29", "8G"), ("AY", "kbx3mD", "298G")),
    ("AYkbx3mD298GJi", ("AY", "kbx3mD29", "8GJi"), ("AY", "kbx3mD29", "8GJi")),
    ("AYkbx3mD298GJiEXTRA", ("AY", "kbx3mD29", "8GJi"), ("AY", "kbx3mD298GJiE", "XTRA")),
])
def test_firmware_splits_are_unchecked_like_the_firmware(
        text: str, fixed: tuple[str, str, str], by_length: tuple[str, str, str]) -> None:
    assert split_token_fixed(text) == fixed
    assert split_token_by_length(text) == by_length


@settings(max_examples=300, deadline=None)
@given(pairing_tokens)
def test_every_valid_token_round_trips_through_its_string(token: PairingToken) -> None:
    text = str(token)
    assert len(text) == 14
    assert PairingToken.parse(text) == token
    assert PairingToken.parse(text.encode("ascii")) == token
    assert split_token_fixed(text) == split_token_by_length(text) == (token.region, token.token, token.secret)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(),
    st.text(alphabet=ALNUM + "_-", min_size=12, max_size=16),
    st.builds(lambda r, rest: r + rest, regions, st.text(alphabet=ALNUM + "_", min_size=12, max_size=12)),
))
@example("AYkbx3mD298GJi")
@example("ZZkbx3mD298GJi")
def test_parse_accepts_exactly_the_valid_token_strings(text: str) -> None:
    """The oracle is an independent regular expression plus the region table."""
    should_parse = VALID.fullmatch(text) is not None and text[:2] in KNOWN_REGIONS
    try:
        token = PairingToken.parse(text)
    except RemoteProtocolError:
        assert not should_parse
    else:
        assert should_parse
        assert str(token) == text


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, value in edits:
        i = where % (len(buf) + 1)
        if kind == 0 and i < len(buf):
            buf[i] = value
        elif kind == 1:
            buf.insert(i, value)
        elif kind == 2 and i < len(buf):
            del buf[i]
        else:
            del buf[i:]
    return bytes(buf)


mutated_tokens = st.builds(
    _mutate, pairing_tokens.map(lambda t: str(t).encode("ascii")),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(0, 255)), min_size=1, max_size=4))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.text(max_size=40), mutated_tokens))
def test_parse_never_raises_anything_but_a_protocol_error(data: str | bytes) -> None:
    try:
        PairingToken.parse(data)
    except ProtocolError as exc:
        assert isinstance(exc, RemoteProtocolError)
        assert exc.section == "§1.3"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_firmware_splits_never_fail_and_never_invent_characters(text: str) -> None:
    region, token, secret = split_token_fixed(text)
    assert region + token + secret == text[:14]
    region, token, secret = split_token_by_length(text)
    assert region == text[:2] and secret == text[-4:]
    if len(text) >= 6:
        assert region + token + secret == text
        assert len(token) == len(text) - 6
    else:
        assert token == ""
