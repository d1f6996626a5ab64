"""The device side of the namespace test: an emulated cloud and camera, the camera bridged to an interface.

Run inside the device's network namespace as ``python tests/_netns_device.py INTERFACE AP_HOST``. It is what
``paircert device serve --sniff INTERFACE --ap-host AP_HOST`` does, driven by lines on stdin, answering one JSON
line each on stdout:

- ``pair`` -> factory-reset the camera, wait for pairing mode and its SoftAP, make a token in a fresh home:
  ``{"token", "ap": [host, udp_port, tcp_port], "ssid", "password"}``;
- ``wait SECONDS`` -> wait (bounded) until the camera is activated in that home and online:
  ``{"ok", "activated", "online", "events"}``;
- ``quit`` (or end of input) -> stop everything: ``{"stopped": true, "sniffer": {...}}``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from harness.adapters.emulated import EmulatedCloudAdapter
from harness.clock import SystemClock
from harness.emulator.air import Air
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.camera.states import State
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.loop import DeviceLoop
from harness.model import BindingMode
from harness.net.sniff import EzSniffer

SSID, PASSWORD, REGION = b"LabNet", b"lab-pass-1", "AY"


def say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def main(interface: str, ap_host: str) -> None:
    clock = SystemClock()
    cloud = EmulatedCloud(clock=clock, region=REGION).start()
    adapter = EmulatedCloudAdapter(cloud)
    device_loop = DeviceLoop(clock).start()
    air = Air(seed=1, clock=clock)
    air.add_access_point(SSID, PASSWORD)  # the lab's AP, assumed to have these credentials
    product = adapter.create_product("netns camera", "sp", BindingMode.STRONG)
    licence = adapter.issue_licence(product.pid)
    camera = EmulatedCamera(device_loop, air, uuid=licence.uuid, auth_key=licence.auth_key, pid=product.pid,
                            mac="02:00:00:00:31:02", cloud={REGION: adapter.device_endpoint()},
                            activation_api="opensdk", ap_host=ap_host, mqtt_pv="2.3")
    assert isinstance(adapter.device_endpoint(), CloudEndpoint)
    camera.power_on()
    sniffer = EzSniffer(interface, air, keep_outgoing=False, max_s=120).start()
    account = adapter.create_account("netns")
    home = ""
    try:
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "pair":
                camera.factory_reset()
                camera.wait_for_state(State.PAIRING, timeout=10)
                # the SoftAP reports its address once all of its sockets are bound, a moment after the state
                ap_deadline = time.monotonic() + 10
                while camera.ap_address is None and time.monotonic() < ap_deadline:
                    time.sleep(0.005)
                home = adapter.create_home(account, f"home-{time.monotonic_ns()}")
                say({"token": adapter.get_token(home, account), "ap": list(camera.ap_address or ()),
                     "ssid": SSID.decode(), "password": PASSWORD.decode()})
            elif command == "wait":
                deadline = time.monotonic() + min(float(rest[0]), 30.0)
                record = adapter.device_by_uuid(licence.uuid)
                while time.monotonic() < deadline:
                    record = adapter.device_by_uuid(licence.uuid)
                    if record is not None and record.home == home and record.online:
                        break
                    time.sleep(0.05)
                activated = record is not None and record.home == home
                online = bool(record is not None and record.online)
                say({"ok": activated and online, "activated": activated, "online": online,
                     "events": [e.name for e in camera.events()]})
            elif command == "quit":
                break
    finally:
        sniffer.stop()
        camera.power_off()
        device_loop.stop()
        cloud.stop()
        say({"stopped": True, "sniffer": sniffer.info()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
