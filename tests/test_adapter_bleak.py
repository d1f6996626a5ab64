"""The bleak network adapter (PROTOCOL.md §9.12) against a fake BleakClient and BleakScanner: N/A with the reason
when there is no radio, scanning by service UUID with bleak's keys, the MTU acquired, writes without response,
radio trouble as ERROR (never FAIL), and the whole activator pairing an emulated device through the adapter, with
the fakes carrying bleak's calls over the emulated radio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from bleak.exc import BleakDeviceNotFoundError, BleakError

from harness.adapters import bleak as bleak_adapter
from harness.adapters.ble_contracts import BleLinkLost, BleUnavailable, ble_central
from harness.adapters.bleak import BleakCentral, BleakNetworkAdapter
from harness.adapters.contracts import AdapterError, CapabilityMissing, Licence
from harness.adapters.registry import build_world
from harness.app import Activator, ActivatorMode, pair
from harness.app.ble import provision
from harness.conformance.verdicts import Verdict, classify
from harness.emulator.radio import Radio, RadioLink, ScanResult
from harness.model import ActivatorErrorCode
from harness.profiles import load_profile
from harness.protocol.ble import WifiCredentials, advertise_v4, ble_id
from harness.protocol.ble.gatt import NOTIFY_CHARACTERISTIC, WRITE_CHARACTERISTIC, uuid16

FD50 = uuid16(0xFD50)


@dataclass
class FakeDevice:
    address: str
    name: str | None = None


@dataclass
class FakeAdvertisementData:
    service_data: dict[str, bytes] = field(default_factory=dict)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    local_name: str | None = None
    rssi: int = -60


class ScriptedScanner:
    """A BleakScanner that reports a fixed list of (device, advertisement data), one per 10 ms."""

    made: ClassVar[list[ScriptedScanner]] = []

    def __init__(self, adverts: list[tuple[FakeDevice, FakeAdvertisementData]], **kwargs: Any) -> None:
        self.adverts = adverts
        self.kwargs = kwargs
        self.task: asyncio.Task[None] | None = None
        self.stopped = False
        ScriptedScanner.made.append(self)

    async def start(self) -> None:
        async def emit() -> None:
            for device, data in self.adverts if self.kwargs.get("detection_callback") else []:
                await asyncio.sleep(0.01)
                self.kwargs["detection_callback"](device, data)

        self.task = asyncio.get_running_loop().create_task(emit())

    async def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()


class RecordingClient:
    """A BleakClient that records calls; ``fail`` maps a method name to the exception it raises."""

    def __init__(self, address: str, *, disconnected_callback: Callable[[Any], None] | None = None,
                 timeout: float = 10.0, fail: dict[str, BaseException] | None = None, acquire_to: int = 247,
                 **kwargs: Any) -> None:
        self.address = address
        self.disconnected_callback = disconnected_callback
        self.fail = fail or {}
        self.writes: list[tuple[str, bytes, bool | None]] = []
        self.notifying: dict[str, Callable[[Any, bytearray], None]] = {}
        self.is_connected = False
        self._mtu = 23
        self._acquire_to = acquire_to
        self._backend = self  # bleak's BlueZ backend offers _acquire_mtu (issue #1497)

    async def _acquire_mtu(self) -> None:
        self._mtu = self._acquire_to

    @property
    def mtu_size(self) -> int:
        return self._mtu

    async def connect(self) -> None:
        if "connect" in self.fail:
            raise self.fail["connect"]
        self.is_connected = True

    async def start_notify(self, characteristic: str, callback: Callable[[Any, bytearray], None]) -> None:
        self.notifying[characteristic] = callback

    async def write_gatt_char(self, characteristic: str, data: bytes, response: bool | None = None) -> None:
        if "write" in self.fail:
            self.is_connected = False
            if self.disconnected_callback is not None:
                self.disconnected_callback(self)
            raise self.fail["write"]
        self.writes.append((characteristic, bytes(data), response))

    async def disconnect(self) -> None:
        self.is_connected = False


def central(client: Callable[..., Any] = RecordingClient, scanner: Callable[..., Any] | None = None,
            **kwargs: Any) -> BleakCentral:
    return BleakCentral(client_factory=client, scanner_factory=scanner or (lambda **kw: ScriptedScanner([], **kw)),
                        check_system=False, **kwargs)


@pytest.fixture
def made() -> list[BleakCentral]:
    centrals: list[BleakCentral] = []
    yield centrals
    for c in centrals:
        c.close()


def test_no_bluetooth_controller_makes_ble_not_applicable_with_the_reason(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          made: list[BleakCentral]) -> None:
    monkeypatch.setattr(bleak_adapter, "SYS_BLUETOOTH", tmp_path)  # no hci* entry: no controller
    radio = BleakCentral(client_factory=RecordingClient, scanner_factory=lambda **kw: ScriptedScanner([], **kw))
    made.append(radio)
    assert "no Bluetooth adapter" in (radio.unavailable_reason() or "")
    with pytest.raises(BleUnavailable) as caught:
        ble_central(BleakNetworkAdapter(radio))
    verdict, message = classify(caught.value, phase="call")
    assert verdict is Verdict.NA and "no Bluetooth adapter" in message


def test_a_scanner_that_cannot_start_names_the_reason(made: list[BleakCentral]) -> None:
    class NoBus(ScriptedScanner):
        async def start(self) -> None:
            raise FileNotFoundError(2, "No such file or directory")

    radio = central(scanner=lambda **kw: NoBus([], **kw))
    made.append(radio)
    assert "no D-Bus system bus" in (radio.unavailable_reason() or "")
    with pytest.raises(CapabilityMissing):
        radio.scan([FD50], timeout=0.1)


def test_scan_keys_service_data_by_uuid_and_stops_when_told(made: list[BleakCentral]) -> None:
    tuya = FakeAdvertisementData({FD50.upper(): b"\x43\x0c"}, {0x07D0: b"\x00" * 20}, "TYBLE")
    adverts = [(FakeDevice("AA:00:00:00:00:01"), FakeAdvertisementData({uuid16(0x180F): b"\x64"})),
               (FakeDevice("AA:00:00:00:00:02"), FakeAdvertisementData({FD50: b"\x43"})),
               (FakeDevice("AA:00:00:00:00:02"), tuya)]
    ScriptedScanner.made.clear()
    radio = central(scanner=lambda **kw: ScriptedScanner(adverts, **kw), adapter="hci1")
    made.append(radio)
    started = time.monotonic()
    found = radio.scan([FD50], timeout=5.0, until=lambda seen: any(a.name == "TYBLE" for a in seen))
    assert time.monotonic() - started < 4.0, "the scan did not stop once the wanted advertisement was seen"
    assert [(a.address, a.service_data, a.manufacturer_data[0x07D0]) for a in found] == [
        ("AA:00:00:00:00:02", {FD50: b"\x43\x0c"}, b"\x00" * 20)]  # latest per address, other services left out
    scanner = ScriptedScanner.made[-1]
    assert scanner.kwargs["service_uuids"] == [FD50] and scanner.kwargs["scanning_mode"] == "active"
    assert scanner.kwargs["bluez"] == {"adapter": "hci1"} and scanner.stopped


def test_connect_acquires_the_mtu_and_writes_without_response(made: list[BleakCentral]) -> None:
    clients: list[RecordingClient] = []

    def factory(address: str, **kwargs: Any) -> RecordingClient:
        clients.append(RecordingClient(address, **kwargs))
        return clients[-1]

    radio = central(client=factory)
    made.append(radio)
    link = radio.connect("AA:00:00:00:00:02", timeout=2.0)
    assert link.att_mtu == 247 and link.connected
    heard: list[bytes] = []
    link.start_notify(NOTIFY_CHARACTERISTIC, heard.append)
    clients[0].notifying[NOTIFY_CHARACTERISTIC](object(), bytearray(b"\x00\x05\x40abc"))
    link.write(WRITE_CHARACTERISTIC, b"\x01" * 244)
    assert heard == [b"\x00\x05\x40abc"]
    assert clients[0].writes == [(WRITE_CHARACTERISTIC, b"\x01" * 244, False)]
    with pytest.raises(AdapterError, match="does not fit ATT_MTU 247"):
        link.write(WRITE_CHARACTERISTIC, b"\x01" * 245)
    link.disconnect()
    assert not link.connected


def test_without_an_acquired_mtu_the_link_stays_at_23(made: list[BleakCentral]) -> None:
    radio = central(client=lambda address, **kw: RecordingClient(address, acquire_to=23, **kw))
    made.append(radio)
    assert radio.connect("AA:00:00:00:00:02", timeout=2.0).att_mtu == 23


def test_a_lost_link_is_radio_trouble_never_a_device_failure(made: list[BleakCentral]) -> None:
    radio = central(client=lambda address, **kw: RecordingClient(address, fail={"write": BleakError("lost")}, **kw))
    made.append(radio)
    link = radio.connect("AA:00:00:00:00:02", timeout=2.0)
    reasons: list[str] = []
    link.on_disconnect(reasons.append)
    with pytest.raises(BleLinkLost) as caught:
        link.write(WRITE_CHARACTERISTIC, b"\x00")
    assert reasons == ["peer or radio"]
    assert classify(caught.value, phase="call")[0] is Verdict.ERROR
    with pytest.raises(BleLinkLost):
        link.write(WRITE_CHARACTERISTIC, b"\x00")


def test_a_failed_connection_is_an_error_with_the_reason(made: list[BleakCentral]) -> None:
    missing = BleakDeviceNotFoundError("AA:00:00:00:00:09", "Device with address AA:00:00:00:00:09 was not found.")
    radio = central(client=lambda address, **kw: RecordingClient(address, fail={"connect": missing}, **kw))
    made.append(radio)
    with pytest.raises(AdapterError, match=r"could not connect to AA:00:00:00:00:09: .*not found"):
        radio.connect("AA:00:00:00:00:09", timeout=1.0)


def test_provisioning_over_a_failing_radio_is_the_harness_fault(made: list[BleakCentral]) -> None:
    """The app's BLE leg: radio trouble becomes -2561 with the harness marked at fault (ERROR), not the device."""
    tuya_scan = bleak_world_scan()
    radio = central(client=lambda address, **kw: RecordingClient(address, fail={"connect": BleakError("busy")}, **kw),
                    scanner=lambda **kw: ScriptedScanner(tuya_scan.adverts, **kw))
    made.append(radio)
    failure = provision(radio, tuya_scan.licence, WifiCredentials("net", "password1", "AYabcdefgh1234"))
    assert failure is not None and failure.code == ActivatorErrorCode.BLE_CONNECT_FAILED
    assert isinstance(failure.harness_fault, AdapterError) and "busy" in failure.message


