"""A test's evidence as written: the timeline, texts and images each redacted once, QR images redrawn redacted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from harness.evidence import EvidenceRecorder
from harness.qrimage import decode_qr, render_qr
from harness.redaction import MASK, Redactor

WIFI = "evidence-wifi-password"


class CountingRedactor(Redactor):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__(secrets)
        self.texts = 0
        self.images = 0

    def redact(self, text: str) -> str:
        self.texts += 1
        return super().redact(text)

    def redact_image(self, data: bytes) -> bytes:
        self.images += 1
        return super().redact_image(data)


def test_written_evidence_holds_no_secret_and_the_qr_is_redrawn_redacted(tmp_path: Path) -> None:
    redactor = CountingRedactor([WIFI])
    recorder = EvidenceRecorder("TC-QR-006", "suites/test_qr.py::test_x", redactor=redactor, now=lambda: 1.0)
    recorder.note("joined", ssid="lab", detail=f"with {WIFI}", password="never-registered")
    recorder.attach_image("qr", render_qr(json.dumps({"s": "lab", "p": WIFI})))
    recorder.attach_text("qr-text", json.dumps({"s": "lab", "p": WIFI}))
    recorder.write(tmp_path)
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert WIFI.encode() not in data and b"never-registered" not in data, path.name
    assert decode_qr(Image.open(tmp_path / "qr.png")) == [json.dumps({"s": "lab", "p": MASK},
                                                                     ensure_ascii=False).encode()]
    timeline: list[dict[str, Any]] = json.loads((tmp_path / "timeline.json").read_text(encoding="utf-8"))
    note = next(entry for entry in timeline if entry["name"] == "joined")
    assert note["details"] == {"ssid": "lab", "detail": f"with {MASK}", "password": MASK}
    assert f"with {MASK}" in (tmp_path / "timeline.txt").read_text(encoding="utf-8")
    recorder.write(tmp_path / "again")  # the image is decoded once, for the evidence and Allure both
    assert redactor.images == 1


def test_each_string_of_the_timeline_is_redacted_once_when_written(tmp_path: Path) -> None:
    redactor = CountingRedactor([WIFI])
    recorder = EvidenceRecorder("TC-X-001", "node", redactor=redactor, now=lambda: 1.0)
    recorder.note("a", text="one")
    recorder.note("b", text="two")
    recorder.write(tmp_path)
    # the header line, then per entry its four keys, kind, name, and the details' one key and value: once each
    assert redactor.texts == 1 + 2 * (4 + 2 + 2)
