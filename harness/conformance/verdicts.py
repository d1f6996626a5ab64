"""The verdicts of DESIGN.md ("Verdicts"), and the taxonomy that turns what a test raised into one.

Which verdict a failure gets is decided by the exception's type, never by where it was raised:

=================  ==================================================================================================
FAIL               the device or cloud under test broke a requirement: :class:`DeviceFailure` (:func:`fail_device`),
                   any other ``AssertionError`` (a suite's ``assert``), a
                   :class:`~harness.protocol.errors.RemoteProtocolError` (its bytes break the protocol), an
                   :class:`~harness.app.activator.ActivatorError` with no harness fault, ``pytest.fail()``,
                   :class:`~harness.adapters.contracts.DeviceDidNotAct` (the device did not act within its stated
                   time: a QR scan that never ends, no pairing mode after a reset)
ERROR              the harness, an adapter or the lab broke: :class:`~harness.errors.HarnessError` (the harness's
                   invariants raise it, never a bare ``assert``), :class:`~harness.adapters.contracts.AdapterError`,
                   a :class:`~harness.protocol.errors.LocalProtocolError` (a codec misused or its invariant broken),
                   a :class:`~harness.model.errors.ModelError` (the model's rules disagree), an ActivatorError with
                   ``harness_fault``, a pytest-timeout timeout (a hanging test errs, not the run), anything raised
                   in setup or teardown, and any exception not named here
INCONCLUSIVE       undecidable: :class:`Inconclusive`; :class:`Refused` (the lab or the profile refused what the
                   test needs, e.g. a real-time wait) and :class:`Blocked` (what the test needed first did not
                   happen, so its own requirement could not be checked) are its kinds
N/A                not applicable: :class:`NotApplicable`, :class:`~harness.adapters.contracts.CapabilityMissing`,
                   ``pytest.skip()``
=================  ==================================================================================================

An exception group (Hypothesis reports several distinct failures as one, and its
``hypothesis.errors.FlakyFailure`` holds the failures that did not reproduce) is classified by its contents: each
exception in it gets its verdict, and the worst decides (FAIL over ERROR over INCONCLUSIVE over N/A), so that a
group of a device failure and a harness crash is FAIL and a group of harness errors only is ERROR. Any other
``hypothesis.errors.Flaky`` (a strategy that does not replay) is the harness's: ERROR.

Exit status of a run (:func:`exit_status`): 0 when every verdict is PASS, N/A or INCONCLUSIVE, 1 with any FAIL,
3 with any ERROR and no FAIL. This module knows nothing of pytest; the plugin feeds it exception objects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from harness.errors import HarnessError

TIMEOUT_MARK = "from pytest-timeout"


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NA = "N/A"
    INCONCLUSIVE = "INCONCLUSIVE"


#: Which verdict wins when a test has several (setup, call, teardown; parametrized cases of one TC; the exceptions
#: of a group).
SEVERITY_ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.NA, Verdict.PASS)


class DeviceFailure(AssertionError):
    """The device or cloud under test broke a requirement (FAIL); ``section`` names the clause if known."""

    def __init__(self, message: str, *, section: str | None = None) -> None:
        self.section = section
        super().__init__(f"{message} ({section})" if section else message)


class Inconclusive(Exception):
    """The test could not decide (INCONCLUSIVE): say why."""


class Refused(Inconclusive):
    """The lab or the profile refused what the test needs (INCONCLUSIVE), e.g. a real-time wait it does not allow."""


class Blocked(Inconclusive):
    """What the test needed first did not happen (e.g. the device never came online), so the requirement under
    test could not be checked (INCONCLUSIVE); the failure of that step is another test's verdict."""


class NotApplicable(Exception):
    """The test does not apply to this device or lab (N/A): say why."""


def fail_device(message: str, *, section: str | None = None) -> DeviceFailure:
    """Raise a FAIL that blames the device or cloud under test: ``fail_device("token reused", section="§0")``."""
    raise DeviceFailure(message, section=section)


def inconclusive(reason: str) -> Inconclusive:
    """Raise INCONCLUSIVE with ``reason``."""
    raise Inconclusive(reason)