@dataclass
class TuyaScan:
    licence: Any
    adverts: list[tuple[FakeDevice, FakeAdvertisementData]]


def bleak_world_scan() -> TuyaScan:
    """One emulated-camera advertisement as bleak would report it (from a camera on a throwaway radio)."""
    licence = Licence(uuid="pc0123456789abcdefgh", auth_key="k" * 32, pid="pcertcamstrong01")
    adv_data, scan_response = advertise_v4(id16=ble_id(licence.uuid), id_field=b"pcertcamstrong01").encode()
    result = ScanResult("AA:00:00:00:00:07", adv_data, scan_response)
    return TuyaScan(licence, [(FakeDevice(result.address),
                               FakeAdvertisementData(result.service_data, result.manufacturer_data, "TYBLE"))])


# ---- the whole activator through the adapter, the fakes carrying bleak's calls over the emulated radio


class RadioScanner:
    """A BleakScanner over an emulated :class:`Radio`: what is advertising, reported as bleak does."""

    def __init__(self, radio: Radio, **kwargs: Any) -> None:
        self.radio = radio
        self.callback = kwargs.get("detection_callback")  # None for the adapter's availability probe

    async def start(self) -> None:
        for result in self.radio.scan() if self.callback is not None else []:
            self.callback(FakeDevice(result.address, result.name),
                          FakeAdvertisementData(result.service_data, result.manufacturer_data, result.name))

    async def stop(self) -> None:
        return None


