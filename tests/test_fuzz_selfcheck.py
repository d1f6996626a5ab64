"""The fuzzer against the fault zoo: every fault that concerns parsing, tokens or binding is found by a bounded
campaign of the fuzz target that covers it, and a table (printed at the end of the run) shows which target found
what, in how many examples.

Each campaign is counted, never timed: the ``ci`` budget's examples (derandomized, so the same cases on every run
and on any machine) on a fresh world with the one fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _zoo import Fault, catalogue

from harness.fuzzing.campaign import Budget, CampaignResult, WorldSpec, run_target
from harness.fuzzing.targets import TARGETS

# The faults of parsing, tokens and binding: the catalogue (suites/faults/*.toml) names, for each, the fuzz target
# whose generated inputs reach it. The rest of the zoo (MQTT, DPs, prompts, reconnection, AP lifetime, the
# activator's own delegate) is the conformance suites' job.
FOUND_BY = [fault for fault in catalogue() if fault.fuzz is not None]
BUDGET = Budget.named("ci")
WORLD_SEED = 1
ROW_KEY = "fuzz_selfcheck_row"  # a user property: tests/conftest.py prints the rows as one table


def test_the_fuzzed_faults_name_real_targets() -> None:
    assert len(FOUND_BY) >= 17
    assert BUDGET.counted and BUDGET.examples is not None
    for fault in FOUND_BY:
        assert fault.fuzz in TARGETS, f"{fault.name}: unknown fuzz target {fault.fuzz!r}"
        assert fault.kind in ("camera", "cloud"), f"{fault.name}: the fuzzer runs the emulated camera and cloud"


def row(entry: Fault, result: CampaignResult) -> str:
    found = "found" if result.verdict in entry.fuzz_expect else "MISSED"
    return (f"{entry.name:<26} {entry.kind:<7} {entry.profile:<14} {entry.fuzz or '':<9} {result.verdict:<8} "
            f"{result.examples:>8} {result.seconds:>8.1f}  {found}: {result.message[:70]}")


@pytest.mark.parametrize("entry", FOUND_BY, ids=[f.name for f in FOUND_BY])
def test_the_fuzzer_finds_the_fault(entry: Fault, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    assert entry.fuzz is not None
    spec = WorldSpec(entry.profile, device_faults=(entry.name,) if entry.kind == "camera" else (),
                     cloud_faults=(entry.name,) if entry.kind == "cloud" else (), seed=WORLD_SEED)
    result = run_target(spec, entry.fuzz, BUDGET, report_dir=tmp_path / entry.name)
    record_property(ROW_KEY, row(entry, result))
    assert result.verdict in entry.fuzz_expect, (
        f"the {entry.fuzz} campaign ({BUDGET.examples} examples) missed {entry.name}: {result.verdict} "
        f"{result.message}")
    assert result.failure_file is not None and result.failure_file.exists()
