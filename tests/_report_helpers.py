"""Helpers for the runner and report tests: small sample suites in tmp dirs, and running ``paircert``.

The sample suites run under the real plugin (options, fixtures, verdicts, ``results.jsonl``), as a user's own
suites given with ``--suites-dir`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from harness.report.summary import RunSummary, TestCaseResult

PAIRCERT = Path(sys.executable).parent / "paircert"

PASSING_SUITE = '''
import pytest
from harness.conformance.verdicts import not_applicable

@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
def test_a_token_is_accepted_within_its_lifetime():
    assert True

@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001", "REQ-QR-002"])
def test_every_qr_decodes_to_its_bytes():
    assert True

@pytest.mark.tc("TC-QR-002", reqs=["REQ-QR-003"])
def test_ap_is_not_claimed():
    not_applicable("profile camera-strong does not claim this")
'''

FAILING_SUITE = '''
import pytest

@pytest.mark.tc("TC-DELEGATE-001", reqs=["REQ-DELEGATE-001"])
def test_exactly_one_callback_per_start():
    assert 1 + 1 == 3, "the delegate was called twice <script>alert(1)</script>"
'''

ERRORING_SUITE = '''
import pytest
from harness.adapters.contracts import AdapterError

@pytest.mark.tc("TC-LICENCE-001", reqs=["REQ-LICENCE-001"])
def test_the_lab_broke():
    raise AdapterError("the relay did not answer")
'''


def write_suites(directory: Path, suites: dict[str, str]) -> Path:
    """A suites directory holding ``test_<name>.py`` for each entry."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in suites.items():
        (directory / f"test_{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return directory


def run_paircert(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(PAIRCERT)] if PAIRCERT.exists() else [sys.executable, "-c", "from harness.cli import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {}), "COLUMNS": "200"}, cwd=cwd)


def latest_run(report_dir: Path) -> Path:
    latest = report_dir / "latest"
    return (report_dir / latest.read_text().strip()) if latest.is_file() else latest.resolve()


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sample_summary(results: list[TestCaseResult] | None = None, **fields: Any) -> RunSummary:
    """A summary as a run would write it, for renderer tests."""
    fields = {"run_id": "20250101T000000000Z-abcdef", **fields}
    summary = RunSummary(
        harness_version="0.1.0", started_at="2025-01-01T00:00:00+00:00",
        ended_at="2025-01-01T00:00:09+00:00", duration_s=9.0,
        profile={"profile": "camera-strong", "file": "profiles/camera-strong.toml", "sha256": "ab" * 32,
                 "device": "paircert emulated camera", "kind": "camera", "pid": "pcertcamstrong01",
                 "firmware": "1.0.0", "adapters": "emulated / emulated / air"},
        adapters={"cloud": {"adapter": "emulated"}, "device": {"adapter": "emulated"}, "network": {"adapter": "air"}},
        firmware="1.0.0", seeds=[1234], suite_version="sha256:0123456789abcdef",
        results=results if results is not None else [
            TestCaseResult("TC-TOKEN-001", "PASS", "suites/test_token.py::test_a", "token", 0.5, ["REQ-TOKEN-001"]),
            TestCaseResult("TC-QR-001", "FAIL", "suites/test_qr.py::test_b", "qr", 1.25, ["REQ-QR-001"],
                           "AssertionError: decoded <b>bytes</b> differ", "evidence/TC-QR-001"),
            TestCaseResult("TC-QR-002", "N/A", "suites/test_qr.py::test_c", "qr", 0.0, ["REQ-QR-002"],
                           "profile does not claim it"),
            TestCaseResult("TC-LICENCE-001", "ERROR", "suites/test_licence.py::test_d", "licence", 0.1,
                           ["REQ-LICENCE-001"], "AdapterError: relay"),
        ],
        **fields,
    )
    summary.finish()
    return summary


__all__ = ["ERRORING_SUITE", "FAILING_SUITE", "PASSING_SUITE", "latest_run", "load_json",
           "run_paircert", "sample_summary", "write_suites"]
