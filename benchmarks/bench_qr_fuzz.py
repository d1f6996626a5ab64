"""QR fuzz pipeline throughput against a bare qrcode-render + pyzbar-decode loop, in the same run.

The pipeline is what the QR fuzz target does per example, minus the device and the cloud: draw a case from
``harness.testing.strategies.qr_cases`` (payload and app style, i.e. the text), render it (``render_qr``), decode it as
the device does (zbar in binary mode, ``decode_qr``) and parse it (``parse_qr_text``), checking that the payload
survives. The bare loop renders the very same texts with ``qrcode.make`` and decodes them with
``pyzbar.decode``. Budget (DESIGN.md): the pipeline keeps at least 80% of the bare loop's examples per second.
Rounds alternate so that both see the same machine load.
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from harness.protocol.qr import parse_qr_text
from harness.qrimage import decode_qr, render_qr
from harness.testing.strategies import QrCase, qr_cases

EXAMPLES = 250
ROUNDS = 3
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
    """Examples per second of qrcode.make + pyzbar.decode over the same texts."""
    import qrcode
    from pyzbar import pyzbar

    started = time.perf_counter()
    for text in texts:
        image = qrcode.make(text.encode("utf-8"))
        if not pyzbar.decode(image.get_image(), symbols=[pyzbar.ZBarSymbol.QRCODE]):
            raise AssertionError("pyzbar found no symbol")
    return len(texts) / (time.perf_counter() - started)


def run() -> dict[str, Any]:
    pipeline_rates: list[float] = []
    bare_rates: list[float] = []
    for _ in range(ROUNDS):
        texts: list[str] = []
        pipeline_rates.append(_pipeline(EXAMPLES, texts))
        bare_rates.append(_bare(texts))
    pipeline = sorted(pipeline_rates)[len(pipeline_rates) // 2]
    bare = sorted(bare_rates)[len(bare_rates) // 2]
    ratio = pipeline / bare
    return {
        "budget": f"QR fuzz pipeline >= {BUDGET_RATIO:.0%} of a bare qrcode-render + pyzbar-decode loop",
        "within_budget": ratio >= BUDGET_RATIO,
        "pipeline_examples_per_s": round(pipeline, 1),
        "bare_examples_per_s": round(bare, 1),
        "ratio": round(ratio, 3),
        "rounds": {"pipeline": [round(r, 1) for r in pipeline_rates], "bare": [round(r, 1) for r in bare_rates]},
        "examples_per_round": EXAMPLES,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
