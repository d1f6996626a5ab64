"""What every benchmark shares: a table row, paired ratios, the machine's load, the external load generator.

A ratio between two things (the QR pipeline and a bare loop, the cloud and a trivial handler, ``-n 1`` and
``-n auto``) is measured side by side, A B A B, and judged on the median of the per-pair ratios, so that both
sides of each pair saw about the same machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
from collections.abc import Callable
from typing import Any


def row(measure: str, value: object, budget: str, passed: bool | None) -> dict[str, Any]:
    """One line of the ``make bench`` table; ``passed`` None: reported without a budget."""
    return {"measure": measure, "value": str(value), "budget": budget, "pass": passed}


def paired(first: Callable[[], float], second: Callable[[], float], pairs: int) -> tuple[list[float], list[float]]:
    """``pairs`` rounds of ``first`` then ``second`` (A B A B ...): their values, in order."""
    a_values, b_values = [], []
    for _ in range(pairs):
        a_values.append(first())
        b_values.append(second())
    return a_values, b_values


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of the paired ratios numerator[i] / denominator[i] (not the ratio of the medians)."""
    return statistics.median(a / b if b else float("inf") for a, b in zip(numerators, denominators, strict=True))


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: a budget missed under load says little)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "cpu_model": model, "load_average": load_average()}


def find_wrk() -> str | None:
    """The external HTTP load generator (``wrk``, installed by ``make bench`` through scripts/sysdeps.sh)."""
    return shutil.which("wrk")
