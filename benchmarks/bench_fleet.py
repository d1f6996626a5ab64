"""1,000 emulated cameras pairing at once against one emulated cloud, in each pairing mode.

DESIGN.md budget: all 1,000 activated and online within 10 s, at most 300 MB RSS, on a 2-core machine, in every
pairing mode: AP (legacy frames over UDP), QR (each camera shown its own QR image, rendered beforehand as a phone
would, decoded by the camera with zbar) and EZ (each camera in a room of its own: an air of its own, where its
phone plays one shortened EZ transmission of broadcast lengths and multicast addresses, computed beforehand; in
one shared air every camera would hear every phone). With Mosquitto installed (``make mosquitto``) and
``PAIRCERT_BENCH_BIG_FLEET=1``, 5,000 cameras pair by AP with Mosquitto as the cloud's broker (budget 30 s; not
met: every credential change is a Mosquitto reload that the change waits for, so activations are serialized).
Each fleet runs in a process of its own, so that its peak RSS is its own.

Everything real-time (SystemClock): one cloud (HTTP + embedded amqtt broker) and one device world (all cameras
on one shared event loop), in this process. Each camera gets its own licence and its own token; the app side
sends each one the legacy 55AA config frame over UDP on loopback, all at once, and the clock runs until every
camera is activated in the home and online on MQTT. RSS is the peak of this process (cloud, broker, devices).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import row

CAMERAS = 1000
BUDGET_S = 10.0
BUDGET_MB = 300.0
DEADLINE_S = 90.0
MODES = ("ap", "qr", "ez")
# DESIGN.md: with Mosquitto as the broker (make mosquitto), 5,000 cameras within 30 s (AP frames: the mode whose
# app side costs least, so that the broker and the cloud are what is measured).
BIG_FLEET = ("ap", "mosquitto", 5000, 30.0)
BIG_FLEET_ENV = "PAIRCERT_BENCH_BIG_FLEET"  # "1": run it (it takes many minutes as the Mosquitto broker is now)


def _raise_fd_limit(cameras: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 16 * cameras))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def fleet(mode: str, broker: str = "amqtt", cameras_n: int = CAMERAS) -> dict[str, Any]:
    """Pair ``CAMERAS`` cameras at once in ``mode`` ("ap": legacy frames over UDP; "ez": a transmission each, in a
    room of its own; "qr": each camera shown its own QR code, rendered beforehand as the app's phone would, and held
    in this process: the peak RSS counts them) and wait until all are online in the home; ``broker``: the
    cloud's MQTT broker (``amqtt`` embedded, or ``mosquitto``)."""
    from harness.clock import SystemClock
    from harness.emulator.air import Air
    from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
    from harness.emulator.cloud import EmulatedCloud
    from harness.emulator.loop import DeviceLoop

    _raise_fd_limit(cameras_n)
    clock = SystemClock()
    cloud = EmulatedCloud(clock=clock, region="AY", broker=broker).start()  # type: ignore[arg-type]
    world = DeviceLoop(clock).start()
    airs: list[Air] = []
    cameras: list[EmulatedCamera] = []
    try:
        product = cloud.app.create_product(name="fleet camera", category="sp")
        owner = cloud.app.create_account("fleet")
        home = cloud.app.create_home(owner, "warehouse")
        endpoint = CloudEndpoint(cloud.atop_url, cloud.mqtt_host, cloud.mqtt_port)
        tokens: list[str] = []
        setup_started = time.perf_counter()
        for n in range(cameras_n):
            if mode == "ez" or not airs:  # EZ: a room (an air) per camera; otherwise one air for all
                airs.append(Air(seed=n + 1))
                airs[-1].add_access_point(b"FleetNet", b"fleet-password")
            lic = cloud.app.issue_licence(product.pid)
            camera = EmulatedCamera(world, airs[-1], uuid=lic.uuid, auth_key=lic.auth_key, pid=product.pid,
                                    mac=f"02:10:00:00:{n >> 8:02x}:{n & 255:02x}", cloud={"AY": endpoint},
                                    pairing_modes=(mode,), ap_variants=("legacy",))
            camera.power_on()
            cameras.append(camera)
            tokens.append(cloud.app.get_token(owner, home).pairing_token)
        setup_s = time.perf_counter() - setup_started
        send = (_ap_sender(cameras, tokens) if mode == "ap" else _qr_sender(world, cameras, tokens) if mode == "qr"
                else _ez_sender(airs, tokens))
        started = time.perf_counter()
        send()
        online = 0
        while time.perf_counter() - started < DEADLINE_S:
            with cloud.state.lock:
                online = sum(1 for d in cloud.state.devices.values() if d.online and d.home == home)
            if online >= cameras_n:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        world.stop(timeout=30)
        cloud.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1024 * 1024)
    return {"mode": mode, "broker": broker, "cameras": cameras_n, "online_in_home": online,
            "pairing_wall_s": round(elapsed, 2),
            "setup_wall_s": round(setup_s, 2), "peak_rss_mb": round(peak_mb, 1)}


