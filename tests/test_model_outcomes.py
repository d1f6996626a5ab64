"""Activator outcome rules (PROTOCOL.md §7, §0 step 5): what the delegate says, from the cloud's attempts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.model import (
    OUTCOME_RULES,
    REFUSAL_CODES,
    ActivatorErrorCode,
    AttemptSummary,
    CloudError,
    OutcomeKind,
    outcome_for,
)
from harness.model.errors import LICENCE_ERRORS
from harness.protocol.errors import LocalProtocolError

E = ActivatorErrorCode


def activated(at: float = 1.0, dev_id: str = "dev1", home: str = "home-1") -> AttemptSummary:
    return AttemptSummary(at=at, outcome="activated", error_code=None, error_msg=None, dev_id=dev_id, home=home)


def refused(code: str, msg: str = "because", at: float = 1.0) -> AttemptSummary:
    return AttemptSummary(at=at, outcome="refused", error_code=code, error_msg=msg, dev_id=None, home=None)


def test_the_section_7_codes_have_their_numbers() -> None:
    expected = {
        "TIMEOUT": 1512, "DEVICE_NOT_CONNECT_MQTT": 3709, "DEVICE_ACTIVE_REPEATED": 3710,
        "DEVICE_ALREADY_BOUND": 3711, "GUEST_NOT_SUPPORT_STRONG_BIND": 3712, "APP_UNSUPPORT_PRODUCT": 3713,
        "DEVICE_HAS_RESET_FACTORY": 3716, "PRODUCT_NOT_EXISTS": 3717, "TOKEN_EXPIRED": 3718,
        "PERMISSION_DENIED": 3719, "COMMON_DEVICE_ACTIVE": 4000, "WRONG_PASSWORD": 3, "ROUTER_NOT_FOUND": 2,
    }
    assert {name: int(ActivatorErrorCode[name]) for name in expected} == expected


def test_success_needs_activation_in_the_tokens_home_and_mqtt() -> None:
    out = outcome_for([activated()], device_online=True, bound_home_matches=True, timed_out=False)
    assert (out.kind, out.error, out.dev_id, out.rule) == (OutcomeKind.SUCCESS, None, "dev1", "paired")
    assert out.success and not out.pending


def test_activated_but_not_online_waits_then_fails_3709() -> None:
    waiting = outcome_for([activated()], device_online=False, bound_home_matches=True, timed_out=False)
    assert waiting.pending and waiting.dev_id == "dev1"
    late = outcome_for([activated()], device_online=False, bound_home_matches=True, timed_out=True)
    assert (late.kind, late.error) == (OutcomeKind.FAILURE, E.DEVICE_NOT_CONNECT_MQTT)


def test_activated_then_bound_elsewhere_reads_as_already_bound() -> None:
    out = outcome_for([activated()], device_online=True, bound_home_matches=False, timed_out=True)
    assert (out.error, out.rule) == (E.DEVICE_ALREADY_BOUND, "activated-then-bound-elsewhere")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (CloudError.DEVICE_ALREADY_BIND, E.DEVICE_ALREADY_BOUND),
        (CloudError.GUEST_NOT_SUPPORT_STRONG_BIND, E.GUEST_NOT_SUPPORT_STRONG_BIND),
        (CloudError.EXPIRE, E.TOKEN_EXPIRED),
        (CloudError.LICENSE_NOT_EXISTS, E.COMMON_DEVICE_ACTIVE),
        (CloudError.LICENSE_REVOKED, E.COMMON_DEVICE_ACTIVE),
        (CloudError.LICENSE_IN_USE, E.COMMON_DEVICE_ACTIVE),
        (CloudError.SIGN_INVALID, E.COMMON_DEVICE_ACTIVE),
        (CloudError.DECRYPT_FAILED, E.COMMON_DEVICE_ACTIVE),
    ],
)
def test_terminal_refusals_fail_at_once(code: CloudError, expected: ActivatorErrorCode) -> None:
    out = outcome_for([refused(code)], device_online=False, bound_home_matches=False, timed_out=False)
    assert (out.kind, out.error, out.rule) == (OutcomeKind.FAILURE, expected, "refused-terminal")
    assert "because" in out.message and out.cloud_error == code and out.error_code is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (CloudError.APP_PRODUCT_UNSUPPORT, E.APP_UNSUPPORT_PRODUCT),
        (CloudError.FIRMWARE_NOT_MATCH, E.COMMON_DEVICE_ACTIVE),
        (CloudError.NOT_EXISTS, E.PRODUCT_NOT_EXISTS),
        ("SOMETHING_NEW", E.COMMON_DEVICE_ACTIVE),
    ],
)
def test_retryable_refusals_are_reported_at_the_deadline(code: str, expected: ActivatorErrorCode) -> None:
    early = outcome_for([refused(code)], device_online=False, bound_home_matches=False, timed_out=False)
    assert early.pending
    late = outcome_for([refused(code)], device_online=False, bound_home_matches=False, timed_out=True)
    assert (late.kind, late.error, late.rule) == (OutcomeKind.FAILURE, expected, "refused-at-deadline")


def test_licence_errors_are_4000_with_the_clouds_message() -> None:
    for code in LICENCE_ERRORS:
        out = outcome_for([refused(code, "licence uuid1 is revoked")], device_online=False,
                          bound_home_matches=False, timed_out=True)
        assert (out.error, out.message) == (E.COMMON_DEVICE_ACTIVE, "licence uuid1 is revoked")
    assert REFUSAL_CODES.keys() >= LICENCE_ERRORS


def test_no_attempt_at_all_is_a_timeout_at_the_deadline_only() -> None:
    assert outcome_for([], device_online=False, bound_home_matches=False, timed_out=False).pending
    out = outcome_for([], device_online=True, bound_home_matches=False, timed_out=True)
    assert (out.error, out.rule) == (E.TIMEOUT, "no-activation-at-deadline")


def test_an_activation_outweighs_a_later_refusal_of_the_consumed_token() -> None:
    attempts = [refused(CloudError.EXPIRE, "token already used", at=5.0), activated(at=2.0)]
    assert outcome_for(attempts, device_online=True, bound_home_matches=True, timed_out=True).success


def test_ties_in_time_keep_the_recording_order() -> None:
    attempts = [refused(CloudError.FIRMWARE_NOT_MATCH, at=1.0), refused(CloudError.EXPIRE, at=1.0)]
    state = {"device_online": False, "bound_home_matches": False, "timed_out": False}
    assert outcome_for(attempts, **state).error is E.TOKEN_EXPIRED
    assert outcome_for(attempts[::-1], **state).pending


def test_the_latest_refusal_decides() -> None:
    attempts = [refused(CloudError.FIRMWARE_NOT_MATCH, at=1.0), refused(CloudError.APP_PRODUCT_UNSUPPORT, at=2.0)]
    out = outcome_for(list(reversed(attempts)), device_online=False, bound_home_matches=False, timed_out=True)
    assert out.error is E.APP_UNSUPPORT_PRODUCT


def test_attempt_records_are_consistent() -> None:
    with pytest.raises(LocalProtocolError):
        AttemptSummary(at=0, outcome="activated", error_code="EXPIRE", error_msg=None, dev_id=None, home=None)
    with pytest.raises(LocalProtocolError):
        AttemptSummary(at=0, outcome="refused", error_code=None, error_msg=None, dev_id=None, home=None)
    with pytest.raises(LocalProtocolError):
        AttemptSummary(at=0, outcome="maybe", error_code=None, error_msg=None, dev_id=None, home=None)  # type: ignore[arg-type]


attempts = st.lists(
    st.one_of(
        st.builds(activated, at=st.floats(0, 100)),
        st.builds(refused, code=st.sampled_from([*CloudError, "ODD"]), at=st.floats(0, 100)),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(attempts=attempts, online=st.booleans(), home=st.booleans(), timed_out=st.booleans())
def test_outcome_is_total_and_never_pending_after_the_deadline(attempts: list[AttemptSummary], online: bool,
                                                               home: bool, timed_out: bool) -> None:
    out = outcome_for(attempts, device_online=online, bound_home_matches=home, timed_out=timed_out)
    assert out.rule in {r.name for r in OUTCOME_RULES}
    if timed_out:
        assert not out.pending
    assert out.success == (any(a.outcome == "activated" for a in attempts) and online and home)
    assert (out.kind is OutcomeKind.FAILURE) == (out.error is not None)
    if len({a.at for a in attempts}) == len(attempts):  # ties keep the cloud's recording order
        assert outcome_for(list(reversed(attempts)), device_online=online, bound_home_matches=home,
                           timed_out=timed_out) == out
