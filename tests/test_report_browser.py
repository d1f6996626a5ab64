"""The certificate of a failing run, as a person sees it in a browser.

A real ``paircert run`` of the camera-strong suites against an emulated camera with a catalogue fault (named in the
profile's ``[adapters.device] args = { faults = [...] }``), its ``report.html`` opened in headless Chromium: the
verdict, the EMULATED mark, the first failure and its evidence link are on the first screen; the page is at most
6,000 px tall; no Python repr anywhere in its text. Then two small runs of one profile in one report directory:
the second's certificate shows, on page 1, what regressed since the first.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
from _browser import CHROMIUM, SKIP_REASON, Page, open_page

from harness.profiles import load_profile
from harness.report.summary import load_summary
from tests._report_helpers import latest_run, run_paircert, write_suites

# the whole camera-strong run (one worker: the tests around it keep the other core busy) is set up by the first
# test that needs it: about half a minute on 2 cores
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON), pytest.mark.timeout(600)]

FAULT = "qr-mangles-utf8"  # a camera-side fault of suites/faults/camera.toml: TC-QR-002 and TC-QR-004 FAIL
SCREEN = (1280, 900)  # a laptop's first screen, CSS pixels
MAX_HEIGHT_PX = 6000
PYTHON_REPR = re.compile(r"<[^<>]* object at 0x|\bb'[^']*'|\bb\"[^\"]*\"|\[\{'|\{'[A-Za-z_]+': ")


def faulty_profile(directory: Path, fault: str = FAULT) -> Path:
    text = Path(load_profile("camera-strong").path or "").read_text(encoding="utf-8")
    assert 'device = "emulated"' in text
    path = directory / "faulty-camera.toml"
    path.write_text(text.replace('device = "emulated"', f'device = {{ name = "emulated", args = {{ faults = '
                                                        f'["{fault}"] }} }}'), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("certificate")
    done = run_paircert("run", "--profile", str(faulty_profile(root)), "--fuzz-budget", "ci", "-n", "1",
                        "--report-dir", str(root / "reports"), "--no-progress", timeout=600)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    return latest_run(root / "reports")


def _rect(page: Page, selector: str) -> dict[str, float]:
    rect = page.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                   " const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,"
                   " right: r.right, width: r.width, height: r.height}; })()")
    assert rect is not None, f"{selector} is not on the page"
    return dict(rect)


def _on_first_screen(rect: dict[str, float]) -> bool:
    width, height = SCREEN
    return rect["height"] > 0 and rect["top"] >= 0 and rect["bottom"] <= height and rect["left"] >= 0 and \
        rect["right"] <= width


def test_the_first_screen_has_the_verdict_the_emulated_mark_and_the_first_failure_with_its_evidence_link(
        failing_run: Path, tmp_path: Path) -> None:
    summary = load_summary(failing_run / "summary.json")
    first_fail = sorted((r for r in summary.results if r.verdict == "FAIL"), key=lambda r: (r.area, r.tc, r.nodeid))[0]
    with open_page(failing_run / "report.html", tmp_path / "profile", width=SCREEN[0], height=SCREEN[1]) as page:
        shot = page.screenshot(tmp_path / "first-screen.png")
        assert page.js("window.scrollY") == 0
        assert page.js("document.getElementById('overall-verdict').innerText") == "FAIL" == summary.verdict
        assert _on_first_screen(_rect(page, "#overall-verdict"))
        assert page.js("document.getElementById('emulated').innerText").startswith("EMULATED DEVICE / EMULATED CLOUD")
        assert _on_first_screen(_rect(page, "#emulated"))
        first = page.js("document.querySelector('.problems li').innerText")
        assert first.startswith("FAIL") and first_fail.tc in first and "Observed" in first and "Required" in first
        assert _on_first_screen(_rect(page, ".problems li"))
        assert _on_first_screen(_rect(page, ".problems li a.evidence-link"))
        target = page.js("document.querySelector('.problems li a.evidence-link').getAttribute('href')")
        evidence = page.js(f"document.querySelector({json.dumps(target)}).innerText")
        assert first_fail.tc in evidence and "Timeline (" in evidence  # the timeline one click away
        assert page.js(f"document.querySelector({json.dumps(target)} + ' details').open") is False
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and struct.unpack(">II", png[16:24]) == SCREEN


def test_the_certificate_of_the_camera_strong_run_is_at_most_6000_px_tall_and_has_no_python_repr(
        failing_run: Path, tmp_path: Path) -> None:
    with open_page(failing_run / "report.html", tmp_path / "profile", width=SCREEN[0], height=SCREEN[1]) as page:
        height = page.js("document.documentElement.scrollHeight")
        text = page.js("document.body.textContent")  # folded timelines included
        tcs = page.js("document.querySelectorAll('.tc').length")
    assert height <= MAX_HEIGHT_PX, f"report.html is {height} px tall"
    assert tcs >= 50  # the whole camera-strong run
    found = PYTHON_REPR.findall(text)
    assert found == [], found[:5]
    assert "TC-QR-001" in text and "lab self-check" not in text


PASSING = '''
import pytest

@pytest.mark.tc("TC-DELEGATE-001", reqs=["REQ-DELEGATE-001"])
def test_exactly_one_callback_per_start():
    """The delegate is called once per start."""
    assert True

@pytest.mark.tc("TC-DELEGATE-002", reqs=["REQ-DELEGATE-002"])
def test_gone_in_the_next_build():
    assert True
'''

REGRESSED = '''
import pytest

@pytest.mark.tc("TC-DELEGATE-001", reqs=["REQ-DELEGATE-001"])
def test_exactly_one_callback_per_start():
    """The delegate is called once per start."""
    assert 1 == 2, "the delegate was called twice"

@pytest.mark.tc("TC-DELEGATE-003", reqs=["REQ-DELEGATE-003"])
def test_new_in_this_build():
    assert True
'''


def test_a_run_is_compared_with_the_previous_run_of_its_profile_on_page_1(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for name, suite in (("before", PASSING), ("after", REGRESSED)):
        suites = write_suites(tmp_path / name, {"delegate": suite})
        done = run_paircert("run", "--profile", "camera-strong", "--suites-dir", str(suites), "--report-dir",
                            str(reports), "--no-progress", timeout=120)
        assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    run = latest_run(reports)
    titles = {r["tc"]: r["title"] for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert titles == {"TC-DELEGATE-001": "The delegate is called once per start",  # the docstring's first sentence
                      "TC-DELEGATE-003": "new in this build"}  # else the test's name, as words
    comparison = load_summary(run / "summary.json").comparison
    assert [(c["tc"], c["old"], c["new"]) for c in comparison["regressions"]] == [("TC-DELEGATE-001", "PASS", "FAIL")]
    assert (comparison["new_tcs"], comparison["removed_tcs"]) == (["TC-DELEGATE-003"], ["TC-DELEGATE-002"])
    with open_page(run / "report.html", tmp_path / "profile", width=SCREEN[0], height=SCREEN[1]) as page:
        shown = page.js("document.getElementById('comparison').parentElement.innerText")
        top = _rect(page, "#comparison")["top"]
        tcs_top = _rect(page, "#tcs")["top"]
    assert "1 regression(s)" in shown and "TC-DELEGATE-001 PASS → FAIL" in shown
    assert "removed: TC-DELEGATE-002" in shown and "new: TC-DELEGATE-003" in shown
    assert top < tcs_top  # page 1, before the TC tables
    done = run_paircert("report", "--compare", str(reports / sorted(p.name for p in reports.iterdir()
                                                                     if p.is_dir() and p.name != "latest")[0]),
                        str(run))  # as the README shows it
    assert done.returncode == 1 and "regression: TC-DELEGATE-001 PASS -> FAIL" in done.stdout, done.stdout
