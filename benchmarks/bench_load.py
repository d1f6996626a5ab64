"""``paircert load`` at the size the issue names for CI: 500 devices for 20 s against `paircert cloud serve`.

Everything as a user runs it, on loopback: the cloud (HTTPS and MQTT over TLS with its lab CA, the embedded
broker) in two processes (``cloud serve --workers 2``, as the README's Load section runs it), ``paircert load
--workers 2`` (a Locust master and two worker processes) beside it, all on the same 2 cores, so the numbers are
the whole system's, not the cloud's alone. Budget: every device activated and the three invariants hold;
the rates and latencies are reported, not judged.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEVICES = int(os.environ.get("PAIRCERT_BENCH_LOAD_DEVICES", "500"))
RATE = 100
DURATION = "20s"
WORKERS = 2
CLOUD_WORKERS = 2
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 300.0
PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]


def _serve(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`paircert cloud serve --tls --workers 2` on free loopback ports; its app API URL once its banner says it
    serves."""
    proc = subprocess.Popen([*PAIRCERT, "cloud", "serve", "--host", "127.0.0.1", "--port", "0", "--mqtt-port", "0",
                             "--tls", "--ca", str(folder / "ca"), "--admin-key-file", str(folder / "admin.key"),
                             "--max-connections", "20000", "--max-connections-per-address", "20000",
                             "--workers", str(CLOUD_WORKERS)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # read to the end, so the cloud never blocks on a full pipe
            match = re.match(r"\s+app API\s+(\S+)", line)
            if match:
                found["url"] = match.group(1)
            if line.startswith("serving"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or "url" not in found:
        proc.kill()
        raise RuntimeError("paircert cloud serve did not start")
    return proc, found["url"]


def _stats(run_dir: Path) -> dict[str, dict[str, str]]:
    with (run_dir / "locust_stats.csv").open(encoding="utf-8", newline="") as handle:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(handle)}


def _measures(stats: dict[str, dict[str, str]], results: dict[str, Any], wall_s: float) -> list[dict[str, Any]]:
    def row(step: str, column: str) -> float:
        return float(stats.get(step, {}).get(column) or 0)

    devices = results.get("devices", {})
    rows: list[dict[str, Any]] = [
        {"measure": "devices activated (of the run)", "value": f"{devices.get('expected bound', 0)}/{DEVICES}",
         "budget": f"{DEVICES}/{DEVICES}", "pass": devices.get("expected bound", 0) == DEVICES},
        {"measure": "invariants hold", "value": bool(results.get("holds")), "budget": True,
         "pass": bool(results.get("holds"))},
    ]
    for step in ("ATOP activate", "MQTT connect", "MQTT dp report", "DP app command round trip", "APP licence"):
        rows.append({"measure": f"{step}: median / p95 ms", "value": f"{row(step, 'Median Response Time'):.0f} / "
                     f"{row(step, '95%'):.0f}", "budget": "-", "pass": None})
    rows.append({"measure": "requests per second (all steps)", "value": f"{row('Aggregated', 'Requests/s'):.0f}",
                 "budget": "-", "pass": None})
    rows.append({"measure": "failures (all steps)", "value": f"{row('Aggregated', 'Failure Count'):.0f}",
                 "budget": "-", "pass": None})
    rows.append({"measure": "wall time of paircert load", "value": f"{wall_s:.1f} s", "budget": "-", "pass": None})
    return rows


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="paircert-bench-load-") as tmp:
        folder = Path(tmp)
        cloud, url = _serve(folder)
        try:
            started = time.perf_counter()
            done = subprocess.run([*PAIRCERT, "load", "--cloud", url, "--ca", str(folder / "ca" / "ca.pem"),
                                   "--admin-key-file", str(folder / "admin.key"), "--devices", str(DEVICES),
                                   "--rate", str(RATE), "--duration", DURATION, "--workers", str(WORKERS),
                                   "--report-dir", str(folder / "reports")],
                                  capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
            wall_s = time.perf_counter() - started
        finally:
            cloud.send_signal(signal.SIGTERM)
            try:
                cloud.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cloud.kill()
                cloud.wait(timeout=5)
        (run_dir,) = (folder / "reports").iterdir()
        results = json.loads((run_dir / "invariants.json").read_text(encoding="utf-8"))
        measures = _measures(_stats(run_dir), results, wall_s)
        return {
            "budget": f"{DEVICES} devices at {RATE}/s for {DURATION} with {WORKERS} workers: all activated, "
                      "invariants hold",
            "within_budget": all(m["pass"] for m in measures if m["pass"] is not None),
            "exit_code": done.returncode,
            "summary": done.stdout,
            "measures": measures,
        }