class RadioClient:
    """A BleakClient over an emulated :class:`Radio` link."""

    def __init__(self, radio: Radio, address: str, *, disconnected_callback: Callable[[Any], None], **_: Any) -> None:
        self.radio, self.address, self.disconnected_callback = radio, address, disconnected_callback
        self.link: RadioLink | None = None

    @property
    def is_connected(self) -> bool:
        return self.link is not None and self.link.connected

    @property
    def mtu_size(self) -> int:
        assert self.link is not None
        return self.link.att_mtu

    async def connect(self) -> None:
        self.link = self.radio.connect(self.address, att_mtu=247)
        self.link.on_disconnect(lambda _reason: self.disconnected_callback(self))

    async def start_notify(self, characteristic: str, callback: Callable[[Any, bytearray], None]) -> None:
        assert self.link is not None
        self.link.subscribe(characteristic, lambda data: callback(characteristic, bytearray(data)))

    async def write_gatt_char(self, characteristic: str, data: bytes, response: bool | None = None) -> None:
        assert self.link is not None
        self.link.write(characteristic, bytes(data), response=bool(response))

    async def disconnect(self) -> None:
        if self.link is not None:
            self.link.disconnect("central")


def test_the_activator_pairs_an_emulated_device_through_the_bleak_adapter() -> None:
    world = build_world(load_profile("camera-strong"), seed=11)
    radio_central = None
    try:
        radio = world.network.ble.radio  # type: ignore[attr-defined]
        radio_central = central(client=lambda address, **kw: RadioClient(radio, address, **kw),
                                scanner=lambda **kw: RadioScanner(radio, **kw))
        world.network.add_access_point(b"BleakNet", b"bleak-pass-1")
        alice = world.cloud.create_account("alice")
        home = world.cloud.create_home(alice, "flat")
        activator = Activator(world.cloud, account=alice, device=world.device,
                              network=BleakNetworkAdapter(radio_central))
        outcome = pair(activator, ActivatorMode.BLE, "BleakNet", "bleak-pass-1", activator.get_token(home),
                       timeout=100)
        assert outcome.ok and outcome.calls == 1, outcome.error
        assert outcome.device_model is not None and outcome.device_model.home == home
    finally:
        if radio_central is not None:
            radio_central.close()
        world.close()
