"""Emulated cloud activations over loopback HTTP against a trivial aiohttp JSON handler, with ``wrk`` as the load.

DESIGN.md budget: the cloud's activations per second at least 25% of a trivial aiohttp handler's requests per
second, on the same external load generator in the same run. Each server is its own process, started here and
idle while the other is measured; the load generator is ``wrk`` (a third process, C and Lua, installed by
``make bench`` through scripts/sysdeps.sh), so no Python client shares the measured process. The two are measured
side by side, cloud then trivial, ``PAIRS`` times, and judged on the median of the per-pair ratios.

Both receive the same requests: pre-built, pre-signed, pre-encrypted activations, each with its own licence and
token, so that every request the cloud answers is a real, successful activation; the cloud counts its bound
devices after each round, which must be at least the responses wrk counted. wrk's threads each take their own
slice of the requests and stop before running out of it (no request is ever sent twice).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import find_wrk, median_ratio, row

BUDGET_RATIO = 0.25
PAIRS = 3
DURATION_S = 3
THREADS = 2
CONNECTIONS = 32
REQUESTS_PER_ROUND = 20_000  # more than the cloud answers in DURATION_S on 2 cores: the duration ends a round

# wrk's script: thread n of N sends requests n, n+N, n+2N, ... of its round's slice and, against the cloud, stops
# once it has sent all but one connection's worth of its share (against the trivial handler, which keeps no state,
# it goes round its share again, so that it never runs dry: wrk divides by the whole duration either way, and a
# trivial side that ran dry would flatter the ratio); done() prints one JSON line for the benchmark.
WRK_SCRIPT = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local data = dofile(args[1])
  local first, count, step = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  mine = {}
  for i = first + id, first + count - 1, step do table.insert(mine, data[i + 1]) end
  limit = #mine - tonumber(args[5])
  cycle = args[6] == "cycle"
  sent, answered, bad = 0, 0, 0
end
function request()
  sent = sent + 1
  local r = mine[(sent - 1) % #mine + 1]
  return wrk.format("POST", r[1], {["Content-Type"] = "application/x-www-form-urlencoded"}, r[2])
end
function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  if answered >= limit and not cycle then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do bad_total = bad_total + (thread:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"not_200":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, bad_total, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serve_cloud(conn: Any, count: int, data_path: str) -> None:
    """The cloud's process: build ``count`` activations, write them for wrk, serve, and count bound devices."""
    from benchmarks.bench_activation import _requests
    from harness.clock import SystemClock
    from harness.emulator.cloud import EmulatedCloud

    with EmulatedCloud(clock=SystemClock(), token_ttl_s=3600.0) as cloud:
        requests = _requests(cloud, count)
        with open(data_path, "w", encoding="ascii") as out:
            out.write("return {\n")
            for query, body in requests:
                out.write(f"{{{_lua_string('/d.json?' + query)}, {_lua_string(body.decode('ascii'))}}},\n")
            out.write("}\n")
        conn.send(cloud.http_url)
        while conn.recv() == "count":
            with cloud.state.lock:
                conn.send(sum(1 for dev in cloud.state.devices.values() if dev.bound))


def _serve_trivial(conn: Any) -> None:
    """The trivial handler's process: aiohttp answering every POST with a small JSON object."""
    import asyncio
    import socket

    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"success": True, "t": int(time.time())})

    async def main() -> None:
        app = web.Application()
        app.router.add_route("POST", "/d.json", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        conn.send(f"http://127.0.0.1:{sock.getsockname()[1]}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


def _wrk(wrk: str, url: str, script: Path, data: Path, first: int, *, cycle: bool = False) -> dict[str, Any]:
    command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--timeout", "10s", "-s", str(script),
               f"{url}/d.json", "--", str(data), str(first), str(REQUESTS_PER_ROUND), str(THREADS),
               str(CONNECTIONS // THREADS + 1), "cycle" if cycle else "once"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DURATION_S + 60, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    # the requests ran out before the duration did: the rate is a lower bound
    result["ran_dry"] = not cycle and result["requests"] >= REQUESTS_PER_ROUND - THREADS * (CONNECTIONS // THREADS + 1)
    return result


def run() -> dict[str, Any]:
    wrk = find_wrk()
    if wrk is None:
        return {"budget": f"cloud >= {BUDGET_RATIO:.0%} of a trivial aiohttp handler", "within_budget": False,
                "measures": [row("cloud activations / trivial handler (wrk)", "wrk is not installed",
                                 f">= {BUDGET_RATIO}", False)]}
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="paircert-bench-cloud-") as tmp:
        script, data = Path(tmp) / "activate.lua", Path(tmp) / "requests.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        cloud_end, cloud_conn = ctx.Pipe()
        trivial_end, trivial_conn = ctx.Pipe()
        cloud = ctx.Process(target=_serve_cloud, args=(cloud_conn, PAIRS * REQUESTS_PER_ROUND, str(data)))
        trivial = ctx.Process(target=_serve_trivial, args=(trivial_conn,))
        cloud.start()
        trivial.start()
        try:
            cloud_url, trivial_url = _receive(cloud_end, 300), _receive(trivial_end, 60)
            rounds = []
            for n in range(PAIRS):
                before = _count(cloud_end)
                on_cloud = _wrk(wrk, cloud_url, script, data, n * REQUESTS_PER_ROUND)
                on_cloud["activations"] = _count(cloud_end) - before
                on_trivial = _wrk(wrk, trivial_url, script, data, n * REQUESTS_PER_ROUND, cycle=True)
                rounds.append({"cloud": on_cloud, "trivial": on_trivial})
        finally:
            for end in (cloud_end, trivial_end):
                end.send("stop")
            for proc in (cloud, trivial):
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
    return _result(rounds)


def _receive(end: Any, timeout_s: float) -> Any:
    if not end.poll(timeout_s):
        raise TimeoutError(f"a benchmark server did not answer within {timeout_s} s")
    return end.recv()


def _count(end: Any) -> int:
    end.send("count")
    return int(_receive(end, 30))


def _result(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    cloud_rates = [r["cloud"]["per_s"] for r in rounds]
    trivial_rates = [r["trivial"]["per_s"] for r in rounds]
    ratio = median_ratio(cloud_rates, trivial_rates)
    real = all(r["cloud"]["activations"] >= r["cloud"]["requests"] and r["cloud"]["not_200"] == 0
               and r["cloud"]["socket_errors"] == 0 and r["trivial"]["not_200"] == 0 for r in rounds)
    ok = real and ratio >= BUDGET_RATIO
    dry = any(r["cloud"]["ran_dry"] for r in rounds)
    return {
        "budget": f"cloud activations/s >= {BUDGET_RATIO:.0%} of a trivial aiohttp handler's requests/s (wrk, "
                  "median of paired ratios)",
        "within_budget": ok,
        "rounds": rounds,
        "wrk": {"threads": THREADS, "connections": CONNECTIONS, "duration_s": DURATION_S},
        "cpus": os.cpu_count(),
        "measures": [
            row("cloud activations over loopback HTTP (wrk, median)",
                f"{sorted(cloud_rates)[len(cloud_rates) // 2]:.0f}/s", "report", None),
            row("trivial aiohttp JSON handler (wrk, median)",
                f"{sorted(trivial_rates)[len(trivial_rates) // 2]:.0f}/s", "report", None),
            row("cloud / trivial handler (median of paired ratios)", f"{ratio:.3f}"
                + ("" if real else " (not every request was a real activation)")
                + (" (the cloud ran out of requests: a lower bound)" if dry else ""), f">= {BUDGET_RATIO}", ok),
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
