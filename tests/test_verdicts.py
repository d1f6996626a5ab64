"""The verdict taxonomy (harness.conformance.verdicts): the exception's type decides, never where it was raised;
exception groups and Hypothesis' Flaky by their contents."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure, FlakyStrategyDefinition

from harness.adapters.contracts import AdapterError, CapabilityMissing
from harness.app.activator import ActivatorError
from harness.conformance.verdicts import (
    Blocked,
    DeviceFailure,
    HarnessError,
    Inconclusive,
    NotApplicable,
    Refused,
    Verdict,
    classify,
)
from harness.errors import HarnessError as KernelHarnessError
from harness.model import ActivatorErrorCode
from harness.model.errors import ModelError
from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError


def _pytest_outcome(call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except BaseException as exc:  # pytest's outcomes are BaseExceptions
        return exc
    raise AssertionError("the call raised nothing")


FAILS = {
    "a suite's assert": AssertionError("expected 3718, got 0"),
    "DeviceFailure": DeviceFailure("token reused", section="§1.3"),
    "RemoteProtocolError": RemoteProtocolError("bad CRC", section="§2.3"),
    "ActivatorError without a harness fault": ActivatorError(ActivatorErrorCode.TIMEOUT, "no device"),
    "pytest.fail()": _pytest_outcome(lambda: pytest.fail("the device misbehaved")),
}
ERRORS = {
    "HarnessError": HarnessError("an invariant of the harness failed"),
    "AdapterError": AdapterError("the lab's smart plug did not answer"),
    "LocalProtocolError": LocalProtocolError("asked to encode a 33-byte SSID"),
    "a ProtocolError that blames no one": ProtocolError("neither local nor remote"),
    "ActivatorError with a harness fault": ActivatorError(ActivatorErrorCode.TIMEOUT, "x",
                                                          harness_fault=AdapterError("lab broke")),
    "ModelError": ModelError("the outcome table contradicts itself"),
    "an unexpected exception": KeyError("oops"),
    "a pytest-timeout timeout": _pytest_outcome(lambda: pytest.fail("Timeout (>5.0s) from pytest-timeout.")),
    "Hypothesis' Flaky of a strategy": FlakyStrategyDefinition("inconsistent data generation"),
}
INCONCLUSIVES = {
    "Inconclusive": Inconclusive("undecidable"),
    "Refused": Refused("real-time waits are not allowed"),
    "Blocked": Blocked("the device never came online"),
}
NAS = {
    "NotApplicable": NotApplicable("not claimed"),
    "CapabilityMissing": CapabilityMissing("remote", "time-travel"),
    "pytest.skip()": _pytest_outcome(lambda: pytest.skip("not here")),
}


@pytest.mark.parametrize(("expected", "exc"), [
    *((Verdict.FAIL, e) for e in FAILS.values()),
    *((Verdict.ERROR, e) for e in ERRORS.values()),
    *((Verdict.INCONCLUSIVE, e) for e in INCONCLUSIVES.values()),
    *((Verdict.NA, e) for e in NAS.values()),
], ids=[*FAILS, *ERRORS, *INCONCLUSIVES, *NAS])
def test_the_type_decides_the_verdict(expected: Verdict, exc: BaseException) -> None:
    assert classify(exc, phase="call")[0] is expected


def test_the_harness_error_is_the_kernels() -> None:
    assert HarnessError is KernelHarnessError


@pytest.mark.parametrize("phase", ["setup", "teardown"])
@pytest.mark.parametrize("exc", [*FAILS.values(), *ERRORS.values()], ids=[*FAILS, *ERRORS])
def test_what_breaks_in_setup_or_teardown_is_an_error(phase: str, exc: BaseException) -> None:
    verdict, message = classify(exc, phase=phase)
    assert verdict is Verdict.ERROR
    assert message.startswith(("the test hung", f"{phase} failed"))


@pytest.mark.parametrize("phase", ["setup", "teardown"])
@pytest.mark.parametrize("exc", [*INCONCLUSIVES.values(), *NAS.values()], ids=[*INCONCLUSIVES, *NAS])
def test_na_and_inconclusive_hold_in_any_phase(phase: str, exc: BaseException) -> None:
    assert classify(exc, phase=phase)[0] is classify(exc, phase="call")[0]


def test_messages_say_what_was_observed_and_why() -> None:
    assert classify(DeviceFailure("token reused", section="§1.3"), phase="call") == \
        (Verdict.FAIL, "DeviceFailure: token reused (§1.3)")
    assert classify(Refused("real-time waits are not allowed"), phase="call") == \
        (Verdict.INCONCLUSIVE, "real-time waits are not allowed")
    assert classify(FAILS["pytest.fail()"], phase="call")[1] == "Failed: the device misbehaved"
    assert classify(ERRORS["a pytest-timeout timeout"], phase="call")[1].startswith("the test hung: ")


def test_an_assert_raised_inside_harness_code_is_still_fail() -> None:
    """The frame's file plays no part: an AssertionError from a module under harness/ is FAIL like any other."""
    import harness.conformance.lab

    source = harness.conformance.lab.__file__
    namespace: dict[str, object] = {}
    exec(compile("def check():\n    assert False, 'the cloud accepted a consumed token'\n", source, "exec"), namespace)
    with pytest.raises(AssertionError) as caught:
        namespace["check"]()  # type: ignore[operator]
    assert str(caught.traceback[-1].path) == source
    assert classify(caught.value, phase="call")[0] is Verdict.FAIL


