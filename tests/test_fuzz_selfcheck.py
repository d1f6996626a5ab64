"""The fuzzer against the fault zoo: every fault that concerns parsing, tokens or binding is found by a bounded
campaign of the fuzz target that covers it, and a table shows which target found what, how fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from _zoo import Fault, catalogue

from harness.fuzzing.campaign import CampaignResult, WorldSpec, run_target
from harness.fuzzing.targets import TARGETS

# The faults of parsing, tokens and binding: the catalogue (suites/faults/*.toml) names, for each, the fuzz target
# whose generated inputs reach it. The rest of the zoo (MQTT, DPs, prompts, reconnection, AP lifetime, the
# activator's own delegate) is the conformance suites' job.
FOUND_BY = [fault for fault in catalogue() if fault.fuzz is not None]
BUDGET_S = 12.0
SEED = 1


def test_the_fuzzed_faults_name_real_targets() -> None:
    assert len(FOUND_BY) >= 17
    for fault in FOUND_BY:
        assert fault.fuzz in TARGETS, f"{fault.name}: unknown fuzz target {fault.fuzz!r}"
        assert fault.kind in ("camera", "cloud"), f"{fault.name}: the fuzzer runs the emulated camera and cloud"


def _table(rows: list[tuple[Fault, CampaignResult]]) -> str:
    lines = [f"{'fault':<26} {'kind':<7} {'profile':<14} {'target':<9} {'verdict':<8} {'examples':>8} {'seconds':>8}",
             "-" * 86]
    for entry, r in rows:
        found = "found" if r.verdict in entry.fuzz_expect else "MISSED"
        lines.append(f"{entry.name:<26} {entry.kind:<7} {entry.profile:<14} {entry.fuzz or '':<9} {r.verdict:<8} "
                     f"{r.examples:>8} {r.seconds:>8.1f}  {found}: {r.message[:70]}")
    return "\n".join(lines)


@pytest.mark.timeout(600)
def test_the_fuzzer_finds_every_parsing_token_and_binding_fault(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[tuple[Fault, CampaignResult]] = []
    for entry in FOUND_BY:
        assert entry.fuzz is not None
        spec = WorldSpec(entry.profile, device_faults=(entry.name,) if entry.kind == "camera" else (),
                         cloud_faults=(entry.name,) if entry.kind == "cloud" else (), seed=SEED)
        result = run_target(spec, entry.fuzz, BUDGET_S, report_dir=tmp_path / entry.name, seed=SEED)
        rows.append((entry, result))
    table = _table(rows)
    with capsys.disabled():
        print("\n" + table)
    missed = [e.name for e, r in rows if r.verdict not in e.fuzz_expect]
    assert not missed, f"the fuzzer missed {missed}\n{table}"
    assert all(r.failure_file is not None and r.failure_file.exists() for _, r in rows)
