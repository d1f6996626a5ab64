"""A person at the bench, through a pseudo-terminal: ``paircert run`` keeps its terminal and shows the operator
adapter's prompt with the TC id, the step, the run's progress and a countdown; the person does what it says
(holds the QR code up to the camera) and types an answer, and the run takes it and goes on. Nothing but the
prompts and the progress reaches the screen (no thread dump, no traceback).

The camera is `paircert device serve` and the cloud `paircert cloud serve`, each in its own process; the profile
has hooks for everything but the QR code, so that one step must ask a person."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from _realpath import PAIRCERT, Lab, start_lab, write_profile

from harness.report.summary import load_summary

pytestmark = [pytest.mark.realpath, pytest.mark.timeout(240)]

PROMPT = re.compile(r">>> \[(TC-[A-Z]+-\d{3}) · test (\d+) of (\d+) · qr\] Hold the QR code in front of the camera, "
                    r"then press Enter")
SAVED = re.compile(r"QR code for the camera \(also saved as (\S+\.png)\):")
COUNTDOWN = re.compile(r"(\d+) s left, press Enter when done")
ANSWER = "shown, the camera chimed"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = start_lab(tmp_path)
    try:
        yield lab
    finally:
        lab.stop()


def _hold_up(lab: Lab, png: Path) -> None:
    """What the person does: hold the QR code the screen shows in front of the camera."""
    request = urllib.request.Request(f"{lab.control}/qr", data=png.read_bytes(), method="POST",
                                     headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["outcome"] == "captured"


def test_a_person_at_a_terminal_is_prompted_with_the_tc_progress_and_countdown(lab: Lab, tmp_path: Path) -> None:
    profile = write_profile(lab, tmp_path / "acme-cam.toml", interactive=True)
    reports = tmp_path / "reports"
    child = pexpect.spawn(str(PAIRCERT), ["run", "--profile", str(profile), "--cloud", "remote", "--device",
                                          "operator", "--report-dir", str(reports), "--tc", "TC-QR-007"],
                          env={**lab.env, "COLUMNS": "200", "LINES": "60", "TERM": "xterm"}, cwd=str(lab.root),
                          encoding="utf-8", codec_errors="replace", dimensions=(60, 200), timeout=90)
    screen: list[str] = []
    try:
        child.expect(SAVED)
        png = Path(child.match.group(1))
        screen.append(child.before + child.after)
        child.expect(PROMPT)
        tc, number, total = child.match.groups()
        screen.append(child.before + child.after)
        assert "▀" in screen[-1] and "▄" in screen[-1]  # the QR code drawn on the terminal, above the prompt
        child.expect(COUNTDOWN)
        left = int(child.match.group(1))
        assert 0 < left <= 30  # the profile's prompt_timeout_s
        _hold_up(lab, png)
        child.sendline(ANSWER)
        child.expect(">>> thanks: going on")
        child.expect(pexpect.EOF, timeout=120)
        screen.append(child.before)
    finally:
        if child.isalive():
            child.terminate(force=True)
        child.close()
    assert (tc, number, total) == ("TC-QR-007", "1", "1")
    text = "".join(screen)
    assert child.exitstatus == 0, text[-3000:]
    for noise in ("Traceback", "Thread 0x", "Stack of", "Timeout", "INTERNALERROR", "most recent call"):
        assert noise not in text, f"{noise!r} on the operator's screen:\n{text[-3000:]}"
    run_dir = (reports / "latest").resolve()
    [result] = load_summary(run_dir / "summary.json").results
    assert (result.tc, result.verdict) == ("TC-QR-007", "PASS"), result
    timeline = next(run_dir.glob("evidence/TC-QR-007/**/timeline.json")).read_text(encoding="utf-8")
    assert ANSWER in timeline  # the typed answer, as the person gave it, in the test's evidence
