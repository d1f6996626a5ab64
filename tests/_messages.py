"""The rule of diagnosis in the verdict: a FAIL message names what the device or cloud did against what the
requirement says, never a bare "assert False" or a bare "1512 TIMEOUT" (tests/test_selfcheck.py applies it to
every FAIL of the fault zoo, tests/test_selfcheck_messages.py tests the rule itself)."""

from __future__ import annotations

import re

PREFIX = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Failure|Failed|Act)(?::\s*|$)")
BARE_ASSERT = re.compile(r"^assert (?:not )?(?:True|False|None|[\w.]+(?:\(.*\))?)$")
# What a diagnosis of a failed pairing says (harness.conformance.diagnosis), besides the app's code.
DIAGNOSIS = ("decoded", "never took", "refused", "could not join", "ignored", "found no QR", "never ended",
             "activated with token", "MQTT login", "never asked", "did not take")


def deviation_problem(message: str) -> str | None:
    """Why a FAIL message does not name the observed deviation, or None when it does."""
    body = PREFIX.sub("", message.strip(), count=1).strip()
    if not body:
        return "it says nothing but the exception's type"
    if BARE_ASSERT.match(body):
        return f"it is a bare assertion ({body!r}): what was observed against what is required is not said"
    if re.search(r"\b1512\b", body) and not any(phrase in body for phrase in DIAGNOSIS):
        return "it gives the app's 1512 timeout without what the device did with what it was given"
    return None
