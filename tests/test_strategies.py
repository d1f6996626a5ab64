"""The public strategies: every valid value is accepted by the codecs, every invalid one refused."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given
from hypothesis import strategies as st

from harness.protocol import apconfig, atop, smartconfig
from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from harness.protocol.qr import QrPayload, parse_qr_text
from harness.protocol.token import PairingToken
from harness.testing import strategies as hs

CI = hs.budget_settings("ci", max_examples=60)


@CI
@given(hs.ssids())
def test_ssids_are_1_to_32_utf8_bytes_every_codec_accepts(ssid: str) -> None:
    assert 1 <= hs.utf8_len(ssid) <= 32
    QrPayload(ssid, "", "AY12345678abcd")
    apconfig.ApConfig(ssid=ssid)
    smartconfig.EzCredentials(ssid=ssid.encode("utf-8"), password=b"", token=b"AY12345678abcd")


def test_ssids_reach_the_boundary_with_a_multibyte_character() -> None:
    seen: list[str] = []

    @hs.budget_settings("ci", max_examples=300)
    @given(hs.ssids())
    def collect(ssid: str) -> None:
        seen.append(ssid)

    collect()
    assert any(hs.utf8_len(s) == 32 and len(s[-1].encode("utf-8")) > 1 for s in seen)
    assert any(any(c in s for c in '"\\/') for s in seen)


@CI
@given(hs.invalid_ssids())
def test_invalid_ssids_are_refused_by_every_codec(ssid: str) -> None:
    with pytest.raises(LocalProtocolError):
        QrPayload(ssid, "", "AY12345678abcd")
    with pytest.raises(LocalProtocolError):
        apconfig.ApConfig(ssid=ssid)
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in ssid):  # EZ carries bytes: length only
        with pytest.raises(ProtocolError):
            smartconfig.EzCredentials(ssid=ssid.encode("utf-8"), password=b"", token=b"x")
    with pytest.raises(RemoteProtocolError):
        parse_qr_text('{"s":' + hs.json_string(ssid) + ',"p":"","t":"AY12345678abcd"}')


@CI
@given(hs.wpa_passwords())
def test_wpa_passwords_are_accepted(password: str) -> None:
    assert hs.is_wpa_password(password)
    QrPayload("net", password, "AY12345678abcd")
    apconfig.ApConfig(ssid="net", password=password)
    smartconfig.EzCredentials(ssid=b"net", password=password.encode(), token=b"t")


@CI
@given(hs.non_wpa_passwords())
def test_non_wpa_passwords_are_carried_but_are_not_wpa(password: str) -> None:
    assert not hs.is_wpa_password(password)
    QrPayload("net", password, "AY12345678abcd")


@CI
@given(hs.invalid_passwords())
def test_invalid_passwords_are_refused(password: str) -> None:
    with pytest.raises(LocalProtocolError):
        QrPayload("net", password, "AY12345678abcd")
    with pytest.raises(LocalProtocolError):
        apconfig.ApConfig(ssid="net", password=password)
    with pytest.raises(ProtocolError):
        smartconfig.EzCredentials(ssid=b"net", password=password.encode(), token=b"t")


@CI
@given(hs.tokens())
def test_tokens_parse(token: str) -> None:
    assert len(token) == 14
    assert str(PairingToken.parse(token)) == token


@CI
@given(hs.pairing_tokens(regions=["EU"]))
def test_pairing_tokens_keep_to_the_regions_asked_for(token: PairingToken) -> None:
    assert token.region == "EU"


def test_unknown_regions_are_a_usage_error() -> None:
    with pytest.raises(ValueError, match="unknown regions"):
        hs.tokens(regions=["XX"])


@CI
@given(hs.malformed_tokens())
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(RemoteProtocolError):
        PairingToken.parse(token)


@CI
@given(hs.licences())
def test_licences_build_valid_activation_requests(licence: object) -> None:
    from harness.adapters.contracts import Licence

    assert isinstance(licence, Licence)
    assert len(licence.auth_key) == 32 and len(licence.pid) == 16 and len(licence.uuid) in (16, 20, 25)
    request = atop.AtopRequest(api="tuya.device.active", version="4.4", et=1, t=1_700_000_000, uuid=licence.uuid,
                               dev_id=None, body=b"{}")
    query, form = atop.build_request(request, licence.auth_key)
    assert atop.parse_request(query, form, licence.auth_key).uuid == licence.uuid


@CI
@given(hs.qr_cases())
def test_qr_texts_parse_to_their_payload(case: hs.QrCase) -> None:
    assert parse_qr_text(case.text) == case.payload
    assert parse_qr_text(case.text.encode("utf-8")) == case.payload


@CI
@given(hs.malformed_qr_texts())
def test_malformed_qr_texts_are_refused_and_fit_a_symbol(data: bytes) -> None:
    assert len(data) <= 2331
    with pytest.raises(RemoteProtocolError):
        parse_qr_text(data)


@pytest.mark.parametrize(("value", "expected"), [
    ("a/b", '"a\\/b"'), ('q"', '"q\\""'), ("\x00", '"\\u0000"'), ("😀", '"\\ud83d\\uDE00"'),
])
def test_json_string_escape_styles(value: str, expected: str) -> None:
    assert hs.json_string(value, slash=True, ascii_only=True) == expected


def test_budgets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hs.BUDGET_ENV, raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    assert hs.budget_name() == "ci"
    monkeypatch.setenv(hs.BUDGET_ENV, "nightly")
    assert hs.budget_name() == "nightly"
    assert hs.budget_settings().max_examples > hs.budget_settings("ci").max_examples
    assert hs.budget_settings("ci").derandomize
    assert Phase.shrink not in hs.budget_settings("ci").phases  # counted work only: a failure is reported as found
    with pytest.raises(ValueError, match="unknown fuzz budget"):
        hs.budget_name("huge")


@given(st.data())
@CI
def test_scaled_keeps_at_least_one_example(data: st.DataObject) -> None:
    assert hs.scaled(hs.budget_settings("ci"), 0.01).max_examples == 1
