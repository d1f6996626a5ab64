"""The verdicts of DESIGN.md ("Verdicts") and the rules that turn what a test raised into one.

- PASS: the test passed.
- FAIL: the device or cloud under test broke a requirement: an ``AssertionError`` raised by the test (not by
  harness code), a :class:`~harness.protocol.errors.RemoteProtocolError`, an :class:`ActivatorError` that is
  not the harness's fault, ``pytest.fail()`` in the test, or :func:`fail_device`.
- ERROR: the harness, an adapter or the lab broke: :class:`~harness.adapters.contracts.AdapterError`, an
  ActivatorError with ``harness_fault``, a pytest-timeout timeout (a hanging device errs its test, not the
  run), an assertion inside ``harness/``, any other exception, and anything that goes wrong in setup or
  teardown. Never reported as the device's fault.
- N/A: the profile does not claim a capability the test needs (``requires``), an adapter raised
  :class:`~harness.adapters.contracts.CapabilityMissing`, or :class:`NotApplicable` / ``pytest.skip``.
- INCONCLUSIVE: :class:`Inconclusive` (e.g. a real-time wait the profile does not allow).

Exit status of a run (:func:`exit_status`): 0 when every verdict is PASS, N/A or INCONCLUSIVE, 1 with any FAIL,
3 with any ERROR and no FAIL. This module knows nothing of pytest; the plugin feeds it exception objects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent.parent
BUNDLED_DIR = HARNESS_DIR / "bundled"  # the suites a wheel ships live here: their assertions are the device's FAIL
TIMEOUT_MARK = "from pytest-timeout"


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NA = "N/A"
    INCONCLUSIVE = "INCONCLUSIVE"


#: Which verdict wins when a test has several (setup, call, teardown; parametrized cases of one TC).
SEVERITY_ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.NA, Verdict.PASS)


class DeviceFailure(AssertionError):
    """The device or cloud under test broke a requirement (FAIL); ``section`` names the clause if known."""

    def __init__(self, message: str, *, section: str | None = None) -> None:
        self.section = section
        super().__init__(f"{message} ({section})" if section else message)


class Inconclusive(Exception):
    """The test could not decide (INCONCLUSIVE): say why."""


class NotApplicable(Exception):
    """The test does not apply to this device or lab (N/A): say why."""


class HarnessError(Exception):
    """The harness itself was misused or broke (ERROR), e.g. a suite waits for real time without ``slow``."""


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


def _in_harness(raised_in: str | None) -> bool:
    if not raised_in:
        return False
    try:
        path = Path(raised_in).resolve()
    except OSError:
        return False
    in_bundled_suites = path.is_relative_to(BUNDLED_DIR)
    return path.is_relative_to(HARNESS_DIR) and not in_bundled_suites and path != Path(__file__).resolve()


def classify(exc: BaseException, *, phase: str, raised_in: str | None = None) -> tuple[Verdict, str]:
    """The verdict and a one-line message for ``exc`` raised in ``phase`` (setup, call or teardown).

    ``raised_in`` is the file of the innermost frame, so that an assertion inside ``harness/`` (the harness's
    own invariant) is told apart from a test's assertion about the device.
    """
    # Imported here: the contracts pull in PIL and the model, which the plugin must not pay for when inert.
    from harness.adapters.contracts import AdapterError, CapabilityMissing
    from harness.app.activator import ActivatorError
    from harness.protocol.errors import RemoteProtocolError

    if isinstance(exc, CapabilityMissing | NotApplicable) or _is_skip(exc):
        return Verdict.NA, _reason(exc)
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE, _reason(exc)
    message = _one_line(exc)
    if TIMEOUT_MARK in str(exc) and _pytest_outcome(exc) == "Failed":
        return Verdict.ERROR, f"the test hung: {message}"
    if phase != "call":
        return Verdict.ERROR, f"{phase} failed: {message}"
    if isinstance(exc, AdapterError | HarnessError):
        return Verdict.ERROR, message
    if isinstance(exc, ActivatorError):
        return (Verdict.ERROR, message) if exc.harness_fault is not None else (Verdict.FAIL, message)
    if isinstance(exc, DeviceFailure | RemoteProtocolError):
        return Verdict.FAIL, message
    if isinstance(exc, AssertionError):
        if _in_harness(raised_in):
            return Verdict.ERROR, f"a harness invariant failed: {message}"
        return Verdict.FAIL, message
    if _pytest_outcome(exc) == "Failed":
        return Verdict.FAIL, message  # pytest.fail() in the test
    return Verdict.ERROR, message


def _pytest_outcome(exc: BaseException) -> str | None:
    """``Skipped``, ``Failed``, ... when ``exc`` is one of pytest's outcome exceptions (told apart by name:
    this module does not import pytest)."""
    if any(cls.__name__ == "OutcomeException" for cls in type(exc).__mro__):
        return type(exc).__name__
    return None


def _is_skip(exc: BaseException) -> bool:
    return _pytest_outcome(exc) == "Skipped"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "msg", None) or exc).strip()
    return text or type(exc).__name__


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


__all__ = [
    "SEVERITY_ORDER",
    "DeviceFailure",
    "HarnessError",
    "Inconclusive",
    "NotApplicable",
    "Verdict",
    "classify",
    "exit_status",
    "fail_device",
    "inconclusive",
    "not_applicable",
    "worst",
]
