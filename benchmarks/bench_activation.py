"""CPU per activation of the emulated cloud's ATOP handler, without HTTP (DESIGN.md: at most 100 us).

What :meth:`harness.emulator.cloud.atop.AtopService.answer` does for ``POST /d.json``: parse and check the query,
find the licence, check the sign, open the body, decode the activation record, run the activation's steps,
bind, issue keys, record the attempt, encrypt and sign the answer. The requests are built beforehand (each its
own licence and token, so each is a real, successful activation, counted afterwards in the registry), and the
handler is awaited one request at a time on one event loop. CPU time of this process, per request, in
``ROUNDS`` rounds (the median is judged; the machine is shared, so wall time would measure the neighbours).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

from benchmarks._common import row

BUDGET_US = 100.0
ROUNDS = 5
PER_ROUND = 1000
WARMUP = 200


def _requests(cloud: Any, count: int) -> list[tuple[str, bytes]]:
    from harness.protocol.atop import API_ACTIVE_V44, ActivationRequest, AtopRequest, build_request

    product = cloud.app.create_product(name="bench camera", category="sp")
    owner = cloud.app.create_account("bench")
    home = cloud.app.create_home(owner, "bench home")
    now = int(cloud.clock.time())
    out = []
    for index in range(count):
        lic = cloud.app.issue_licence(product.pid)
        token = cloud.app.get_token(owner, home).token
        body = ActivationRequest(token=token, soft_ver="1.0.0", product_key=product.pid, protocol_ver="2.2",
                                 baseline_ver="40.00", options='{"otaChannel":0,"isFK":true}', cad_ver="1.0.2",
                                 cd_ver="1.0.0", t=now, hid=f"{index:012x}").to_json().encode()
        out.append(build_request(AtopRequest(api=API_ACTIVE_V44[0], version=API_ACTIVE_V44[1], et=1, t=now,
                                             uuid=lic.uuid, dev_id=None, body=body), lic.auth_key))
    return out


def run() -> dict[str, Any]:
    from harness.clock import SystemClock
    from harness.emulator.cloud import EmulatedCloud

    cloud = EmulatedCloud(clock=SystemClock(), token_ttl_s=3600.0)  # not started: no HTTP, no broker
    requests = _requests(cloud, WARMUP + ROUNDS * PER_ROUND)
    answer = cloud.atop.answer
    refused = 0

    async def serve(batch: list[tuple[str, bytes]]) -> float:
        nonlocal refused
        started = time.process_time()
        for query, body in batch:
            response = await answer(query, body)
            refused += response.status != 200
        return time.process_time() - started

    async def rounds() -> list[float]:
        await serve(requests[:WARMUP])
        out = []
        for n in range(ROUNDS):
            batch = requests[WARMUP + n * PER_ROUND:WARMUP + (n + 1) * PER_ROUND]
            out.append(await serve(batch) / len(batch) * 1e6)
        return out

    gc.collect()
    per_request_us = asyncio.run(rounds())
    activated = sum(1 for dev in cloud.state.devices.values() if dev.bound)
    cloud.state.close()
    median = statistics.median(per_request_us)
    real = activated == len(requests) and refused == 0
    return {
        "budget": f"at most {BUDGET_US:.0f} us CPU per activation, without HTTP",
        "within_budget": real and median <= BUDGET_US,
        "cpu_us_per_activation_rounds": [round(u, 1) for u in per_request_us],
        "activated": activated,
        "requests": len(requests),
        "measures": [row("activation handler CPU per request, no HTTP (median of rounds)", f"{median:.1f} us",
                         f"<= {BUDGET_US:.0f} us", real and median <= BUDGET_US)],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
