"""The real-device path end to end, on loopback and with no in-process shortcut (issue "a lab technician certifies a
camera"): `paircert cloud serve` and `paircert device serve` in their own processes, a profile whose hooks drive
the camera process with curl, `paircert run --cloud remote --device operator`. Heavy: marked ``realpath``.

This module is the whole run of a correct camera; tests/test_realpath_blocked.py has the runs that a lab or a
camera gets in the way of (two modules, so that ``make test`` runs them side by side: they mostly wait)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _realpath import WIFI_PASSWORD, Lab, check_profile, latest, paircert_run, start_lab, write_profile
from PIL import Image

from harness.qrimage import decode_qr
from harness.redaction import MASK
from harness.report.manifest import verify_manifest
from harness.report.summary import load_summary

pytestmark = [pytest.mark.realpath, pytest.mark.timeout(400)]

# Why a test may not PASS on this path, and nothing else: the camera process hears no EZ (the hooks network adapter
# has no lab interface), the lab cloud runs on real time (no time travel), and the profile claims strong binding
# only, no binding by UUID and no BLE (the lab reaches the camera process by Wi-Fi only). Every network a test
# needs is made by the hooks network adapter through the camera process's /networks routes.
ALLOWED = {
    "N/A": ("network adapter does not offer the capability 'send-ez'", "claims binding mode 'strong'",
            "cloud adapter does not offer the capability 'time-travel'", "does not claim binding by UUID",
            "does not claim pairing mode 'ble'"),
    "INCONCLUSIVE": (),
}
# The tests that make networks of their own: every one of them runs on this path.
NETWORK_MAKING = {"TC-QR-002", "TC-QR-004", "TC-FUZZ-001", "TC-FUZZ-002", "TC-AP-001"}


@pytest.fixture
def pool_lab(tmp_path: Path) -> Iterator[Lab]:
    """Two units of the camera on the bench, for a run of two workers (each its own camera and licence)."""
    lab = start_lab(tmp_path, units=2)
    try:
        yield lab
    finally:
        lab.stop()


def test_a_correct_camera_passes_every_suite_it_can_on_the_real_path(pool_lab: Lab, tmp_path: Path) -> None:
    lab = pool_lab
    profile = write_profile(lab, tmp_path / "acme-cam.toml")
    checked = check_profile(lab, profile)
    assert checked.returncode == 0 and "ok: " in checked.stdout, checked.stdout + checked.stderr
    done = paircert_run(lab, profile, tmp_path / "reports", "-n", "2")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    run_dir = latest(tmp_path / "reports")
    summary = load_summary(run_dir / "summary.json")
    assert summary.counts["FAIL"] == summary.counts["ERROR"] == 0
    assert summary.counts["PASS"] >= 60 and not summary.not_run and not summary.interrupted
    for result in summary.results:
        if result.verdict != "PASS":
            assert any(why in result.message for why in ALLOWED[result.verdict]), (result.tc, result.message)
    passed = {r.tc for r in summary.results if r.verdict == "PASS"}
    # a strong camera paired into account after account: each test found it released by the previous owner
    assert {"TC-BINDING-001", "TC-BINDING-002", "TC-QR-007", "TC-LICENCE-001", "TC-MQTT-006", "TC-AP-004"} <= passed
    assert "TC-FUZZ-005" in passed  # the lifecycle model, counted in examples, on real time
    made = [r for r in summary.results if r.tc in NETWORK_MAKING]
    assert made and all(r.verdict == "PASS" or (r.verdict == "N/A" and r.nodeid.endswith(("[ez]", "[ble]")))
                        for r in made), [(r.nodeid, r.verdict, r.message) for r in made]
    assert passed >= NETWORK_MAKING
    assert verify_manifest(run_dir).ok
    # the QR the operator showed is in the evidence with the password masked; the PNGs themselves are gone
    shown = next(run_dir.glob("evidence/TC-QR-007/qr_shown_to_the_device.png"))
    [text] = decode_qr(Image.open(shown))
    assert json.loads(text)["p"] == MASK and WIFI_PASSWORD.encode() not in shown.read_bytes()
    assert not [p for p in Path("/tmp").glob("paircert-run-*/operator-qr-*/*.png")
                if str(lab.licence["uuid"]) in p.read_text(errors="ignore")]
