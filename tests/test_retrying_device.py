"""A device that retries a refused activation every second with the same token, as genuine SDKs do (PROTOCOL.md
§11.7), is judged correctly: the suites whose scenarios refuse activations pass against it (no FAIL for the retries
themselves), while its token attempt lists grow by one per retry (tests/test_camera_tls.py)."""

from __future__ import annotations

from pathlib import Path

from _selfcheck_pool import Job, Runner
from test_selfcheck import ROOT, SUITES

RETRIES = 12


def test_the_suites_that_refuse_activations_pass_against_a_retrying_device(tmp_path: Path) -> None:
    text = (ROOT / "profiles" / "camera-strong.toml").read_text(encoding="utf-8")
    retrying = text.replace('device = "emulated"', f'device = {{ name = "emulated", args = '
                                                   f'{{ refused_retries = {RETRIES} }} }}')
    assert retrying != text, "camera-strong no longer names its device adapter as expected"
    profile = tmp_path / "camera-retrying.toml"
    profile.write_text(retrying, encoding="utf-8")
    modules = [str(SUITES / f"test_{area}.py") for area in ("token", "delegate", "binding", "uuid")]
    job = Job("retrying", str(profile), tuple(modules), tmp_path / "report", deadline_s=100.0)
    runner = Runner(tmp_path / "runner.log")
    try:
        outcome = runner.run(job, job.deadline_s)
    finally:
        runner.stop()
    assert outcome.problem is None, outcome.problem
    results = job.results()
    assert {str(r["tc"]).split("-")[1] for r in results} == {"TOKEN", "DELEGATE", "BINDING", "UUID"}
    bad = [f"{r['verdict']} {r['tc']}: {r['message']}" for r in results if r["verdict"] not in ("PASS", "N/A")]
    assert not bad, "\n".join(bad)
