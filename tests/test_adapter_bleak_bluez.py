"""The bleak network adapter over a real BlueZ stack (PROTOCOL.md §9.12): the app side (the adapter's
:class:`~harness.adapters.bleak.BleakCentral` and :func:`harness.app.ble.provision`) pairs with a ``bless``
peripheral that plays the emulated device: the sans-IO :class:`~harness.protocol.ble.BleDeviceConnection` behind a
GATT server with the Tuya layout (§9.2), advertising what the emulated camera advertises (§9.3.1).

The radio is two virtual LE controllers: the kernel's ``hci_vhci`` (loaded with ``modprobe hci_vhci`` when
``/dev/vhci`` is missing) driven by BlueZ's ``btvirt``, with ``bluetoothd`` on a system D-Bus. It needs root, a
kernel with Bluetooth and hci_vhci, and BlueZ from apt (``bluez``, ``bluez-test-tools``: ``make bluez``); wherever a
piece is missing the test skips and says which (on a kernel built without Bluetooth, ``# CONFIG_BT is not set``).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.bleak import BleakCentral
from harness.adapters.contracts import Licence
from harness.app.ble import provision
from harness.protocol.ble import BleDeviceConnection, WifiConfigured, WifiCredentials, advertise_v4, ble_id
from harness.protocol.ble.gatt import NOTIFY_CHARACTERISTIC, WRITE_CHARACTERISTIC, uuid16

LICENCE = Licence(uuid="pcbluezvhci0123456ab", auth_key="keyAbCdEfGhIjKlMnOpQrStUvWxYz012", pid="pcertcamstrong01")
SERVICE = uuid16(0xFD50)
WAIT_S = 20.0


def _kernel_says() -> str:
    config = Path("/proc/config.gz")
    if not config.exists():
        return ""
    with gzip.open(config, "rt") as lines:
        wanted = [line.strip() for line in lines if line.startswith(("# CONFIG_BT is not set", "CONFIG_BT=",
                                                                     "CONFIG_BT_HCIVHCI", "# CONFIG_BT_HCIVHCI"))]
    return f" (kernel config: {'; '.join(wanted)})" if wanted else ""


def _missing() -> str | None:
    """Why the virtual BlueZ lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to load hci_vhci and run btvirt and bluetoothd"
    if not Path("/dev/vhci").exists():
        modprobe = shutil.which("modprobe")
        if modprobe is not None:
            subprocess.run([modprobe, "hci_vhci"], capture_output=True, timeout=30, check=False)
        if not Path("/dev/vhci").exists():
            how = "modprobe hci_vhci did not create it" if modprobe else "no modprobe to load hci_vhci"
            return f"no virtual Bluetooth controller: /dev/vhci is missing ({how}){_kernel_says()}"
    tools = {name: _tool(name) for name in ("btvirt", "bluetoothd", "btmgmt", "dbus-daemon")}
    absent = sorted(name for name, path in tools.items() if path is None)
    if absent:
        return f"BlueZ tools missing: {', '.join(absent)} (apt-get install bluez bluez-test-tools dbus, or make bluez)"
    try:
        import bless  # noqa: F401
    except ImportError as exc:
        return f"the bless package is not installed ({exc})"
    return None


