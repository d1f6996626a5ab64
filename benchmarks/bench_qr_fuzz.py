"""QR fuzz pipeline throughput against a bare qrcode-render + pyzbar-decode loop, in the same run.

The pipeline is what the QR fuzz target does per example, minus the device and the cloud: draw a case from
``harness.testing.strategies.qr_cases`` (payload and app style, i.e. the text), render it (``render_qr``), decode it as
the device does (zbar in binary mode, ``decode_qr``) and parse it (``parse_qr_text``), checking that the payload
survives. The bare loop renders the very same texts with ``qrcode`` at the same error correction, module size and
border as ``render_qr`` (so the same image size, which it checks: ``qrcode.make``'s default modules are larger, and
a larger image is slower to draw and decode) and decodes them with ``pyzbar.decode``. Budget (DESIGN.md): the
pipeline keeps at least 80% of the bare loop's examples per second. Rounds alternate, pipeline then bare on the
texts the pipeline just drew, and the budget is judged on the median of the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from benchmarks._common import median_ratio, row
from harness.protocol.qr import parse_qr_text
from harness.qrimage import decode_qr, render_qr
from harness.testing.strategies import QrCase, qr_cases

EXAMPLES = 250
ROUNDS = 5
BUDGET_RATIO = 0.8


def _pipeline(examples: int, texts: list[str]) -> float:
    """Examples per second of strategy -> text -> render -> zbar decode -> parse, through Hypothesis."""
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(qr_cases())
    def one(case: QrCase) -> None:
        found = decode_qr(render_qr(case.text))
        assert found == [case.text.encode("utf-8")], "the QR symbol did not carry the exact bytes"
        assert parse_qr_text(found[0]) == case.payload
        texts.append(case.text)

    started = time.perf_counter()
    one()
    return len(texts) / (time.perf_counter() - started)


def _bare(texts: list[str]) -> float:
    """Examples per second of qrcode render + pyzbar.decode over the same texts, at render_qr's image size."""
    import qrcode
    from pyzbar import pyzbar
    from qrcode.util import MODE_8BIT_BYTE, QRData

    started = time.perf_counter()
    for text in texts:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
        code.add_data(QRData(text.encode("utf-8"), mode=MODE_8BIT_BYTE))  # byte mode, as render_qr (§1.2)
        code.make(fit=True)
        if not pyzbar.decode(code.make_image().get_image(), symbols=[pyzbar.ZBarSymbol.QRCODE]):
            raise AssertionError("pyzbar found no symbol")
    return len(texts) / (time.perf_counter() - started)


def _same_size(texts: list[str]) -> bool:
    """Whether the bare loop draws each text at the size render_qr does."""
    import qrcode
    from qrcode.util import MODE_8BIT_BYTE, QRData

    for text in texts:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
        code.add_data(QRData(text.encode("utf-8"), mode=MODE_8BIT_BYTE))  # byte mode, as render_qr (§1.2)
        code.make(fit=True)
        if code.make_image().get_image().size != render_qr(text).size:
            return False
    return True


def run() -> dict[str, Any]:
    pipeline_rates: list[float] = []
    bare_rates: list[float] = []
    same_size = True
    for _ in range(ROUNDS):
        texts: list[str] = []
        pipeline_rates.append(_pipeline(EXAMPLES, texts))
        bare_rates.append(_bare(texts))
        same_size &= _same_size(texts[:50])
    ratio = median_ratio(pipeline_rates, bare_rates)
    ok = same_size and ratio >= BUDGET_RATIO
    return {
        "budget": f"QR fuzz pipeline >= {BUDGET_RATIO:.0%} of a bare qrcode-render + pyzbar-decode loop at the same "
                  "image size (median of paired ratios)",
        "within_budget": ok,
        "same_image_size": same_size,
        "ratio": round(ratio, 3),
        "rounds": {"pipeline": [round(r, 1) for r in pipeline_rates], "bare": [round(r, 1) for r in bare_rates]},
        "examples_per_round": EXAMPLES,
        "measures": [
            row("QR fuzz pipeline, examples/s (median)", f"{statistics.median(pipeline_rates):.0f}/s", "report", None),
            row("bare render + decode, same texts and size (median)", f"{statistics.median(bare_rates):.0f}/s",
                "report", None),
            row("pipeline / bare (median of paired ratios)", f"{ratio:.3f}" + ("" if same_size else " (sizes differ)"),
                f">= {BUDGET_RATIO}", ok),
        ],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
