"""A small emulated lab for the camera tests: one cloud, one device loop, one air, accounts and tokens."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from harness.clock import VirtualClock
from harness.emulator.air import Air
from harness.emulator.camera.faults import make_camera
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.camera.states import State
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.loop import DeviceLoop
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr

SSID = b"home-net"
PASSWORD = b"pw123456"


class Lab:
    def __init__(self, cloud: EmulatedCloud, device_loop: DeviceLoop, clock: VirtualClock) -> None:
        self.cloud = cloud
        self.device_loop = device_loop
        self.clock = clock
        self.air = Air(clock=clock)
        self.air.add_access_point(SSID, PASSWORD)
        self.product = cloud.app.create_product(name="cam", category="sp")
        self.owner = cloud.app.create_account("alice")
        self.home = cloud.app.create_home(self.owner, "flat")
        self._macs = itertools.count(1)
        self.cameras: list[EmulatedCamera] = []

    @property
    def endpoint(self) -> CloudEndpoint:
        return CloudEndpoint(self.cloud.atop_url, self.cloud.mqtt_host, self.cloud.mqtt_port)

    def token(self) -> str:
        return self.cloud.app.get_token(self.owner, self.home).pairing_token

    def camera(self, *, faults: Iterable[Any] = (), power: bool = True, air: Air | None = None,
               **kwargs: Any) -> EmulatedCamera:
        licence = self.cloud.app.issue_licence(self.product.pid)
        n = next(self._macs)
        cam = make_camera(self.device_loop, air or self.air, uuid=licence.uuid, auth_key=licence.auth_key,
                          pid=self.product.pid, mac=f"02:00:00:00:{n >> 8:02x}:{n & 0xFF:02x}",
                          cloud=kwargs.pop("cloud", self.endpoint), faults=faults, **kwargs)
        self.cameras.append(cam)
        if power:
            cam.power_on()
            if "ap" in cam.pairing_modes:
                cam.wait_for_event("ap-open", 5)
        return cam

    def online(self, cam: EmulatedCamera, timeout: float = 10.0) -> None:
        assert cam.wait_for_state(State.ONLINE, State.FAILED, timeout=timeout) is State.ONLINE, cam.events()
        dev_id = cam.dev_id
        assert dev_id is not None
        wait_until(lambda: bool(self.cloud.device(dev_id) and self.cloud.device(dev_id).online))  # type: ignore[union-attr]

    def device(self, cam: EmulatedCamera) -> Any:
        assert cam.dev_id is not None
        return self.cloud.device(cam.dev_id)


def qr_image(ssid: bytes | str = SSID, password: bytes | str = PASSWORD, token: str = "", **style: Any) -> Any:
    s = ssid.decode() if isinstance(ssid, bytes) else ssid
    p = password.decode() if isinstance(password, bytes) else password
    return render_qr(QrPayload(s, p, token).to_bytes(**style))


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def udp_exchange(address: tuple[str, int, int], frame: bytes, timeout: float = 0.5) -> bytes | None:
    """One datagram to a camera's SoftAP UDP port (``address``: host, UDP port, TCP port) and its answer, if any
    comes within ``timeout``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(frame, (address[0], address[1]))
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


@contextmanager
def lab() -> Iterator[Lab]:
    clock = VirtualClock()
    with EmulatedCloud(clock=clock) as cloud, DeviceLoop(clock) as device_loop:
        yield Lab(cloud, device_loop, clock)
