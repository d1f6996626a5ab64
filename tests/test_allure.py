"""Allure results that read like the certificate (harness.report.allure_results), rendered with Allure 3.

A small suite on the emulated world (camera-strong) gives one verdict of each kind. Its Allure results must carry
the environment (profile, firmware, adapters, seed), the categories (the device's FAIL, the harness's ERROR, the
blocked), each TC's title, its requirements as labels and links, its steps, and its evidence files (timeline, QR
image, pcaps). Then ``allure generate`` (Allure 3, the npm package ``allure``, installed with npm into a cache
directory this test controls: $PAIRCERT_ALLURE_CACHE, default .venv/allure3) renders them, and the report holds
the TCs. Without Node, npm or the registry the rendering is skipped with the reason; the results are still checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLURE_VERSION = "3"
CACHE = Path(os.environ.get("PAIRCERT_ALLURE_CACHE", str(ROOT / ".venv" / "allure3")))

SUITE = '''
import pytest

from harness.adapters.contracts import AdapterError
from harness.conformance.verdicts import Inconclusive, NotApplicable


@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001"], title="the device pairs from a QR code")
def test_pairs(lab, device):
    assert lab.pair("qr").ok


@pytest.mark.tc("TC-EZ-001", reqs=["REQ-EZ-001"])
def test_a_deliberate_deviation(lab, device):
    """The device pairs over EZ, which this test calls a deviation, so that the report has a FAIL."""
    outcome = lab.pair("ez")
    assert not outcome.ok, "the device paired over EZ although this test forbids it"


@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
def test_the_lab_breaks(lab):
    raise AdapterError("the lab's smart plug did not answer")


@pytest.mark.tc("TC-AP-001", reqs=["REQ-AP-001"])
def test_not_claimed():
    raise NotApplicable("the profile does not claim the capability 'ap:lpv35'")


@pytest.mark.tc("TC-MQTT-001", reqs=["REQ-MQTT-001"])
def test_undecided():
    raise Inconclusive("a real wait of 600 s was not allowed")
'''
EXPECTED = {"TC-QR-001": "passed", "TC-EZ-001": "failed", "TC-TOKEN-001": "broken", "TC-AP-001": "skipped",
            "TC-MQTT-001": "skipped"}


@pytest.fixture(scope="module")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("allure-project")
    (project / "test_certificate.py").write_text(SUITE, encoding="utf-8")
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\npaircert_suites = .\n",
                                        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCERT_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "--paircert-profile", "camera-strong",
                           "--paircert-seed", "7", "--paircert-report-dir", "reports", "--alluredir", "allure-results",
                           "-q"], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]  # a FAIL
    return project / "allure-results"


def results_by_tc(directory: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in directory.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        tc = next(lb["value"] for lb in data["labels"] if lb["name"] == "tc")
        found[tc] = data
    return found


def test_each_verdict_has_its_status_title_and_requirement(allure_results: Path) -> None:
    results = results_by_tc(allure_results)
    assert {tc: r["status"] for tc, r in results.items()} == EXPECTED
    assert results["TC-QR-001"]["name"] == "TC-QR-001 the device pairs from a QR code"
    assert results["TC-EZ-001"]["name"].startswith("TC-EZ-001 The device pairs over EZ")
    assert results["TC-EZ-001"]["statusDetails"]["message"].startswith(
        "FAIL: AssertionError: the device paired over EZ although this test forbids it")
    assert results["TC-TOKEN-001"]["statusDetails"]["message"] == \
        "ERROR: AdapterError: the lab's smart plug did not answer"
    assert results["TC-AP-001"]["statusDetails"]["message"].startswith("N/A: the profile does not claim")
    assert results["TC-MQTT-001"]["statusDetails"]["message"].startswith("INCONCLUSIVE: a real wait")
    for tc, result in results.items():
        requirement = "REQ-" + tc.split("-", 1)[1]
        assert {"name": "requirement", "value": requirement} in result["labels"]
        assert any(link["name"] == requirement and link["type"] == "requirement" for link in result["links"])
        assert requirement in result["description"]
        assert not any(lb["name"] == "paircert_nodeid" for lb in result["labels"])


def test_the_steps_and_the_evidence_files_are_attached(allure_results: Path) -> None:
    results = results_by_tc(allure_results)
    assert results["TC-QR-001"]["steps"], "no adapter step was recorded as an Allure step"
    for tc, image in (("TC-QR-001", {"qr.png"}), ("TC-EZ-001", set())):
        names = {a["name"] for a in results[tc]["attachments"]}
        assert {"timeline.json", "timeline.txt", *image} <= names, (tc, names)
        for attachment in results[tc]["attachments"]:
            assert (allure_results / attachment["source"]).is_file()
    failed = {a["name"]: a for a in results["TC-EZ-001"]["attachments"]}
    pcaps = [name for name in failed if name.endswith(".pcap")]
    assert "traffic-air.pcap" in pcaps, failed  # the FAIL's traffic, masked (harness.plugin.pcap)
    assert failed["traffic-air.pcap"]["type"] == "application/vnd.tcpdump.pcap"


def test_the_environment_and_the_categories_are_written(allure_results: Path) -> None:
    lines = (allure_results / "environment.properties").read_text(encoding="utf-8").splitlines()
    environment = dict(line.split(" = ", 1) for line in lines)
    assert environment["profile"] == "camera-strong" and environment["firmware"] == "1.0.0"
    assert environment["seed"] == "7"
    assert (environment["cloud_adapter"], environment["device_adapter"], environment["network_adapter"]) == (
        "emulated", "emulated", "air")
    categories = json.loads((allure_results / "categories.json").read_text(encoding="utf-8"))
    assert [c["matchedStatuses"] for c in categories] == [["failed"], ["broken"], ["skipped"], ["skipped"]]
    assert categories[0]["name"].startswith("FAIL") and categories[1]["name"].startswith("ERROR")


def _allure3() -> Path:
    """Allure 3's command line, installed with npm into CACHE once; skip with the reason when it cannot be."""
    binary = CACHE / "node_modules" / ".bin" / "allure"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Allure 3 needs Node.js and npm, which this machine does not have")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--loglevel=error",
                               f"allure@{ALLURE_VERSION}"], capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install allure@3 did not finish within 300 s")
    if done.returncode != 0 or not binary.exists():
        pytest.skip(f"npm could not install allure@{ALLURE_VERSION}: {(done.stderr or done.stdout).strip()[-500:]}")
    return binary


def test_allure_3_renders_a_report_that_holds_the_tcs(allure_results: Path, tmp_path: Path) -> None:
    allure = _allure3()
    output = tmp_path / "allure-report"
    done = subprocess.run([str(allure), "generate", str(allure_results), "--output", str(output)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (output / "index.html").is_file()
    rendered = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in output.rglob("*")
                         if p.is_file() and p.suffix in (".html", ".json", ".js"))
    for tc in EXPECTED:
        assert tc in rendered, tc
    assert "TC-QR-001 the device pairs from a QR code" in rendered
    assert "camera-strong" in rendered  # the environment
