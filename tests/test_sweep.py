"""The secret sweep of a run directory: every file and every inlined image checked, cleaned in place, made 0644;
packet captures keep their framing; a second sweep skips what the first found clean."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.qrimage import decode_qr, render_qr
from harness.redaction import MASK, MASK_BYTE, Redactor
from harness.report import sweep as sweep_module
from harness.report.sweep import DIR_MODE, FILE_MODE, SweepRedactor, sweep_directory, sweep_file

SECRET = "Sweep-Sentinel-0123456789"


def _png(text: str) -> bytes:
    buffer = io.BytesIO()
    render_qr(text).save(buffer, format="PNG")
    return buffer.getvalue()


def _data_uri(png: bytes) -> bytes:
    return b"data:image/png;base64," + base64.b64encode(png)


class CountingRedactor(SweepRedactor):
    """Counts the images it is asked to look at (the costly part: decoding QR codes)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(secrets)
        self.images = 0

    def redact_image(self, data: bytes) -> bytes:
        self.images += 1
        return super().redact_image(data)


def test_an_inlined_qr_image_that_encodes_a_secret_is_redrawn_inside_the_html(tmp_path: Path) -> None:
    leaking, harmless = _png(json.dumps({"s": "lab", "p": SECRET})), _png("harmless")
    html = (b"<html><p>" + SECRET.encode() + b'</p><img src="' + _data_uri(leaking) + b'"><img src="'
            + _data_uri(harmless) + b'"></html>')
    (tmp_path / "report.html").write_bytes(html)
    assert sweep_directory(tmp_path, SweepRedactor([SECRET])).changed == ["report.html"]
    swept = (tmp_path / "report.html").read_bytes()
    uris = re.findall(rb'src="data:image/png;base64,([^"]+)"', swept)
    images = [decode_qr(Image.open(io.BytesIO(base64.b64decode(uri)))) for uri in uris]
    assert images == [[json.dumps({"s": "lab", "p": MASK}, ensure_ascii=False).encode()], [b"harmless"]]
    assert _data_uri(harmless) in swept and SECRET.encode() not in swept and f"<p>{MASK}</p>".encode() in swept


def test_a_packet_capture_keeps_its_length(tmp_path: Path) -> None:
    pcap = b"\xd4\xc3\xb2\xa1" + bytes(20) + b"GET /?key=" + SECRET.encode() + b" HTTP/1.1\r\n"
    (tmp_path / "traffic.pcap").write_bytes(pcap)
    assert sweep_file(tmp_path / "traffic.pcap", Redactor([SECRET]))
    assert (tmp_path / "traffic.pcap").read_bytes() == pcap.replace(SECRET.encode(), MASK_BYTE * len(SECRET))


def test_a_secret_across_read_chunks_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "_CHUNK", 64)
    for offset in range(40, 70):
        path = tmp_path / f"log-{offset}.txt"
        path.write_bytes(b"x" * offset + base64.b64encode(SECRET.encode()) + b"y" * 100)
        assert sweep_file(path, Redactor([SECRET])), offset
        assert path.read_bytes() == b"x" * offset + MASK.encode() + b"y" * 100


def test_a_second_sweep_skips_files_and_images_the_first_found_clean(tmp_path: Path) -> None:
    qr = _png("a clean evidence QR")
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "qr.png").write_bytes(qr)
    (tmp_path / "evidence" / "timeline.txt").write_text(f"password {SECRET}")
    (tmp_path / "junit.xml").write_text("<testsuite/>")
    redactor = CountingRedactor([SECRET])
    first = sweep_directory(tmp_path, redactor)
    assert (first.searched, first.skipped, first.changed, redactor.images) == (3, 0, ["evidence/timeline.txt"], 1)
    (tmp_path / "report.html").write_bytes(b'<img src="' + _data_uri(qr) + b'"> ' + SECRET.encode())
    second = sweep_directory(tmp_path, redactor, since=first)
    assert (second.searched, second.skipped, second.changed, redactor.images) == (1, 3, ["report.html"], 1)
    redactor.add("a-secret-learned-later")
    third = sweep_directory(tmp_path, redactor, since=second)  # the earlier verdicts no longer hold
    assert (third.searched, third.skipped, redactor.images) == (4, 0, 2)  # one image, in two files


def test_swept_files_are_0644_and_directories_0755_and_links_are_not_followed(tmp_path: Path) -> None:
    run_dir, outside = tmp_path / "run", tmp_path / "outside.txt"
    (run_dir / "evidence").mkdir(parents=True)
    outside.write_text(SECRET)
    (run_dir / "evidence" / "note.txt").write_text(SECRET)
    os.chmod(run_dir / "evidence" / "note.txt", 0o600)
    os.chmod(run_dir / "evidence", 0o700)
    (run_dir / "evidence" / "link.txt").symlink_to(outside)
    sweep_directory(run_dir, SweepRedactor([SECRET]))
    assert (run_dir / "evidence" / "note.txt").stat().st_mode & 0o777 == FILE_MODE
    assert (run_dir / "evidence" / "note.txt").read_text() == MASK
    assert {(run_dir / "evidence").stat().st_mode & 0o777, run_dir.stat().st_mode & 0o777} == {DIR_MODE}
    assert outside.read_text() == SECRET


@pytest.mark.parametrize("workers", [1, 4])
def test_the_sweep_gives_the_same_result_however_many_files_it_checks_at_once(tmp_path: Path, workers: int) -> None:
    names = [f"f{n:02d}.txt" for n in range(20)]
    for n, name in enumerate(names):
        (tmp_path / name).write_text(f"{n} {SECRET if n % 3 == 0 else 'nothing'}")
    report: Any = sweep_directory(tmp_path, SweepRedactor([SECRET]), workers=workers)
    assert report.changed == [name for n, name in enumerate(names) if n % 3 == 0]
    assert all(SECRET not in (tmp_path / name).read_text() for name in names)
