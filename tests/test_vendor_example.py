"""examples/vendor-suite, a vendor's own suite on top of the plugin, runs as its README says; its requirement
catalogue extends paircert's and is held to the same traceability before the first test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "vendor-suite"
PAIRCERT = Path(sys.executable).parent / "paircert"


def run(project: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCERT_")}
    return subprocess.run(list(argv), cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "vendor-suite"
    shutil.copytree(EXAMPLE, target)
    return target


def test_the_vendor_suite_passes_with_its_own_tcs_and_requirements(project: Path) -> None:
    done = run(project, sys.executable, "-m", "pytest", "--paircert-report-dir", "reports", "--junitxml",
               "reports/junit.xml", "-q")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "PASS 3  FAIL 0  ERROR 0  N/A 0  INCONCLUSIVE 0" in done.stdout
    records = [json.loads(line) for line in (project / "reports" / "results.jsonl").read_text().splitlines()]
    assert {r["tc"]: r["reqs"] for r in records} == {"TC-ACME-001": ["REQ-ACME-001", "REQ-QR-001"],
                                                      "TC-ACME-002": ["REQ-ACME-002"],
                                                      "TC-ACMEAPP-001": ["REQ-ACMEAPP-001"]}
    titles = {r["tc"]: r["title"] for r in records}
    assert titles["TC-ACME-002"] == "the camera joins generated Wi-Fi networks"  # the marker's title=
    assert titles["TC-ACME-001"].startswith("The camera pairs by QR code")  # the docstring's first sentence
    junit = (project / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert 'name="TC-ACMEAPP-001 Every payload Acme\'s app prints reads back unchanged"' in junit


@pytest.mark.parametrize(("edit", "expected"), [
    pytest.param(("tests/test_acme_pairing.py", '"TC-ACMEAPP-001", reqs=["REQ-ACMEAPP-001"]',
                  '"TC-ACMEAPP-001", reqs=["REQ-ACME-001"]'), "no TC checks REQ-ACMEAPP-001", id="unchecked"),
    pytest.param(("tests/test_acme_pairing.py", '"REQ-ACME-002"]', '"REQ-ACME-002", "REQ-ACME-099"]'),
                 "TC-ACME-002 names unknown requirement(s) REQ-ACME-099", id="unknown"),
    pytest.param(("requirements.toml", 'id = "REQ-ACMEAPP-001"\narea = "acmeapp"', 'id = "REQ-QR-001"\narea = "qr"'),
                 "REQ-QR-001 is already in the paircert catalogue", id="taken"),
    pytest.param(("requirements.toml", 'source = "Acme app spec §2"', 'source = ""'),
                 "source '' must be non-empty text", id="empty-source"),
])
def test_a_broken_traceability_stops_the_run_before_the_first_test(project: Path, edit: tuple[str, str, str],
                                                                   expected: str) -> None:
    name, old, new = edit
    path = project / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    done = run(project, sys.executable, "-m", "pytest", "-q")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert expected in done.stderr and "requirements.toml" in done.stderr, done.stderr
    assert "passed" not in done.stdout


def test_paircert_run_refuses_the_broken_vendor_suite_with_exit_2(project: Path) -> None:
    path = project / "tests" / "test_acme_pairing.py"
    path.write_text(path.read_text(encoding="utf-8").replace('"REQ-ACME-002"]', '"REQ-ACME-099"]'), encoding="utf-8")
    done = run(project, str(PAIRCERT), "run", "--profile", "camera-strong", "--suites-dir", "tests", "--no-progress",
               "--report-dir", "reports")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert "REQ-ACME-099" in done.stderr
