"""The fuzzer against the fault zoo: every fault that concerns parsing, tokens or binding is found by a bounded
campaign of the fuzz target that covers it, and a table shows which target found what, how fast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.emulator.cloud.faults import CloudFault
from harness.emulator.faults import CAMERA_FAULTS
from harness.fuzzing.campaign import CampaignResult, WorldSpec, run_target


@dataclass(frozen=True)
class Entry:
    fault: str
    kind: str  # camera | cloud
    target: str
    profile: str = "camera-strong"
    expect: tuple[str, ...] = ("FAIL",)


# Faults of parsing, tokens and binding, and the target whose generated inputs reach them.
FOUND_BY = [
    Entry("qr-mangles-utf8", "camera", "qr"),
    Entry("qr-fixed-key-order", "camera", "qr"),
    Entry("qr-ignores-escapes", "camera", "qr"),
    Entry("ssid-truncate-32", "camera", "ez"),
    Entry("crashes-on-long-ssid", "camera", "qr", expect=("CRASH",)),
    Entry("token-split-wrong", "camera", "ez"),
    Entry("activates-without-token", "camera", "ap"),
    Entry("ap-skips-crc", "camera", "ap"),
    Entry("ignores-remote-unbind", "camera", "stateful"),
    Entry("licence-unchecked", "cloud", "atop"),
    Entry("token-never-expires", "cloud", "stateful"),
    Entry("token-reusable", "cloud", "stateful"),
    Entry("token-not-bound-to-home", "cloud", "stateful"),
    Entry("strong-allows-rebind", "cloud", "stateful"),
    Entry("revoked-licence-accepted", "cloud", "stateful"),
    Entry("medium-no-notify", "cloud", "stateful", profile="plug-medium"),
    Entry("weak-notifies", "cloud", "stateful", profile="bulb-weak"),
]
# The rest of the zoo is about MQTT, DPs, prompts, reconnection and AP lifetime: the conformance suites' job.
NOT_FUZZING = {"no-prompt-sound", "keeps-ap-open-after-success", "forgets-dev-id-on-reset", "mqtt-password-wrong",
               "never-reports-dps", "ignores-dp-commands", "ignores-remote-reset", "reconnect-never",
               "ez-skips-crc", "licence-shared", "broker-no-acl"}
BUDGET_S = 12.0
SEED = 1


def test_the_catalogue_is_complete() -> None:
    known = set(CAMERA_FAULTS) | {f.value for f in CloudFault}
    listed = {e.fault for e in FOUND_BY} | NOT_FUZZING
    assert known - listed == set(), f"faults neither fuzzed nor excused: {sorted(known - listed)}"


def _table(rows: list[tuple[Entry, CampaignResult]]) -> str:
    lines = [f"{'fault':<26} {'kind':<7} {'profile':<14} {'target':<9} {'verdict':<8} {'examples':>8} {'seconds':>8}",
             "-" * 86]
    for entry, r in rows:
        found = "found" if r.verdict in entry.expect else "MISSED"
        lines.append(f"{entry.fault:<26} {entry.kind:<7} {entry.profile:<14} {entry.target:<9} {r.verdict:<8} "
                     f"{r.examples:>8} {r.seconds:>8.1f}  {found}: {r.message[:70]}")
    return "\n".join(lines)


@pytest.mark.timeout(600)
def test_the_fuzzer_finds_every_parsing_token_and_binding_fault(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[tuple[Entry, CampaignResult]] = []
    for entry in FOUND_BY:
        spec = WorldSpec(entry.profile, device_faults=(entry.fault,) if entry.kind == "camera" else (),
                         cloud_faults=(entry.fault,) if entry.kind == "cloud" else (), seed=SEED)
        result = run_target(spec, entry.target, BUDGET_S, report_dir=tmp_path / entry.fault, seed=SEED)
        rows.append((entry, result))
    table = _table(rows)
    with capsys.disabled():
        print("\n" + table)
    missed = [e.fault for e, r in rows if r.verdict not in e.expect]
    assert not missed, f"the fuzzer missed {missed}\n{table}"
    assert all(r.failure_file is not None and r.failure_file.exists() for _, r in rows)
