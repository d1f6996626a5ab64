"""Emulated cloud activations per second over loopback HTTP (DESIGN.md budget: at least 2,000 per second).

The cloud runs in this process with in-memory state (its HTTP server on its own thread and event loop); the
devices are a SEPARATE process firing pre-built, pre-signed, pre-encrypted activation requests with aiohttp
at concurrency 64, so the client costs little and the two cores are shared as they would be in a lab. Every
request carries its own licence and token, so every one is a real, successful activation; the count of
devices in the registry afterwards confirms it.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from typing import Any

BUDGET_PER_S = 2000.0
CONCURRENCY = 64
WARMUP = 500
MEASURED = 12_000


def _fire(url: str, requests: list[tuple[str, bytes]], concurrency: int) -> tuple[float, int, int]:
    import aiohttp

    async def main() -> tuple[float, int, int]:
        ok = failed = 0
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            queue = iter(requests)

            async def worker() -> None:
                nonlocal ok, failed
                for query, body in queue:
                    async with session.post(f"{url}?{query}", data=body) as answer:
                        raw = await answer.read()
                        if answer.status == 200 and b'"sign"' in raw:
                            ok += 1
                        else:
                            failed += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started, ok, failed

    return asyncio.run(main())


def _client(url: str, warmup: list[tuple[str, bytes]], measured: list[tuple[str, bytes]], concurrency: int,
            out: Any) -> None:
    _fire(url, warmup, concurrency)
    out.send(_fire(url, measured, concurrency))
    out.close()


def run() -> dict[str, Any]:
    from harness.clock import SystemClock
    from harness.emulator.cloud import EmulatedCloud
    from harness.protocol.atop import API_ACTIVE_V44, ActivationRequest, AtopRequest, build_request

    total = WARMUP + MEASURED
    with EmulatedCloud(clock=SystemClock(), token_ttl_s=3600.0) as cloud:
        product = cloud.app.create_product(name="bench camera", category="sp")
        owner = cloud.app.create_account("bench")
        home = cloud.app.create_home(owner, "bench home")
        now = int(time.time())
        requests: list[tuple[str, bytes]] = []
        for index in range(total):
            lic = cloud.app.issue_licence(product.pid)
            token = cloud.app.get_token(owner, home).token
            body = ActivationRequest(token=token, soft_ver="1.0.0", product_key=product.pid, protocol_ver="2.2",
                                     baseline_ver="40.00", options='{"otaChannel":0,"isFK":true}', cad_ver="1.0.2",
                                     cd_ver="1.0.0", t=now, hid=f"{index:012x}").to_json().encode()
            req = AtopRequest(api=API_ACTIVE_V44[0], version=API_ACTIVE_V44[1], et=1, t=now, uuid=lic.uuid,
                              dev_id=None, body=body)
            requests.append(build_request(req, lic.auth_key))
        ctx = mp.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_client, args=(cloud.atop_url, requests[:WARMUP], requests[WARMUP:], CONCURRENCY,
                                                  send))
        proc.start()
        try:
            if not receive.poll(120):
                raise TimeoutError("the benchmark client did not finish within 120 s")
            elapsed, ok, failed = receive.recv()
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        activated = sum(1 for dev in cloud.state.devices.values() if dev.bound)
    rate = ok / elapsed if elapsed > 0 else 0.0
    return {
        "budget": f"at least {BUDGET_PER_S:.0f} activations/s",
        "within_budget": rate >= BUDGET_PER_S and failed == 0 and activated == total,
        "activations_per_s": round(rate, 1),
        "measured_activations": ok,
        "failed": failed,
        "devices_in_registry": activated,
        "elapsed_s": round(elapsed, 3),
        "concurrency": CONCURRENCY,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    print(run())
