"""No secret leaves a ``paircert run``: sentinel secrets planted through a profile's ``env:`` references, in a run
that fails against a fault of the zoo (suites/faults/camera.toml), are found in no file of the run directory in any
spelling (plain, JSON-escaped, URL-encoded, HTML-escaped, base64 at any offset, hex, UTF-16, inside QR images, also
inlined in report.html), nor on the console, nor in the certificate printed to PDF (its text and its pictures); and
what the run writes is private (0600) until the sweep checked it, 0644 after.

Run through the ``paircert`` command in a subprocess, as a user runs it.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import secrets
import urllib.parse
from pathlib import Path

import markupsafe
import pypdf
from _zoo import catalogue
from PIL import Image

from harness.profiles import load_profile
from harness.qrimage import decode_qr
from harness.redaction import MASK
from harness.report.pdf import chromium_missing
from tests._report_helpers import latest_run, run_paircert, write_suites

FAULT = "no-prompt-sound"  # TC-QR-006 fails, with the pairing QR (it encodes the lab's Wi-Fi password) as evidence
_DATA_URI = re.compile(rb"data:image/[A-Za-z0-9.+-]+;base64,([A-Za-z0-9+/]+={0,2})")


def _base64_anywhere(raw: bytes) -> set[bytes]:
    """The base64 characters that ``raw`` alone decides, at each byte offset modulo 3, standard and URL-safe."""
    found = set()
    for offset in range(3):
        first, last = -(-8 * offset // 6), (8 * (offset + len(raw)) - 6) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.add(encode(bytes(offset) + raw + bytes(3))[first:last + 1])
    return found


def _spellings(secret: str) -> dict[bytes, str]:
    raw = secret.encode()
    forms = {
        raw: "plain", json.dumps(secret)[1:-1].encode(): "JSON", json.dumps(secret, ensure_ascii=False)[1:-1].encode():
        "JSON", urllib.parse.quote(secret, safe="").encode(): "URL", urllib.parse.quote_plus(secret).encode(): "URL",
        raw.hex().encode(): "hex", raw.hex().upper().encode(): "HEX", secret.encode("utf-16-le"): "UTF-16LE",
        secret.encode("utf-16-be"): "UTF-16BE",
    }
    forms.update({form: "base64" for form in _base64_anywhere(raw)})
    forms.update({html.escape(secret).encode(): "HTML", str(markupsafe.escape(secret)).encode(): "HTML"})
    return forms


def _qr_payloads(image: bytes) -> list[bytes]:
    try:
        with Image.open(io.BytesIO(image)) as opened:
            opened.load()
            return decode_qr(opened, backend="zbar") + decode_qr(opened, backend="zxing")
    except (OSError, SyntaxError, ValueError):
        return []


def _images(data: bytes) -> list[bytes]:
    found = [data] if data.startswith(b"\x89PNG") else []
    for match in _DATA_URI.finditer(data):
        try:
            found.append(base64.b64decode(match.group(1), validate=True))
        except binascii.Error:
            continue
    return found


def _leaks(name: str, data: bytes, sentinels: list[str]) -> list[str]:
    payloads = [payload for image in _images(data) for payload in _qr_payloads(image)]
    leaks = []
    for secret in sentinels:
        for form, spelling in _spellings(secret).items():
            leaks += [f"{name}: {spelling}" for blob in (data, *payloads) if form in blob]
    return leaks


def _pdf_leaks(path: Path, sentinels: list[str]) -> list[str]:
    """What the printed certificate shows: the text of every page, and every QR code in its pictures."""
    reader = pypdf.PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "paircert conformance" in text and "TC-QR-006" in text
    images = [image.data for page in reader.pages for image in page.images]
    payloads = [payload for data in images for payload in _qr_payloads(data)]
    assert payloads and all(MASK.encode() in payload for payload in payloads)  # the QR printed, redacted
    return _leaks("report.pdf (text)", text.encode(), sentinels) + [
        leak for payload in payloads for leak in _leaks("report.pdf (a QR code)", payload, sentinels)]


def _sentinel_profile(directory: Path) -> tuple[Path, dict[str, str]]:
    fault = next(f for f in catalogue() if f.name == FAULT and f.kind == "camera")
    text = Path(load_profile(fault.profile).path or "").read_text(encoding="utf-8")
    token = secrets.token_hex(6)
    env = {"SENTINEL_WIFI": f"S3ntinel/w\"ï&fi<'+{token}", "SENTINEL_UUID": f"sentineluuid{token}",
           "SENTINEL_AUTHKEY": f"SentinelAuthKey{token}{token}"}
    adapters = ('[parameters.wifi]\nssid = "sentinel-lab"\npassword = "env:SENTINEL_WIFI"\n\n'
                '[parameters.licence]\nuuid = "env:SENTINEL_UUID"\nauthkey = "env:SENTINEL_AUTHKEY"\n\n[adapters]')
    text = text.replace("[adapters]", adapters).replace(
        'device = "emulated"', f'device = {{ name = "emulated", args = {{ faults = ["{FAULT}"] }} }}')
    assert FAULT in text and "env:SENTINEL_WIFI" in text
    path = directory / "sentinel-camera.toml"
    path.write_text(text, encoding="utf-8")
    return path, env


def test_no_sentinel_secret_is_in_any_file_of_a_failing_run_in_any_spelling(tmp_path: Path) -> None:
    profile, env = _sentinel_profile(tmp_path)
    reports = tmp_path / "reports"
    done = run_paircert("run", "--profile", str(profile), "--suite", "qr", "-k", "prompt", "--report-dir",
                        str(reports), "--no-progress", env=env, timeout=100)
    assert done.returncode == 1, done.stdout + done.stderr
    run_dir = latest_run(reports)
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["tc"], r["verdict"]) for r in results] == [("TC-QR-006", "FAIL")]
    sentinels = list(env.values())
    leaks = _leaks("console", (done.stdout + done.stderr).encode(), sentinels)
    if chromium_missing() is None:  # the certificate printed too: its text and its pictures
        printed = run_paircert("report", "--pdf", str(run_dir), timeout=180)
        assert printed.returncode == 0, printed.stdout + printed.stderr
        leaks += _pdf_leaks(run_dir / "report.pdf", sentinels)
    files = sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())
    assert len(files) > 10
    leaks += [leak for path in files for leak in _leaks(str(path.relative_to(run_dir)), path.read_bytes(), sentinels)]
    assert leaks == []
    html = (run_dir / "report.html").read_bytes()
    inlined = [payload for image in _images(html) for payload in _qr_payloads(image)]
    assert inlined and all(MASK.encode() in payload for payload in inlined)  # the QR was there, redrawn redacted
    modes = {str(p.relative_to(run_dir)): p.stat().st_mode & 0o777 for p in [run_dir, *run_dir.rglob("*")]
             if not p.is_symlink()}
    assert {name: mode for name, mode in modes.items() if mode != (0o755 if (run_dir / name).is_dir() else 0o644)
            } == {}


PRIVATE_SUITE = '''
import os
from pathlib import Path

import pytest


@pytest.mark.tc("TC-LICENCE-001", reqs=["REQ-LICENCE-001"])
def test_what_the_run_writes_is_private_until_swept(pytestconfig):
    path = Path(pytestconfig.getoption("--paircert-report-dir")) / "evidence" / "scratch.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the key is " + os.environ["SENTINEL_KEY"])
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert (Path(pytestconfig.getoption("--paircert-report-dir")) / "pytest.log").stat().st_mode & 0o777 == 0o600
'''


def test_what_a_run_writes_is_0600_until_the_sweep_checked_it_and_0644_after(tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", {"licence": PRIVATE_SUITE})
    profile = tmp_path / "private-camera.toml"
    text = Path(load_profile("camera-strong").path or "").read_text(encoding="utf-8")
    profile.write_text(text.replace("[adapters]", '[parameters.wifi]\nssid = "lab"\npassword = "env:SENTINEL_KEY"'
                                                  "\n\n[adapters]"), encoding="utf-8")
    key = f"private-sentinel-{secrets.token_hex(6)}"
    done = run_paircert("run", "--profile", str(profile), "--suites-dir", str(suites), "--report-dir",
                        str(tmp_path / "reports"), "--no-progress", env={"SENTINEL_KEY": key}, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    scratch = latest_run(tmp_path / "reports") / "evidence" / "scratch.txt"
    assert scratch.read_text(encoding="utf-8") == f"the key is {MASK}"
    assert (scratch.stat().st_mode & 0o777, scratch.parent.stat().st_mode & 0o777) == (0o644, 0o755)
