"""Diagnosis in the verdict: every FAIL of the fault zoo's self-check names what the device or cloud did against
what the requirement says, never a bare "assert False" or a bare "1512 TIMEOUT".

The messages are the self-check's own (tests/test_selfcheck.py): its runs' ``results.jsonl`` are read from the
session's temporary directory when it ran first in the same session (as in ``make test``); a fault whose run is
not there is run here the same way (:func:`test_selfcheck.run_suites`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _zoo import Fault, catalogue

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


def recorded(base: Path, fault: Fault) -> Path | None:
    """The self-check's results of ``fault`` in this session, if it ran."""
    found = sorted(base.glob(f"zoo*/{fault.kind}-{fault.name}/results.jsonl"))
    return found[-1] if found else None


class ZooMessages:
    """Each catalogue fault's verdict records: the self-check's of this session, else run here once."""

    def __init__(self, base: Path, own: Path) -> None:
        self.base = base
        self.own = own

    def records(self, fault: Fault) -> list[dict[str, object]]:
        from test_selfcheck import run_suites

        path = recorded(self.base, fault)
        if path is not None:
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return run_suites(fault.profile, fault.modules, self.own / f"{fault.kind}-{fault.name}",
                          camera=[fault.name] if fault.kind == "camera" else [],
                          cloud=[fault.name] if fault.kind == "cloud" else [],
                          activator=[fault.name] if fault.kind == "activator" else [])


@pytest.fixture(scope="module")
def zoo_messages(tmp_path_factory: pytest.TempPathFactory) -> ZooMessages:
    return ZooMessages(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("messages"))


@pytest.mark.parametrize("fault", catalogue(), ids=[f.name for f in catalogue()])
def test_every_fail_of_the_fault_names_the_observed_deviation(zoo_messages: ZooMessages, fault: Fault) -> None:
    fails = [r for r in zoo_messages.records(fault) if r["verdict"] == "FAIL"]
    assert fails, f"{fault.name}: no FAIL to read (the self-check judges that)"
    bare = [f"{r['tc']}: {problem} -- {str(r['message'])[:200]}" for r in fails
            if (problem := deviation_problem(str(r["message"]))) is not None]
    assert not bare, f"{fault.name}: FAIL messages that do not name what was observed:\n" + "\n".join(bare)