def _ap_sender(cameras: list[Any], tokens: list[str]) -> Callable[[], None]:
    from harness.protocol.apconfig import encode_ap_config

    deadline = time.perf_counter() + 30
    while any(c.ap_address is None for c in cameras) and time.perf_counter() < deadline:
        time.sleep(0.02)  # the SoftAP sockets open on the device loop just after power-on

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for camera, token in zip(cameras, tokens, strict=True):
                address = camera.ap_address
                if address is not None:  # one that never offered its AP does not come online: the count shows it
                    sock.sendto(encode_ap_config("FleetNet", "fleet-password", token), (address[0], address[1]))

    return send


def _qr_sender(world: Any, cameras: list[Any], tokens: list[str]) -> Callable[[], None]:
    from harness.protocol.qr import QrPayload
    from harness.qrimage import render_qr

    images = [render_qr(QrPayload("FleetNet", "fleet-password", token).to_bytes()) for token in tokens]

    def send() -> None:  # every camera is shown its code at once; each decodes on the device world's executor
        for camera, image in zip(cameras, images, strict=True):
            asyncio.run_coroutine_threadsafe(camera.present_qr_async(image), world.loop)

    return send


def _ez_sender(airs: list[Any], tokens: list[str]) -> Callable[[], None]:
    from harness.protocol import smartconfig

    # What the emulated network adapter plays for one attempt (two preamble rounds, three data rounds).
    schedules = [list(smartconfig.transmission_schedule(b"FleetNet", b"fleet-password", token.encode("ascii"),
                                                        channels=("broadcast", "multicast"), tail="padded",
                                                        preamble_rounds=2, data_rounds=3))
                 for token in tokens]

    def send() -> None:  # each phone plays its transmission into its camera's room
        for air, schedule in zip(airs, schedules, strict=True):
            air.send_all(schedule)
            air.flush()

    return send


def _child(mode: str, broker: str, cameras: int, out: Any) -> None:
    out.send(fleet(mode, broker, cameras))
    out.close()


def _in_a_process(mode: str, broker: str, cameras: int) -> dict[str, Any]:
    """One fleet in a process of its own: its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(mode, broker, cameras, send))
    proc.start()
    missing = {"mode": mode, "broker": broker, "cameras": cameras, "online_in_home": 0, "pairing_wall_s": None,
               "peak_rss_mb": None}
    got: dict[str, Any] = receive.recv() if receive.poll(DEADLINE_S + 240) else missing
    proc.join(60)
    if proc.is_alive():
        proc.kill()
    return got


def run() -> dict[str, Any]:
    from harness.emulator.broker.mosquitto import find_mosquitto

    results = {mode: _in_a_process(mode, "amqtt", CAMERAS) for mode in MODES}
    measures = []
    for mode, got in results.items():
        done = got["online_in_home"] >= CAMERAS
        wall, rss = got["pairing_wall_s"], got["peak_rss_mb"]
        measures.append(row(f"{CAMERAS} cameras pairing at once ({mode}), all online",
                            f"{wall} s" + ("" if done else f" ({got['online_in_home']} online)"),
                            f"<= {BUDGET_S:.0f} s", done and wall is not None and wall <= BUDGET_S))
        measures.append(row(f"{CAMERAS} cameras ({mode}): peak RSS (cloud, broker, devices)", f"{rss} MB",
                            f"<= {BUDGET_MB:.0f} MB", rss is not None and rss <= BUDGET_MB))
    mode, broker, cameras, budget_s = BIG_FLEET
    label = f"{cameras} cameras pairing at once ({mode}, {broker}), all online"
    if find_mosquitto() is None:
        measures.append(row(label, "not measured: mosquitto is not installed (make mosquitto)",
                            f"<= {budget_s:.0f} s", False))
    elif os.environ.get(BIG_FLEET_ENV) != "1":
        # Every credential change reloads Mosquitto and the change (a licence issued, a device activated, inside
        # the cloud's HTTP loop) waits for it, and at this scale some reloads go unconfirmed for 10 s: 1,000
        # cameras took 111 s to set up and 2 were online 90 s later.
        measures.append(row(label, f"not measured: {BIG_FLEET_ENV}=1 runs it (minutes: each credential change "
                            "is a Mosquitto reload the activation waits for)", f"<= {budget_s:.0f} s", False))
    else:
        big = results[f"{mode}-{broker}-{cameras}"] = _in_a_process(mode, broker, cameras)
        done, wall = big["online_in_home"] >= cameras, big["pairing_wall_s"]
        measures.append(row(label, f"{wall} s" + ("" if done else f" ({big['online_in_home']} online)"),
                            f"<= {budget_s:.0f} s", done and wall is not None and wall <= budget_s))
        measures.append(row(f"{cameras} cameras ({mode}, {broker}): peak RSS (cloud, devices; the broker apart)",
                            f"{big['peak_rss_mb']} MB", "report", None))
    return {
        "budget": f"{CAMERAS} cameras online within {BUDGET_S:.0f} s, at most {BUDGET_MB:.0f} MB RSS, every mode; "
                  f"{BIG_FLEET[2]} with {BIG_FLEET[1]} within {BIG_FLEET[3]:.0f} s",
        "within_budget": all(m["pass"] for m in measures if m["pass"] is not None),
        "cameras": CAMERAS,
        "fleets": results,
        "measures": measures,
    }
