"""Blame of grouped and flaky failures (issue "Detection power"): an exception group is judged by its contents
(the worst of its members, FAIL over ERROR), so a crash a fuzzer found next to another failure is the device's
FAIL; Hypothesis' Flaky is judged by the failure it carries, INCONCLUSIVE when it carries none."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

import harness.model.binding
from harness.adapters.contracts import AdapterError
from harness.conformance.verdicts import DeviceFailure, Verdict, classify


def caught(function: object) -> BaseException:
    """What calling ``function`` raised."""
    with pytest.raises(BaseException) as info:
        function()  # type: ignore[operator]
    return info.value


def test_a_device_failure_next_to_lab_trouble_is_the_devices_fail() -> None:
    group = ExceptionGroup("two", [AdapterError("the camera's serial port went away"),
                                   DeviceFailure("the device crashed on a 33-byte SSID")])
    verdict, message = classify(group, phase="call")
    assert verdict is Verdict.FAIL
    assert "the device crashed on a 33-byte SSID" in message and "1 of 2" in message


def test_a_group_of_lab_trouble_is_an_error_and_a_group_in_setup_too() -> None:
    group = ExceptionGroup("two", [AdapterError("no route"), AdapterError("no broker")])
    assert classify(group, phase="call")[0] is Verdict.ERROR
    assert classify(ExceptionGroup("one", [DeviceFailure("crashed")]), phase="setup")[0] is Verdict.ERROR


def test_each_member_is_judged_where_it_was_raised() -> None:
    harness_file = str(Path(harness.model.binding.__file__).resolve())  # an assertion of the harness's own code
    in_harness = caught(lambda: exec(compile("raise AssertionError('a lab invariant')", harness_file, "exec")))
    in_test = caught(lambda: exec(compile("raise AssertionError('the device sent 3 bytes')", __file__, "exec")))
    assert classify(ExceptionGroup("one", [in_harness]), phase="call")[0] is Verdict.ERROR
    verdict, message = classify(ExceptionGroup("two", [in_harness, in_test]), phase="call")
    assert verdict is Verdict.FAIL and "the device sent 3 bytes" in message and "lab invariant" not in message


def test_hypothesis_distinct_failures_of_a_device_are_one_fail() -> None:
    @settings(max_examples=50, derandomize=True, database=None, report_multiple_bugs=True)
    @given(st.integers(0, 20))
    def fuzz(n: int) -> None:
        if n >= 10:
            raise DeviceFailure(f"the device crashed on length {n}")
        if n >= 5:
            raise AssertionError(f"the device answered {n} with a wrong code")

    exc = caught(fuzz)
    assert isinstance(exc, BaseExceptionGroup), type(exc)
    verdict, message = classify(exc, phase="call")
    assert verdict is Verdict.FAIL and "crashed" in message and "wrong code" in message


def test_a_flaky_failure_is_judged_by_the_failure_it_saw() -> None:
    calls = itertools.count()

    @settings(max_examples=5, derandomize=True, database=None)
    @given(st.just(0))
    def once(_: int) -> None:
        if next(calls) == 0:
            raise DeviceFailure("the device refused a legal QR code once")

    exc = caught(once)
    assert isinstance(exc, Flaky), type(exc)
    verdict, message = classify(exc, phase="call")
    assert verdict is Verdict.FAIL and message.startswith("flaky") and "refused a legal QR code" in message


def test_a_flaky_report_without_its_failure_is_inconclusive() -> None:
    verdict, message = classify(Flaky("Hypothesis saw a failure it could not reproduce"), phase="call")
    assert verdict is Verdict.INCONCLUSIVE and "did not reproduce" in message