def _tool(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/libexec/bluetooth/{name}", f"/usr/lib/bluetooth/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _wait(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"the BlueZ lab did not come up: {what} within {WAIT_S:g} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def bluez_lab() -> Iterator[tuple[str, str]]:
    """Two powered virtual LE controllers under bluetoothd: (central's, peripheral's) hci names."""
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    started: list[subprocess.Popen[bytes]] = []
    try:
        if not Path("/run/dbus/system_bus_socket").exists():
            Path("/run/dbus").mkdir(parents=True, exist_ok=True)
            started.append(subprocess.Popen([str(_tool("dbus-daemon")), "--system", "--nofork"]))
            _wait(lambda: Path("/run/dbus/system_bus_socket").exists(), "the system D-Bus")
        before = set(p.name for p in Path("/sys/class/bluetooth").glob("hci*"))
        started.append(subprocess.Popen([str(_tool("btvirt")), "-L", "-l2"]))  # two LE controllers, one air
        _wait(lambda: len(set(p.name for p in Path("/sys/class/bluetooth").glob("hci*")) - before) >= 2,
              "two btvirt controllers")
        central, peripheral = sorted(set(p.name for p in Path("/sys/class/bluetooth").glob("hci*")) - before)[:2]
        started.append(subprocess.Popen([str(_tool("bluetoothd")), "-n", "-E"]))
        for hci in (central, peripheral):
            index = hci.removeprefix("hci")
            _wait(lambda i=index: subprocess.run([str(_tool("btmgmt")), "--index", i, "power", "on"],
                                                 capture_output=True, timeout=10).returncode == 0, f"{hci} powered")
        yield central, peripheral
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


async def _serve_device(adapter: str, device: BleDeviceConnection, stop: asyncio.Event) -> None:
    """A bless GATT server with the Tuya layout that feeds every write to ``device`` and notifies its answers."""
    from bless import BlessServer, GATTAttributePermissions, GATTCharacteristicProperties
    from bless.backends.bluezdbus.dbus import application
    from dbus_next import Variant

    adv_data, scan_response = advertise_v4(id16=device.ble_id, id_field=LICENCE.pid.encode()).encode()
    from harness.emulator.radio import ScanResult

    record = ScanResult("00:00:00:00:00:00", adv_data, scan_response)
    original = application.BlueZGattApplication.start_advertising

    async def start_advertising(self: Any, bluez_adapter: Any) -> None:
        # bless advertises the first service's UUID only; the Tuya service and manufacturer data (§9.3.1) go in
        # the same LEAdvertisement1 object before BlueZ reads it.
        export = self.bus.export

        def export_with_data(path: str, advertisement: Any) -> None:
            advertisement._service_data = {k: Variant("ay", v) for k, v in record.service_data.items()}
            advertisement._manufacturer_data = {k: Variant("ay", v) for k, v in record.manufacturer_data.items()}
            export(path, advertisement)

        self.bus.export = export_with_data
        try:
            await original(self, bluez_adapter)
        finally:
            self.bus.export = export

    application.BlueZGattApplication.start_advertising = start_advertising
    server = BlessServer(name="TYBLE", adapter=adapter)

    def written(_characteristic: Any, value: bytearray) -> None:
        device.receive_data(bytes(value))
        for notification in device.data_to_send():
            server.get_characteristic(NOTIFY_CHARACTERISTIC).value = bytearray(notification)
            server.update_value(SERVICE, NOTIFY_CHARACTERISTIC)

    server.write_request_func = written
    try:
        await server.add_new_service(SERVICE)
        await server.add_new_characteristic(
            SERVICE, WRITE_CHARACTERISTIC,
            GATTCharacteristicProperties.write | GATTCharacteristicProperties.write_without_response, None,
            GATTAttributePermissions.writeable)
        await server.add_new_characteristic(SERVICE, NOTIFY_CHARACTERISTIC, GATTCharacteristicProperties.notify, None,
                                            GATTAttributePermissions.readable)
        await server.start()
        await stop.wait()
        await server.stop()
    finally:
        application.BlueZGattApplication.start_advertising = original


def test_the_app_side_pairs_over_bluez_with_a_bless_peripheral(bluez_lab: tuple[str, str]) -> None:
    central_hci, peripheral_hci = bluez_lab
    device = BleDeviceConnection(auth_key=LICENCE.auth_key.encode(), uuid=LICENCE.uuid, srand=os.urandom(6),
                                 iv_source=lambda: os.urandom(16))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    import threading

    thread = threading.Thread(target=loop.run_until_complete,
                              args=(_serve_device(peripheral_hci, device, stop),), daemon=True)
    thread.start()
    radio = BleakCentral(adapter=central_hci)
    try:
        assert radio.unavailable_reason() is None
        credentials = WifiCredentials("BlueZ-Net", "bluez-pass-1", "AYabcdefgh1234")
        failure = provision(radio, LICENCE, credentials)
        assert failure is None, failure
        configured = [e for e in device.events() if isinstance(e, WifiConfigured)]
        assert [e.credentials for e in configured] == [credentials]
        assert device.ble_id == ble_id(LICENCE.uuid)
    finally:
        radio.close()
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT_S)
