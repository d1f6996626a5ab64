"""The app's Bluetooth LE central on the emulated world's radio (:mod:`harness.emulator.radio`), behind the
:class:`~harness.adapters.ble_contracts.BleCentral` contract: what the in-memory ``air`` network adapter offers as
its ``ble`` attribute, so that the activator and the suites speak to an emulated device exactly as to a real one
through the ``bleak`` adapter (:mod:`harness.adapters.bleak`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.adapters.ble_contracts import BleAdvertisement, BleLinkLost
from harness.adapters.contracts import AdapterError
from harness.emulator.radio import LinkLost, Radio, RadioError, RadioLink, ScanResult

#: How long a connection attempt waits for an advertiser that is not there yet (real seconds, polled).
_CONNECT_POLL_S = 0.01


def _advertisement(result: ScanResult) -> BleAdvertisement:
    return BleAdvertisement(address=result.address, service_data=result.service_data,
                            manufacturer_data=result.manufacturer_data, name=result.name, rssi=result.rssi)


class EmulatedBleLink:
    """A :class:`~harness.emulator.radio.RadioLink` as the app's end of a connection."""

    def __init__(self, link: RadioLink) -> None:
        self._link = link
        self.address = link.address

    @property
    def att_mtu(self) -> int:
        return self._link.att_mtu

    @property
    def connected(self) -> bool:
        return self._link.connected

    def start_notify(self, characteristic: str, callback: Callable[[bytes], None]) -> None:
        try:
            self._link.subscribe(characteristic, callback)
        except LinkLost as exc:
            raise BleLinkLost(str(exc)) from exc

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        self._link.on_disconnect(callback)

    def write(self, characteristic: str, data: bytes, *, response: bool = False) -> None:
        try:
            self._link.write(characteristic, data, response=response)
        except LinkLost as exc:
            raise BleLinkLost(str(exc)) from exc
        except RadioError as exc:
            raise AdapterError(f"the radio refused the write: {exc}") from exc

    def disconnect(self) -> None:
        self._link.disconnect("central")


class EmulatedBleCentral:
    """Scan and connect on the world's :class:`~harness.emulator.radio.Radio`."""

    name = "radio"

    def __init__(self, radio: Radio) -> None:
        self.radio = radio

    def unavailable_reason(self) -> str | None:
        """None while an emulated device is on the radio; it reaches nothing else (a real device needs the bleak
        network adapter)."""
        if self.radio.peripheral_count:
            return None
        return "the in-memory radio reaches emulated devices only, and none is on it (use the bleak network adapter)"

    def scan(self, service_uuids: Sequence[str], *, timeout: float,
             until: Callable[[Sequence[BleAdvertisement]], bool] | None = None) -> list[BleAdvertisement]:
        """The advertisers with service data under one of ``service_uuids`` (any, when empty)."""
        wanted = {uuid.lower() for uuid in service_uuids}

        def convert(results: list[ScanResult]) -> list[BleAdvertisement]:
            found = [_advertisement(r) for r in results]
            return [a for a in found if not wanted or wanted & {k.lower() for k in a.service_data}]

        done = None if until is None else (lambda results: until(convert(results)))
        return convert(self.radio.scan(timeout=timeout, until=done))

    def connect(self, address: str, *, timeout: float, att_mtu: int = 247) -> EmulatedBleLink:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return EmulatedBleLink(self.radio.connect(address, att_mtu=att_mtu))
            except RadioError as exc:
                if time.monotonic() >= deadline:
                    raise AdapterError(f"could not connect to {address}: {exc}") from exc
            time.sleep(_CONNECT_POLL_S)

    def info(self) -> Mapping[str, Any]:
        return {"radio": "emulated", "seed": self.radio.seed, "loss": self.radio.loss,
                "duplicate": self.radio.duplicate}


__all__ = ["EmulatedBleCentral", "EmulatedBleLink"]
