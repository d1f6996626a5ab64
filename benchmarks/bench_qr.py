"""QR render and decode cost per payload, for both decoder backends (report only, no budget).

Three fixed payloads: plain ASCII, a 32-byte UTF-8 SSID, and a 64-character password. For each, the median
over ``REPEATS`` runs of: rendering the QR image, decoding it with zbar (binary mode) and with zxing-cpp,
and the resulting render + decode throughput. Every decode is checked to return the exact UTF-8 bytes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks._common import row
from harness.protocol.qr import QrPayload
from harness.qrimage import Backend, decode_qr, render_qr

REPEATS = 100
BACKENDS: tuple[Backend, ...] = ("zbar", "zxing")

PAYLOADS = {
    "ascii": QrPayload("HomeNet", "hunter22", "EUAbCd1234WWB3"),
    "utf8_ssid_32_bytes": QrPayload("Café日本語ネット😀WiFi!", "p@ss w0rd!", "AY8xK2mP9qZz01"),
    "password_64_chars": QrPayload("vtrust-flash", "0123456789abcdef" * 4, "US000000000101"),
}


def _median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 3)


def run() -> dict[str, Any]:
    assert len(PAYLOADS["utf8_ssid_32_bytes"].ssid.encode("utf-8")) == 32
    per_payload: dict[str, dict[str, Any]] = {}
    exact = True
    for name, payload in PAYLOADS.items():
        data = payload.to_bytes()
        image = render_qr(data)
        for backend in BACKENDS:
            exact &= decode_qr(image, backend=backend) == [data]
        render_ms = _median_ms(partial(render_qr, data))
        zbar_ms = _median_ms(partial(decode_qr, image, backend="zbar"))
        zxing_ms = _median_ms(partial(decode_qr, image, backend="zxing"))
        per_payload[name] = {
            "bytes": len(data),
            "image_px": image.width,
            "render_ms": render_ms,
            "zbar_decode_ms": zbar_ms,
            "zxing_decode_ms": zxing_ms,
            "render_zbar_payloads_per_s": round(1000 / (render_ms + zbar_ms), 1),
            "render_zxing_payloads_per_s": round(1000 / (render_ms + zxing_ms), 1),
        }
    return {
        "budget": "report only (no budget for QR render/decode)",
        "within_budget": True,
        "repeats": REPEATS,
        "all_decodes_exact": exact,
        "payloads": per_payload,
        "measures": [row(f"QR render + {backend} decode, {name}", f"{m[f'render_{backend}_payloads_per_s']:.0f}/s",
                         "report", None if exact else False)
                     for name, m in per_payload.items() for backend in BACKENDS],
    }
