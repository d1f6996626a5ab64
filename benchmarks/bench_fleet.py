"""1,000 emulated cameras pairing at once in AP mode against one emulated cloud.

DESIGN.md budget: all 1,000 activated and online within 10 s, at most 300 MB RSS, on a 2-core machine, in every
pairing mode; this benchmark covers AP (legacy) only: QR with images and EZ fleets are not measured yet.

Everything real-time (SystemClock): one cloud (HTTP + embedded amqtt broker) and one device world (all cameras
on one shared event loop), in this process. Each camera gets its own licence and its own token; the app side
sends each one the legacy 55AA config frame over UDP on loopback, all at once, and the clock runs until every
camera is activated in the home and online on MQTT. RSS is the peak of this process (cloud, broker, devices).
"""

from __future__ import annotations

import resource
import socket
import sys
import time
from typing import Any

from benchmarks._common import row

CAMERAS = 1000
BUDGET_S = 10.0
BUDGET_MB = 300.0
DEADLINE_S = 90.0


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 16 * CAMERAS))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def run() -> dict[str, Any]:
    from harness.clock import SystemClock
    from harness.emulator.air import Air
    from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
    from harness.emulator.cloud import EmulatedCloud
    from harness.emulator.loop import DeviceWorld
    from harness.protocol.apconfig import encode_ap_config

    _raise_fd_limit()
    clock = SystemClock()
    cloud = EmulatedCloud(clock=clock, region="AY").start()
    world = DeviceWorld(clock).start()
    air = Air(seed=1)
    air.add_access_point(b"FleetNet", b"fleet-password")
    cameras: list[EmulatedCamera] = []
    try:
        product = cloud.app.create_product(name="fleet camera", category="sp")
        owner = cloud.app.create_account("fleet")
        home = cloud.app.create_home(owner, "warehouse")
        endpoint = CloudEndpoint(cloud.atop_url, cloud.mqtt_host, cloud.mqtt_port)
        tokens: list[str] = []
        setup_started = time.perf_counter()
        for n in range(CAMERAS):
            lic = cloud.app.issue_licence(product.pid)
            camera = EmulatedCamera(world, air, uuid=lic.uuid, auth_key=lic.auth_key, pid=product.pid,
                                    mac=f"02:10:00:00:{n >> 8:02x}:{n & 255:02x}", cloud={"AY": endpoint},
                                    pairing_modes=("ap",), ap_variants=("legacy",))
            camera.power_on()
            cameras.append(camera)
            tokens.append(cloud.app.get_token(owner, home).pairing_token)
        setup_s = time.perf_counter() - setup_started

        ap_deadline = time.perf_counter() + 30
        while any(c.ap_address is None for c in cameras) and time.perf_counter() < ap_deadline:
            time.sleep(0.02)  # the SoftAP sockets open on the device loop just after power-on
        started = time.perf_counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for camera, token in zip(cameras, tokens, strict=True):
                address = camera.ap_address
                if address is None:
                    continue  # never offered its AP: it will not come online, and the count shows it
                sock.sendto(encode_ap_config("FleetNet", "fleet-password", token), (address[0], address[1]))
        online = 0
        while time.perf_counter() - started < DEADLINE_S:
            with cloud.state.lock:
                online = sum(1 for d in cloud.state.devices.values() if d.online and d.home == home)
            if online >= CAMERAS:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        world.stop(timeout=30)
        cloud.stop()
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    return {
        "budget": f"{CAMERAS} cameras paired within {BUDGET_S:.0f} s, at most {BUDGET_MB:.0f} MB RSS",
        "within_budget": online >= CAMERAS and elapsed <= BUDGET_S and rss_mb <= BUDGET_MB,
        "cameras": CAMERAS,
        "online_in_home": online,
        "pairing_wall_s": round(elapsed, 2),
        "setup_wall_s": round(setup_s, 2),
        "peak_rss_mb": round(rss_mb, 1),
        "measures": [
            row(f"{CAMERAS} cameras pairing at once (AP legacy), all online", f"{elapsed:.1f} s"
                + ("" if online >= CAMERAS else f" ({online} online)"), f"<= {BUDGET_S:.0f} s",
                online >= CAMERAS and elapsed <= BUDGET_S),
            row(f"{CAMERAS} cameras: peak RSS (cloud, broker, devices)", f"{rss_mb:.0f} MB", f"<= {BUDGET_MB:.0f} MB",
                rss_mb <= BUDGET_MB),
            row(f"{CAMERAS} cameras pairing at once, QR and EZ", "not measured", "every mode", False),
        ],
    }