# -- groups and Flaky ------------------------------------------------------------------------------------------


def test_a_group_of_a_device_failure_and_a_crash_is_fail() -> None:
    group = ExceptionGroup("Hypothesis found 2 distinct failures.",
                           [RuntimeError("the harness crashed"), DeviceFailure("bound to a stranger")])
    verdict, message = classify(group, phase="call")
    assert verdict is Verdict.FAIL
    assert message == "DeviceFailure: bound to a stranger (and 1 more: ERROR)"


def test_a_group_of_harness_errors_only_is_error() -> None:
    group = ExceptionGroup("two", [HarnessError("invariant"), AdapterError("lab"), ValueError("bug")])
    assert classify(group, phase="call") == (Verdict.ERROR, "HarnessError: invariant (and 2 more: ERROR, ERROR)")


def test_groups_nest_and_keep_na_and_inconclusive_below_error() -> None:
    inner = ExceptionGroup("inner", [NotApplicable("n/a"), Blocked("blocked")])
    assert classify(inner, phase="call")[0] is Verdict.INCONCLUSIVE
    assert classify(ExceptionGroup("outer", [inner, AdapterError("lab")]), phase="call")[0] is Verdict.ERROR
    assert classify(ExceptionGroup("outer", [inner, ExceptionGroup("deep", [AssertionError("x")])]),
                    phase="call")[0] is Verdict.FAIL


def test_a_group_in_setup_is_an_error() -> None:
    assert classify(ExceptionGroup("g", [DeviceFailure("x")]), phase="setup")[0] is Verdict.ERROR


def test_hypothesis_multiple_distinct_failures_are_judged_by_their_contents() -> None:
    """A real Hypothesis run that finds a device failure and a harness crash: one group, FAIL."""
    @settings(database=None, derandomize=True, max_examples=200, report_multiple_bugs=True,
              phases=[Phase.generate, Phase.shrink])
    @given(st.integers(-1000, 1000))
    def checks(n: int) -> None:
        if n > 10:
            raise DeviceFailure(f"the device took an SSID of {n} bytes")
        if n < -10:
            raise RuntimeError("the harness crashed")

    with pytest.raises(BaseExceptionGroup) as caught:
        checks()
    kinds = {type(e) for e in caught.value.exceptions}
    assert kinds == {DeviceFailure, RuntimeError}
    assert classify(caught.value, phase="call")[0] is Verdict.FAIL


@pytest.mark.parametrize(("raised", "expected"), [(DeviceFailure("refused once"), Verdict.FAIL),
                                                   (AdapterError("the lab hiccuped"), Verdict.ERROR)])
def test_hypothesis_flaky_failure_is_judged_by_what_failed(raised: Exception, expected: Verdict) -> None:
    """FlakyFailure (failed once, passed on replay) holds the failures: a device failure in it is FAIL, flagged."""
    seen: list[int] = []

    @settings(database=None, derandomize=True, max_examples=5)
    @given(st.integers())
    def once(n: int) -> None:
        seen.append(n)
        if len(seen) == 1:
            raise raised

    with pytest.raises(FlakyFailure) as caught:
        once()
    assert isinstance(caught.value, Flaky)
    verdict, message = classify(caught.value, phase="call")
    assert verdict is expected
    assert message.startswith("flaky (failed, then passed when replayed): ")


def test_the_harness_states_its_invariants_with_harness_errors_not_asserts() -> None:
    """A bare ``assert`` in harness/ would read as the device's FAIL (and vanish under ``python -O``)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = [f"{path.relative_to(root)}:{node.lineno}" for path in sorted((root / "harness").rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Assert)]
    assert found == [], f"raise HarnessError (LocalProtocolError in the codecs) instead of assert at {found}"
