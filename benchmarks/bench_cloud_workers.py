"""Activations per second of ``paircert cloud serve --workers 2`` against ``--workers 1``, with ``wrk`` as the load.

Reported without a budget (DESIGN.md has none for it): what a second process buys on this machine. Both clouds are
``paircert cloud serve`` as a user runs it (a subprocess each, over its own ``--state`` file prepared beforehand),
both up, each idle while the other is measured; the load generator is ``wrk`` with :mod:`benchmarks.bench_cloud`'s
script, its threads and connections, so no Python client shares the measured processes. They are measured side by
side, one worker then two, ``PAIRS`` times, and compared on the median of the per-pair ratios.

Every request is a pre-built activation with its own licence and token (written into the state file before the
cloud starts), so every answer is a real activation; each cloud's home is listed after each round through its app
API, and its bound devices must be at least the responses wrk counted.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import bench_cloud
from benchmarks._common import find_wrk, median_ratio, row

PAIRS = 3
WORKERS = (1, 2)
START_TIMEOUT_S = 120.0
PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]


def _prepare(state_path: str, data_path: str, count: int, conn: Any) -> None:
    """A state file holding ``count`` licences and tokens, and wrk's data file of their activations; sends
    (account, home) back."""
    from benchmarks.bench_activation import _requests
    from harness.clock import SystemClock
    from harness.emulator.cloud import EmulatedCloud

    cloud = EmulatedCloud(clock=SystemClock(), token_ttl_s=3600.0, state_path=state_path)  # not started
    requests = _requests(cloud, count)
    (home,) = cloud.state.homes.values()
    cloud.state.close()
    with open(data_path, "w", encoding="ascii") as out:
        out.write("return {\n")
        for query, body in requests:
            out.write(f"{{{bench_cloud._lua_string('/d.json?' + query)}, "
                      f"{bench_cloud._lua_string(body.decode('ascii'))}}},\n")
        out.write("}\n")
    conn.send((home.owner, home.home_id))


class _Served:
    """``paircert cloud serve --workers N`` over a prepared state, on free loopback ports."""

    def __init__(self, workers: int, state_path: Path, account: str, home: str) -> None:
        self.workers, self.account, self.home = workers, account, home
        self.proc = subprocess.Popen([*PAIRCERT, "cloud", "serve", "--no-auth", "--host", "127.0.0.1", "--port", "0",
                                      "--mqtt-port", "0", "--state", str(state_path), "--token-ttl", "3600",
                                      "--workers", str(workers)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.urls = self._wait_ready()

    def _wait_ready(self) -> dict[str, str]:
        assert self.proc.stdout is not None
        urls: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.match(r"\s+(ATOP|app API)\s+(\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
            if line.startswith("serving"):  # read on to the end, so the cloud never blocks on a full pipe
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return urls
        self.stop()
        raise RuntimeError(f"paircert cloud serve --workers {self.workers} did not start")

    @property
    def base(self) -> str:
        return self.urls["ATOP"].removesuffix("/d.json")

    def bound(self) -> int:
        """The devices bound in the home, as the cloud's app API lists them."""
        request = urllib.request.Request(f"{self.urls['app API']}/homes/{self.home}/devices",
                                         headers={"X-Paircert-Account": self.account})
        with urllib.request.urlopen(request, timeout=60) as answer:
            devices = json.loads(answer.read())["result"]
        return len(devices)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _round(wrk: str, served: _Served, script: Path, data: Path, n: int) -> dict[str, Any]:
    before = served.bound()
    result = bench_cloud._wrk(wrk, served.base, script, data, n * bench_cloud.REQUESTS_PER_ROUND)
    result["activations"] = served.bound() - before
    return result


def _prepared(tmp: Path) -> list[tuple[Path, Path, str, str]]:
    """One state and data file per worker count, built in parallel (one process each)."""
    ctx = mp.get_context("spawn")
    count = PAIRS * bench_cloud.REQUESTS_PER_ROUND
    jobs = []
    for workers in WORKERS:
        state, data = tmp / f"state-{workers}.sqlite", tmp / f"requests-{workers}.lua"
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_prepare, args=(str(state), str(data), count, theirs))
        proc.start()
        jobs.append((proc, mine, state, data))
    out = []
    for proc, mine, state, data in jobs:
        if not mine.poll(600):
            proc.kill()
            raise TimeoutError("preparing the activations took more than 600 s")
        account, home = mine.recv()
        proc.join(30)
        out.append((state, data, account, home))
    return out


def run() -> dict[str, Any]:
    wrk = find_wrk()
    if wrk is None:
        return {"budget": "report", "within_budget": False,
                "measures": [row("cloud serve --workers 2 / --workers 1 activations (wrk)", "wrk is not installed",
                                 "report", False)]}
    with tempfile.TemporaryDirectory(prefix="paircert-bench-workers-") as name:
        tmp = Path(name)
        script = tmp / "activate.lua"
        script.write_text(bench_cloud.WRK_SCRIPT, encoding="utf-8")
        prepared = _prepared(tmp)
        served: list[_Served] = []
        try:
            for workers, (state, _data, account, home) in zip(WORKERS, prepared, strict=True):
                served.append(_Served(workers, state, account, home))
            rounds = []
            for n in range(PAIRS):
                rounds.append({f"workers_{s.workers}": _round(wrk, s, script, data, n)
                               for s, (_state, data, _a, _h) in zip(served, prepared, strict=True)})
        finally:
            for s in served:
                s.stop()
    return _result(rounds)


def _result(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    one = [r["workers_1"]["per_s"] for r in rounds]
    two = [r["workers_2"]["per_s"] for r in rounds]
    ratio = median_ratio(two, one)
    real = all(side["activations"] >= side["requests"] and side["not_200"] == 0 and side["socket_errors"] == 0
               for r in rounds for side in r.values())
    dry = any(side["ran_dry"] for r in rounds for side in r.values())
    note = ("" if real else " (not every request was a real activation)") + (
        " (a cloud ran out of requests: a lower bound)" if dry else "")
    return {
        "budget": "report: cloud serve --workers 2 against --workers 1, activations/s (wrk, median of paired ratios)",
        "within_budget": real,
        "rounds": rounds,
        "wrk": {"threads": bench_cloud.THREADS, "connections": bench_cloud.CONNECTIONS,
                "duration_s": bench_cloud.DURATION_S},
        "cpus": os.cpu_count(),
        "measures": [
            row("cloud serve --workers 1 activations over loopback HTTP (wrk, median)",
                f"{sorted(one)[len(one) // 2]:.0f}/s", "report", None),
            row("cloud serve --workers 2 activations over loopback HTTP (wrk, median)",
                f"{sorted(two)[len(two) // 2]:.0f}/s", "report", None),
            row("--workers 2 / --workers 1 (median of paired ratios)", f"{ratio:.2f}x{note}", "report",
                None if real else False),
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
