"""A test's evidence as written: the timeline, texts and images each redacted once, QR images redrawn redacted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from PIL import Image

from harness.adapters.contracts import DeviceEvent
from harness.app.activator import ActivatorMode
from harness.evidence import EvidenceRecorder, activate, for_people, step
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
    # the header line, then per entry its five keys, its wall time, kind, name, and the details' one key and value:
    # once each
    assert redactor.texts == 1 + 2 * (5 + 3 + 2)


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_virtual_timeline_reads_as_wall_time_with_the_virtual_offset_beside_it(tmp_path: Path) -> None:
    clock = _Clock(1_700_000_000.0)
    recorder = EvidenceRecorder("TC-TOKEN-001", "node", now=clock, virtual=True)
    recorder.record("step", "get token", {}, wall=1_767_225_600.0)  # 2026-01-01T00:00:00Z
    recorder.record("device", "qr-decoded", {"length": 47}, wall=1_767_225_600.25)
    clock.t += 600
    recorder.record("activator", "outcome", {"code": 3718}, wall=1_767_225_600.5)
    recorder.write(tmp_path)
    lines = (tmp_path / "timeline.txt").read_text(encoding="utf-8").splitlines()
    assert lines[2:] == [
        "2026-01-01T00:00:00.000Z      +0.000 s  step       get token",
        '2026-01-01T00:00:00.250Z      +0.000 s  device     qr-decoded {"length": 47}',
        '2026-01-01T00:00:00.500Z    +600.000 s  activator  outcome {"code": 3718}',
    ]
    entries = json.loads((tmp_path / "timeline.json").read_text(encoding="utf-8"))
    assert [(e["wall"], e["offset_s"]) for e in entries] == [
        ("2026-01-01T00:00:00.000Z", 0.0), ("2026-01-01T00:00:00.250Z", 0.0), ("2026-01-01T00:00:00.500Z", 600.0)]


def test_a_real_time_timeline_has_wall_times_only_and_device_events_interleave_by_wall_time(tmp_path: Path) -> None:
    recorder = EvidenceRecorder("TC-X-001", "node", now=_Clock(1_767_225_600.0))
    recorder.record("step", "present qr", {}, wall=1_767_225_600.0)
    recorder.add_device_events([DeviceEvent(at=1_767_225_600.0, name="prompt-sound", wall=None)])
    recorder.write(tmp_path)
    lines = (tmp_path / "timeline.txt").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == ["2026-01-01T00:00:00.000Z  step       present qr",
                         "2026-01-01T00:00:00.000Z  device     prompt-sound"]
    assert "offset_s" not in json.loads((tmp_path / "timeline.json").read_text(encoding="utf-8"))[0]


def test_a_test_keeps_the_device_events_from_its_start_on_out_of_the_devices_whole_history() -> None:
    recorder = EvidenceRecorder("TC-X-001", "node", now=_Clock(1_000.0))
    history = [DeviceEvent(at=float(t), name=f"event-{t}", wall=None) for t in range(1_000)]
    recorder.add_device_events(history, since=997.0)
    recorder.add_device_events((e for e in history), since=999.0)  # any iterable; event-999 is not kept twice
    assert [e.name for e in recorder.timeline] == ["event-997", "event-998", "event-999"]
    recorder.add_device_events(history[:3])
    assert [e.name for e in recorder.timeline][:3] == ["event-0", "event-1", "event-2"]


@dataclasses.dataclass
class _Licence:
    uuid: str
    auth_key: str


def test_values_are_shown_for_people_never_as_python_reprs() -> None:
    shown = for_people({"ssid": b"open caf\xc3\xa9", "raw": b"\xff\x00", "image": render_qr("x"),
                        "licence": _Licence("uuid1", "secret"), "mode": ActivatorMode.QR, "list": (1, b"a")})
    assert shown == {"ssid": "open café", "raw": "2 bytes 0xff00", "image": "image 232×232 (1)",
                     "licence": {"uuid": "uuid1", "auth_key": MASK}, "mode": "qr", "list": [1, "a"]}
    assert for_people(object()) == "object"


def test_steps_record_their_arguments_for_people(tmp_path: Path) -> None:
    class Adapter:
        name = "lab"

        @step
        def present(self, image: Any, ssid: bytes, password: str) -> None:
            return None

    recorder = EvidenceRecorder("TC-X-001", "node")
    activate(recorder)
    try:
        Adapter().present(render_qr("x"), b"caf\xc3\xa9", "pw")
    finally:
        activate(None)
    recorder.write(tmp_path)
    text = (tmp_path / "timeline.txt").read_text(encoding="utf-8")
    assert '"image": "image 232×232 (1)"' in text and '"ssid": "café"' in text and '"password": "«redacted»"' in text
    assert " at 0x" not in text and "b'" not in text
