"""A fake world for the plugin's black-box tests: copied into each pytester directory as its conftest.py.

It implements the plugin's ``pytest_paircert_make_world`` hook. Environment variables shape it:
``FAKE_CLOUD_CAPS`` (comma-separated cloud capabilities, default ``time-travel``), ``FAKE_DEVICE_BROKEN``
(``1``: the device never reaches pairing mode; ``2``: not from the third preparation on, until power cycled),
``FAKE_POWER_CYCLE`` (``works``/``fails``: the device can be power cycled, which brings it back or does not),
``FAKE_AUTHKEY`` (the device licence's AuthKey).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.adapters.contracts import AdapterError, ApAddress, DeviceEvent, Licence
from harness.clock import VirtualClock
from harness.evidence import step

CALLS: list[str] = []


class FakeCloud:
    name = "fake"
    region = "AY"

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.capabilities = frozenset(c for c in os.environ.get("FAKE_CLOUD_CAPS", "time-travel").split(",") if c)
        self.counter = 0

    def _id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}{self.counter}"

    def create_account(self, name: str) -> str:
        return self._id("acct")

    def create_home(self, account: str, name: str) -> str:
        return self._id("home")

    def add_member(self, home: str, account: str, role: Any) -> None:
        pass

    def get_token(self, home: str, account: str) -> str:
        return "AYabcdefgh" + f"{self.counter:04d}"

    def token_attempts(self, token: str) -> Sequence[Any]:
        return []

    def device(self, dev_id: str) -> None:
        return None

    def advance_time(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def info(self) -> Mapping[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        pass


class FakeDevice:
    name = "fake-device"
    pid = "pcertcamstrong01"

    def __init__(self, clock: VirtualClock) -> None:
        self.capabilities = frozenset({"factory-reset", "events", "scan-qr"} |
                                      ({"power-cycle"} if os.environ.get("FAKE_POWER_CYCLE") else set()))
        self.waits = 0
        self.hung = False
        self.clock = clock
        self.licence = Licence("fakeuuid0000000001", os.environ.get("FAKE_AUTHKEY", "A" * 32), self.pid)
        self._events: list[DeviceEvent] = []

    def factory_reset(self) -> None:
        CALLS.append("factory_reset")
        self._events.append(DeviceEvent(self.clock.time(), "factory reset"))

    def reset(self) -> None:
        pass

    def power_cycle(self) -> None:
        CALLS.append("power_cycle")
        if os.environ.get("FAKE_POWER_CYCLE") == "fails":
            raise AdapterError("hook 'power_cycle' (relay.sh) exited with status 7")
        self.hung = False

    def wait_pairing_mode(self, timeout: float) -> None:
        self.waits += 1
        broken = os.environ.get("FAKE_DEVICE_BROKEN")
        if broken == "2" and self.waits == 3:
            self.hung = True
        if broken == "1" or self.hung:
            raise AdapterError("the fake device never reached pairing mode")
        self._events.append(DeviceEvent(self.clock.time(), "pairing mode"))

    @step
    def present_qr(self, image: Any) -> None:
        self._events.append(DeviceEvent(self.clock.time(), "qr shown", {"size": list(image.size)}))

    def ap_address(self) -> ApAddress | None:
        return None

    def events(self) -> Sequence[DeviceEvent]:
        return list(self._events)

    def is_alive(self) -> bool:
        return True

    def info(self) -> Mapping[str, Any]:
        return {"name": self.name, "firmware": "9.9.9"}

    def close(self) -> None:
        pass


class FakeNetwork:
    name = "fake-air"

    @step
    def add_access_point(self, ssid: bytes, password: bytes) -> None:
        pass

    def remove_access_point(self, ssid: bytes) -> None:
        pass

    def send_ez(self, ssid: bytes, password: bytes, token: bytes, **kwargs: Any) -> None:
        pass

    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        pass

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        return []

    def info(self) -> Mapping[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        pass


class FakeWorld:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.cloud = FakeCloud(self.clock)
        self.device = FakeDevice(self.clock)
        self.network = FakeNetwork()

    def info(self) -> dict[str, Any]:
        return {"fake": True, "licence_authkey_should_not_leak": self.device.licence.auth_key}

    def new_device(self) -> FakeDevice:
        return FakeDevice(self.clock)

    def secrets(self) -> list[str]:
        return [self.device.licence.auth_key]

    def close(self) -> None:
        CALLS.append("world closed")


def pytest_paircert_make_world(config: Any, profile: Any, cloud: Any, device: Any, network: Any,
                               seed: int) -> FakeWorld:
    return FakeWorld()