def not_applicable(reason: str) -> NotApplicable:
    """Raise N/A with ``reason``."""
    raise NotApplicable(reason)


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict that decides: FAIL over ERROR over INCONCLUSIVE over N/A over PASS (PASS when empty)."""
    present = set(verdicts)
    return next((v for v in SEVERITY_ORDER if v in present), Verdict.PASS)


def exit_status(verdicts: Iterable[Verdict]) -> int:
    """DESIGN.md's exit code: 1 any FAIL, 3 any ERROR and no FAIL, else 0."""
    present = set(verdicts)
    if Verdict.FAIL in present:
        return 1
    if Verdict.ERROR in present:
        return 3
    return 0


def classify(exc: BaseException, *, phase: str) -> tuple[Verdict, str]:
    """The verdict and a one-line message for ``exc`` raised in ``phase`` (setup, call or teardown)."""
    if isinstance(exc, BaseExceptionGroup):
        return _classify_group(exc, phase=phase)
    verdict = _by_type(exc)
    if verdict in (Verdict.NA, Verdict.INCONCLUSIVE):
        return verdict, _reason(exc)
    message = _one_line(exc)
    if TIMEOUT_MARK in str(exc) and _pytest_outcome(exc) == "Failed":
        return Verdict.ERROR, f"the test hung: {message}"
    if phase != "call":
        return Verdict.ERROR, f"{phase} failed: {message}"
    return verdict, message


def _by_type(exc: BaseException) -> Verdict:
    """The taxonomy's table (see the module docstring), for one exception that is not a group."""
    # Imported here: the contracts pull in PIL and the model, which the plugin must not pay for when inert.
    from harness.adapters.contracts import AdapterError, CapabilityMissing, DeviceDidNotAct
    from harness.app.activator import ActivatorError
    from harness.protocol.errors import LocalProtocolError, RemoteProtocolError

    if isinstance(exc, CapabilityMissing | NotApplicable) or _pytest_outcome(exc) == "Skipped":
        return Verdict.NA
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE
    if isinstance(exc, HarnessError | AdapterError | LocalProtocolError):
        return Verdict.ERROR
    if isinstance(exc, DeviceDidNotAct):  # the device, not the lab, let its stated time pass
        return Verdict.FAIL
    if isinstance(exc, ActivatorError):
        return Verdict.ERROR if exc.harness_fault is not None else Verdict.FAIL
    if isinstance(exc, AssertionError | RemoteProtocolError) or _pytest_outcome(exc) == "Failed":
        return Verdict.FAIL  # DeviceFailure is an AssertionError; pytest.fail() is pytest's Failed
    return Verdict.ERROR


def _classify_group(group: BaseExceptionGroup[BaseException], *, phase: str) -> tuple[Verdict, str]:
    """A group's verdict is its worst member's; the message is that member's, with a count of the others."""
    judged = [classify(member, phase=phase) for member in group.exceptions]
    if not judged:
        return Verdict.ERROR, _one_line(group)
    verdict = worst(v for v, _ in judged)
    decider = next(i for i, (v, _) in enumerate(judged) if v is verdict)
    message = judged[decider][1]
    if _is_flaky(group):
        message = f"flaky (failed, then passed when replayed): {message}"
    others = [v.value for i, (v, _) in enumerate(judged) if i != decider]
    if others:
        message += f" (and {len(others)} more: {', '.join(others)})"
    return verdict, message


def _is_flaky(exc: BaseException) -> bool:
    """Whether ``exc`` is one of Hypothesis' Flaky errors (told apart by name: Hypothesis is not imported here)."""
    return any(cls.__name__ == "Flaky" and cls.__module__.startswith("hypothesis") for cls in type(exc).__mro__)


def _pytest_outcome(exc: BaseException) -> str | None:
    """``Skipped``, ``Failed``, ... when ``exc`` is one of pytest's outcome exceptions (told apart by name:
    this module does not import pytest)."""
    if any(cls.__name__ == "OutcomeException" for cls in type(exc).__mro__):
        return type(exc).__name__
    return None


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "msg", None) or exc).strip()
    return text or type(exc).__name__


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


__all__ = [
    "SEVERITY_ORDER",
    "Blocked",
    "DeviceFailure",
    "HarnessError",
    "Inconclusive",
    "NotApplicable",
    "Refused",
    "Verdict",
    "classify",
    "exit_status",
    "fail_device",
    "inconclusive",
    "not_applicable",
    "worst",
]
