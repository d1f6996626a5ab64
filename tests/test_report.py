"""The report pieces without a pytest run: summary schema, HTML, manifest, sweep, results reader, CLI, Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from harness.cli.rundir import new_run_id, point_latest
from harness.qrimage import decode_qr, render_qr
from harness.redaction import MASK
from harness.report import cli as report_cli
from harness.report.compare import compare
from harness.report.html import render_html, write_html
from harness.report.manifest import verify_manifest, write_manifest
from harness.report.pdf import chromium_missing
from harness.report.results import JsonlTail, RunState, area_of
from harness.report.rundir import resolve_run_dir
from harness.report.summary import SummaryError, load_summary, summary_from_json
from harness.report.summary import TestCaseResult as Result
from harness.report.sweep import SweepRedactor, sweep_directory
from tests._report_helpers import sample_summary

PYTHON_REPR = re.compile(r"<[^<>]* object at 0x|\bb'[^']*'|\bb\"[^\"]*\"|\[\{'|\{'[A-Za-z_]+': ")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory as a run leaves it: summary, evidence of the failure, report, manifest."""
    directory = tmp_path / "20250101T000000000Z-abcdef"
    evidence = directory / "evidence" / "TC-QR-001"
    evidence.mkdir(parents=True)
    render_qr('{"s":"lab","p":"x","t":"AYabcdefghijkl"}').save(evidence / "qr-shown.png")
    (evidence / "timeline.txt").write_text("0.000 step   present_qr {}\n0.120 device decoded <bytes>\n")
    summary = sample_summary()
    summary.save(directory / "summary.json")
    write_html(summary, directory)
    write_manifest(directory, run_id=summary.run_id)
    return directory


# -- summary.json ------------------------------------------------------------------------------------------------

def test_the_summary_round_trips_and_counts_every_verdict(tmp_path: Path) -> None:
    summary = sample_summary()
    assert summary.counts == {"PASS": 1, "FAIL": 1, "ERROR": 1, "N/A": 1, "INCONCLUSIVE": 0}
    assert (summary.verdict, summary.exit_code) == ("FAIL", 1)
    summary.save(tmp_path / "summary.json")
    assert load_summary(tmp_path / "summary.json") == summary


@pytest.mark.parametrize(("verdicts", "interrupted", "overall", "code"), [
    (["PASS", "N/A"], False, "PASS", 0),
    (["N/A"], False, "N/A", 0),
    (["PASS", "INCONCLUSIVE"], False, "INCONCLUSIVE", 0),
    (["PASS", "ERROR"], False, "ERROR", 3),
    (["ERROR", "FAIL"], False, "FAIL", 1),
    (["PASS"], True, "ERROR", 3),
    (["FAIL"], True, "FAIL", 1),
])
def test_overall_verdict_and_exit_code(verdicts: list[str], interrupted: bool, overall: str, code: int) -> None:
    from harness.report.summary import TestCaseResult

    summary = sample_summary([TestCaseResult(f"TC-X-{i:03d}", v) for i, v in enumerate(verdicts)])
    summary.finish(interrupted=interrupted, reason="SIGINT received")
    assert (summary.verdict, summary.exit_code, summary.interrupted) == (overall, code, interrupted)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d.pop("run_id"), "missing field(s) run_id"),
    (lambda d: d.update(interrupted="yes"), "interrupted: expected bool"),
    (lambda d: d["results"][0].update(verdict="MAYBE"), "results[0].verdict: expected one of"),
    (lambda d: d.update(surprise=1), "unknown field 'surprise'"),
    (lambda d: d.update(schema_version=99), "newer than this paircert"),
])
def test_a_bad_summary_names_the_field(mutate: object, expected: str) -> None:
    data = sample_summary().to_json()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SummaryError, match=re.escape(expected)):
        summary_from_json(data)


# -- report.html ---------------------------------------------------------------------------------------------------

