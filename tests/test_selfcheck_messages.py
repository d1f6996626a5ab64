"""Diagnosis in the verdict: the rule that tells a FAIL message naming the observed deviation from a bare one
(tests/_messages.py). tests/test_selfcheck.py applies it to every FAIL of each catalogue fault's run, on the
runs the self-check makes anyway.
"""

from __future__ import annotations

import pytest
from _messages import deviation_problem


@pytest.mark.parametrize(("message", "problem"), [
    ("AssertionError: assert False", "bare"),
    ("AssertionError: assert not True", "bare"),
    ("AssertionError: assert holds(cloud, home, device)", "bare"),
    ("AssertionError", "nothing"),
    ("AssertionError: emoji: 1512 TIMEOUT: the device never tried to activate", "1512"),
    ("AssertionError: 1512 TIMEOUT: the device never tried to activate; the device decoded SSID 'a', the QR code "
     "held 'b'", None),
    ("DeviceDidNotAct: the device did not reach pairing mode within 5 s (it is online)", None),
    ("AssertionError: a consumed token was answered None, not 3718", None),
])
def test_the_rule_tells_a_named_deviation_from_a_bare_one(message: str, problem: str | None) -> None:
    why = deviation_problem(message)
    assert (why is None) is (problem is None), why
    if problem is not None:
        assert why is not None and problem in why