def test_the_report_is_self_contained_escaped_and_complete(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(http" not in page
    assert "decoded <b>bytes</b>" not in page and "decoded &lt;b&gt;bytes&lt;/b&gt;" in page
    assert 'data:image/png;base64,' in page and "device decoded &lt;bytes&gt;" in page
    assert 'id="overall-verdict" data-verdict="FAIL"' in page
    for verdict, count in (("pass", 1), ("fail", 1), ("error", 1), ("na", 1), ("inconclusive", 0)):
        assert re.search(rf'id="count-{verdict}"[^>]*>{count}<', page), verdict
    assert "REQ-TOKEN-001" in page and "A pairing token activates a device" in page  # requirement text
    assert page.count(">not covered<") >= 50  # catalogue entries without a TC in this run
    assert "pcertcamstrong01" in page and "emulated" in page and "1234" in page  # device, adapters, seed


def test_an_interrupted_report_says_so() -> None:
    summary = sample_summary(not_run=["suites/test_qr.py::test_z"])
    summary.finish(interrupted=True, reason="SIGTERM received")
    page = render_html(summary, Path("/nonexistent"))
    assert 'id="interrupted"' in page and "SIGTERM received" in page and "suites/test_qr.py::test_z" in page


def test_evidence_outside_the_run_dir_is_never_inlined(tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("do not show me")
    summary = sample_summary()
    summary.results[1].evidence = "../outside.txt"
    assert "do not show me" not in render_html(summary, tmp_path / "run")


def test_packet_captures_are_linked_with_their_size_not_inlined(run_dir: Path) -> None:
    capture = run_dir / "evidence" / "TC-QR-001" / "traffic-lo.pcap"
    capture.write_bytes(bytes.fromhex("d4c3b2a1") + b"\x00" * 1996)
    page = render_html(load_summary(run_dir / "summary.json"), run_dir)
    link = re.search(r'<a class="mono" href="([^"]+)">traffic-lo.pcap</a> \(([\d,]+) bytes\)', page)
    assert link is not None, "no link to the capture"
    assert (run_dir / link.group(1)).resolve() == capture.resolve() and link.group(2) == "2,000"
    # the timeline is inlined, one click away (folded), the capture only linked
    assert re.search(r"<details><summary>Timeline \(2 events\)</summary><pre>0.000 step", page)


def test_a_symlink_in_the_evidence_pointing_outside_the_run_dir_does_not_break_the_report(run_dir: Path) -> None:
    outside = run_dir.parent / "elsewhere.pcap"
    outside.write_bytes(b"\x00" * 10)
    (run_dir / "evidence" / "TC-QR-001" / "traffic-air.pcap").symlink_to(outside)
    page = render_html(load_summary(run_dir / "summary.json"), run_dir)
    assert 'href="evidence/TC-QR-001/traffic-air.pcap"' in page


# -- manifest ------------------------------------------------------------------------------------------------------

def test_the_manifest_finds_changed_missing_and_added_files(run_dir: Path) -> None:
    assert verify_manifest(run_dir).ok and verify_manifest(run_dir).checked == 4
    (run_dir / "evidence" / "TC-QR-001" / "timeline.txt").write_text("rewritten")
    (run_dir / "junk.txt").write_text("new")
    (run_dir / "report.html").unlink()
    result = verify_manifest(run_dir)
    assert not result.ok
    assert (result.changed, result.missing, result.unexpected) == (
        ["evidence/TC-QR-001/timeline.txt"], ["report.html"], ["junk.txt"])


def test_no_manifest_does_not_verify(tmp_path: Path) -> None:
    assert "no manifest" in verify_manifest(tmp_path).problem


# -- the secret sweep ----------------------------------------------------------------------------------------------

def test_the_sweep_masks_every_spelling_and_withholds_qr_images_that_encode_a_secret(tmp_path: Path) -> None:
    secret = "SENTINEL-pw-0123456789"
    (tmp_path / "a.json").write_text(json.dumps({"m": f"x {secret} y"}))
    (tmp_path / "b.bin").write_bytes(secret.encode().hex().encode() + b" " + b"U0VOVElORUwtcHctMDEyMzQ1Njc4OQ")
    render_qr(json.dumps({"s": "lab", "p": secret, "t": "AYabcdefghijkl"})).save(tmp_path / "qr.png")
    render_qr("harmless").save(tmp_path / "ok.png")
    changed = sweep_directory(tmp_path, SweepRedactor([secret])).changed
    assert changed == ["a.json", "b.bin", "qr.png"]
    redacted = json.dumps({"s": "lab", "p": MASK, "t": "AYabcdefghijkl"}, ensure_ascii=False).encode()
    assert decode_qr(Image.open(tmp_path / "qr.png")) == [redacted]  # the QR of the redacted payload
    assert secret.encode() not in (tmp_path / "a.json").read_bytes()
    assert (tmp_path / "b.bin").read_bytes() == "«redacted» «redacted»".encode()


# -- results reader -----------------------------------------------------------------------------------------------

def test_the_tail_keeps_a_half_written_line_for_later(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"tc": "TC-A-001", "verdict": "PASS"}\n{"tc": "TC-A-0')
    tail = JsonlTail(path)
    assert [r["tc"] for r in tail.poll()] == ["TC-A-001"]
    with path.open("ab") as handle:
        handle.write(b'02", "verdict": "FAIL"}\nnot json\n')
    assert [r["tc"] for r in tail.poll()] == ["TC-A-002"]


def test_pytest_reports_give_a_verdict_where_the_plugin_wrote_none(tmp_path: Path) -> None:
    events = [{"event": "collected", "nodeids": ["suites/test_qr.py::a", "suites/test_qr.py::b",
                                                 "suites/test_qr.py::c"]},
              {"event": "report", "nodeid": "suites/test_qr.py::a", "when": "setup", "outcome": "passed"},
              {"event": "report", "nodeid": "suites/test_qr.py::a", "when": "call", "outcome": "failed",
               "message": "boom", "duration": 0.5},
              {"event": "report", "nodeid": "suites/test_qr.py::b", "when": "setup", "outcome": "failed"},
              {"event": "start", "nodeid": "suites/test_qr.py::c"}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    state = RunState(tmp_path)
    state.update(final=True)
    assert [(r.nodeid, r.verdict, r.area) for r in state.merged()] == [
        ("suites/test_qr.py::a", "FAIL", "qr"), ("suites/test_qr.py::b", "ERROR", "qr")]
    assert state.not_run() == ["suites/test_qr.py::c"] and list(state.running) == ["suites/test_qr.py::c"]


def test_areas_come_from_tc_ids_then_file_names() -> None:
    assert area_of("TC-TOKEN-002") == "token"
    assert area_of("x", "suites/test_mqtt_session.py::test_a") == "mqtt"
    assert area_of("x", "odd.py::t") == "other"


# -- run ids and the latest link ------------------------------------------------------------------------------------

def test_run_ids_sort_by_time_and_latest_points_at_the_newest(tmp_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    assert first[:19] <= second[:19] and first != second and re.fullmatch(r"\d{8}T\d{9}Z-[0-9a-f]{6}", first)
    for run_id in (first, second):
        (tmp_path / run_id).mkdir()
        point_latest(tmp_path, run_id)
    assert resolve_run_dir(tmp_path / "latest") == (tmp_path / second).resolve()
    assert resolve_run_dir(tmp_path) == (tmp_path / second).resolve()


def test_latest_falls_back_to_a_text_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks are not supported here")

    monkeypatch.setattr("os.symlink", no_symlinks)
    (tmp_path / "run-1").mkdir()
    point_latest(tmp_path, "run-1")
    assert (tmp_path / "latest").read_text().strip() == "run-1"
    assert resolve_run_dir(tmp_path / "latest") == tmp_path / "run-1"


# -- paircert report ----------------------------------------------------------------------------------------------

def test_report_rerenders_and_refuses_a_tampered_bundle(run_dir: Path) -> None:
    (run_dir / "report.html").write_text("stale")
    write_manifest(run_dir)
    done = CliRunner().invoke(report_cli.cli_command, [str(run_dir)])
    assert done.exit_code == 0, done.output
    assert "TC-QR-001" in (run_dir / "report.html").read_text() and verify_manifest(run_dir).ok
    (run_dir / "summary.json").write_text((run_dir / "summary.json").read_text().replace('"FAIL"', '"PASS"'))
    done = CliRunner().invoke(report_cli.cli_command, [str(run_dir)])
    assert done.exit_code == 1 and "changed: summary.json" in done.output


def test_report_allure_without_node_says_what_to_install(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (run_dir / "allure-results").mkdir()
    write_manifest(run_dir)
    monkeypatch.setenv("PATH", str(run_dir))  # no npx on it
    done = CliRunner().invoke(report_cli.cli_command, [str(run_dir), "--allure"])
    assert done.exit_code == 2 and "npx was not found" in done.output and "nodejs" in done.output
    assert report_cli.allure_command(run_dir)[:4] == ["npx", "--yes", "allure", "generate"]


def test_report_of_a_directory_that_is_no_run_is_a_usage_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(report_cli.cli_command, [str(tmp_path / "nope")])
    assert done.exit_code == 2


# -- in a real browser -----------------------------------------------------------------------------------------------

@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: `make chromium` (apt-get install -y chromium)")
def test_chromium_renders_the_report_with_the_summarys_verdict_and_counts(run_dir: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
               (run_dir / "report.html").as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    summary = load_summary(run_dir / "summary.json")

    def shown(element_id: str) -> str:
        match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
        assert match, f"#{element_id} is not in the rendered page"
        return html.unescape(match.group(1)).strip()

    assert "paircert conformance certificate" in dom
    assert shown("overall-verdict") == summary.verdict
    for verdict, key in (("PASS", "pass"), ("FAIL", "fail"), ("ERROR", "error"), ("N/A", "na"),
                         ("INCONCLUSIVE", "inconclusive")):
        assert int(shown(f"count-{key}")) == summary.counts[verdict], verdict
    assert int(shown("count-total")) == len(summary.results)
    tcs = dict(re.findall(r'<div class="tc" id="tc-([^"]+)" data-verdict="([^"]+)"', dom))
    assert tcs == {r.tc: r.verdict for r in summary.results}  # one result per TC in the sample


# -- the certificate's page 1, the comparison, the PDF ---------------------------------------------------------------

CAPABILITIES = {"pairing_modes": ["qr", "ap"], "ez_channels": [], "ap_variants": ["lpv35"], "binding_mode": "strong",
                "mqtt_protocol_version": "2.3", "activation_api": "thing.device.opensdk.active",
                "pairing_window_s": None, "supports_reset": True, "supports_factory_reset": True,
                "supports_power_cycle": False, "supports_remote_removal": True, "supports_dp_commands": True,
                "qr_prompt_observable": True, "bind_by_uuid": False}


def test_page_one_says_what_was_emulated_what_the_device_claims_and_what_failed_first(run_dir: Path) -> None:
    summary = load_summary(run_dir / "summary.json")
    summary.profile["capabilities"] = CAPABILITIES
    summary.adapters = {"cloud": {"adapter": "emulated", "faults": [], "ca": "MIIB" + "A" * 400, "tls": True},
                        "device": {"adapter": "emulated", "faults": ["qr-mangles-utf8"]}, "network": {"adapter": "air"},
                        "devices": [{"worker": "gw0", "name": "cam-a"}, {"worker": "gw1", "name": "cam-b"}]}
    page = render_html(summary, run_dir)
    assert re.search(r'id="emulated">EMULATED DEVICE / EMULATED CLOUD / EMULATED NETWORK', page)
    assert "no physical device was tested" in page and "device: qr-mangles-utf8" in page
    assert '<span class="muted">Pairing modes</span> QR, AP</span>' in page
    assert '<span class="muted">Does not support</span> power cycle</span>' in page
    assert "gw0: cam-a; gw1: cam-b" in page and "MIIB" not in page and "lab CA certificate" in page
    first = page.index('id="failures"')
    assert first < page.index('id="device"') < page.index('id="tcs"') < page.index('id="traceability"')
    failure = re.search(r'<li class="fail" data-verdict="FAIL">(.*?)</li>', page, re.S)
    assert failure is not None and "TC-QR-001" in failure.group(1)
    assert "Observed</span>decoded &lt;b&gt;bytes&lt;/b&gt; differ" in failure.group(1)  # no exception class name
    assert 'href="#evidence-1"' in failure.group(1) and 'id="evidence-1"' in page
    assert "Required</span><span class=\"mono\">REQ-QR-001</span>" in failure.group(1)
    assert page.index('data-verdict="FAIL"') < page.index('data-verdict="ERROR"')  # FAIL first, then ERROR
    assert not PYTHON_REPR.search(html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_a_parametrised_tc_is_one_row_with_its_requirement_once_and_its_cases_below() -> None:
    results = [Result("TC-AP-001", verdict, f"suites/test_ap.py::test_frames[{case}]", "ap", 0.1,
                              ["REQ-AP-001"], message, title="the device pairs from a legacy frame")
               for case, verdict, message in (("compact", "PASS", ""), ("spaced", "FAIL", "AssertionError: refused"),
                                              ("ascii-escaped", "PASS", ""))]
    page = render_html(sample_summary(results), Path("/nonexistent"))
    assert page.count('id="tc-TC-AP-001" data-verdict="FAIL"') == 1
    table = page[page.index('id="tcs"'):page.index('id="traceability-section"')]
    assert table.count("A device that claims the legacy variant pairs from a 55AA AP frame") == 1
    assert re.findall(r'data-case-verdict="(\w+)">([\w-]+) ', page) == [
        ("PASS", "ascii-escaped"), ("PASS", "compact"), ("FAIL", "spaced")]
    assert "The device pairs from a legacy frame" in page  # the recorded title, as a sentence
    assert "[spaced]</span> <span class=\"msg\">refused</span>" in page


def test_a_passing_tc_is_one_line_on_screen_and_whole_in_print_a_failing_one_is_open() -> None:
    results = [Result("TC-AP-001", "PASS", f"suites/test_ap.py::test_frames[{case}]", "ap", 0.1, ["REQ-AP-001"], "",
                      title="the device pairs from a legacy frame") for case in ("compact", "spaced")]
    results.append(Result("TC-AP-002", "FAIL", "suites/test_ap.py::test_lpv35", "ap", 0.1, ["REQ-AP-002"],
                          "AssertionError: no answer", title="the device answers an LPV 3.5 frame"))
    page = render_html(sample_summary(results), Path("/nonexistent"))
    passing = re.search(r'id="tc-TC-AP-001" data-verdict="PASS"><details>\s*<summary>(.*?)</summary>(.*?)</details>',
                        page, re.S)
    assert passing is not None  # closed: its title line shows, the rest one click away
    assert "The device pairs from a legacy frame" in passing.group(1) and "2 cases" in passing.group(1)
    folded = passing.group(2)
    assert "A device that claims the legacy variant" in folded and 'data-case-verdict="PASS"' in folded
    failing = re.search(r'id="tc-TC-AP-002" data-verdict="FAIL"><details open>\s*<summary>(.*?)</summary>', page, re.S)
    assert failing is not None and "no answer" in failing.group(1)  # a failure's headline is never folded away
    assert "details::details-content { content-visibility: visible; display: block; }" in page  # printed whole


def _result(tc: str, verdict: str, case: str = "") -> Result:
    return Result(tc, verdict, f"suites/test_x.py::test_{tc.lower()}" + (f"[{case}]" if case else ""), "qr")


def test_compare_lists_regressions_fixes_new_and_removed_tcs() -> None:
    old = sample_summary([_result("TC-QR-001", "PASS", "a"), _result("TC-QR-001", "PASS", "b"),
                          _result("TC-QR-002", "FAIL"), _result("TC-QR-003", "N/A"), _result("TC-QR-004", "PASS")],
                         run_id="old-run")
    new = sample_summary([_result("TC-QR-001", "PASS", "a"), _result("TC-QR-001", "FAIL", "b"),
                          _result("TC-QR-002", "PASS"), _result("TC-QR-003", "ERROR"), _result("TC-QR-005", "PASS")],
                         run_id="new-run")
    diff = compare(old, new)
    assert [(c.label, c.old, c.new) for c in diff.regressions] == [("TC-QR-001 [b]", "PASS", "FAIL"),
                                                                   ("TC-QR-003", "N/A", "ERROR")]
    assert [(c.label, c.old, c.new) for c in diff.fixes] == [("TC-QR-002", "FAIL", "PASS")]
    assert (diff.new_tcs, diff.removed_tcs, diff.changed) == (["TC-QR-005"], ["TC-QR-004"], [])
    new.comparison = diff.to_json()
    page = render_html(summary_from_json(new.to_json()), Path("/nonexistent"))
    assert re.search(r"regression</span> <span class=\"mono\">TC-QR-001 \[b\]</span> PASS → FAIL", page)
    assert page.index('id="comparison"') < page.index('id="tcs"')  # on page 1


def _run_with(directory: Path, run_id: str, results: list[Result]) -> Path:
    run = directory / run_id
    run.mkdir(parents=True)
    summary = sample_summary(results, run_id=run_id)
    summary.save(run / "summary.json")
    write_html(summary, run)
    write_manifest(run, run_id=run_id)
    return run


def test_report_compare_prints_the_changes_and_exits_1_on_a_regression(tmp_path: Path) -> None:
    old = _run_with(tmp_path, "20250101T000000000Z-aaaaaa",
                    [_result("TC-QR-001", "PASS"), _result("TC-QR-002", "FAIL")])
    new = _run_with(tmp_path, "20250102T000000000Z-bbbbbb",
                    [_result("TC-QR-001", "FAIL"), _result("TC-QR-002", "PASS")])
    done = CliRunner().invoke(report_cli.cli_command, ["--compare", str(old), str(new)])
    assert done.exit_code == 1, done.output
    assert "regression: TC-QR-001 PASS -> FAIL" in done.output and "fixed: TC-QR-002 FAIL -> PASS" in done.output
    done = CliRunner().invoke(report_cli.cli_command, ["--compare", str(new), str(new)])
    assert done.exit_code == 0 and "no verdict changed" in done.output
    assert CliRunner().invoke(report_cli.cli_command, ["--compare", str(old), str(tmp_path / "none")]).exit_code == 2


@pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")
def test_report_pdf_prints_the_certificate_on_a4_with_each_section_on_new_pages(run_dir: Path) -> None:
    import pypdf

    summary = load_summary(run_dir / "summary.json")
    summary.adapters["device"] = {"adapter": "emulated"}
    summary.save(run_dir / "summary.json")
    write_manifest(run_dir, run_id=summary.run_id)
    done = CliRunner().invoke(report_cli.cli_command, [str(run_dir), "--pdf"])
    assert done.exit_code == 0, done.output
    pages = [page.extract_text() for page in pypdf.PdfReader(run_dir / "report.pdf").pages]
    box = pypdf.PdfReader(run_dir / "report.pdf").pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)  # A4, in mm
    assert "FAIL" in pages[0] and "EMULATED DEVICE" in pages[0] and "What did not pass" in pages[0]
    starts = {title: next(i for i, text in enumerate(pages) if title in text)
              for title in ("Test cases", "Traceability", "Evidence of what did not pass")}
    assert 0 < starts["Test cases"] < starts["Traceability"] < starts["Evidence of what did not pass"]
    # each section opens a new page: its title is at the top, under the margin's line (a figure's caption may
    # come first in the text of the evidence)
    tops = {title: pages[i].split("\n", 1)[1].splitlines()[:2] for title, i in starts.items()}
    assert all(any(line.startswith(title) for line in top) for title, top in tops.items()), tops
    assert all(text.startswith(f"page {n} of {len(pages)}EMULATED DEVICE / EMULATED CLOUD / EMULATED NETWORK: "
                               "NOT A CERTIFICATE OF A DEVICE") for n, text in enumerate(pages, start=1))
    assert verify_manifest(run_dir).ok  # the PDF is part of the bundle


def test_report_pdf_without_chromium_says_why_and_writes_nothing(run_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(run_dir))  # no chromium on it
    done = CliRunner().invoke(report_cli.cli_command, [str(run_dir), "--pdf"])
    assert done.exit_code == 2 and "Chromium is not installed" in done.output and "apt-get install" in done.output
    assert not (run_dir / "report.pdf").exists() and verify_manifest(run_dir).ok
