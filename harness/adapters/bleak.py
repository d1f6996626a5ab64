"""The ``bleak`` network adapter: the app's Bluetooth LE central on a real radio (PROTOCOL.md §9.12).

bleak is a GATT *client* library: it drives the app side against a real device (scan by service UUID, connect,
the ATT MTU, writes without response, notifications). It cannot play a device; the integration test plays one with
``bless``. bleak is asyncio; this adapter runs one event loop in a background thread and offers the blocking
:class:`~harness.adapters.ble_contracts.BleCentral` contract the activator and the suites use, as its ``ble``
attribute.

Verdicts: a radio that is not there (no adapter, no BlueZ, no D-Bus system bus) makes the BLE tests N/A with the
reason (:meth:`BleakCentral.unavailable_reason`, read through :func:`~harness.adapters.ble_contracts.ble_central`);
radio trouble while a test runs (a connection that fails, a link lost, a write refused) is an
:class:`~harness.adapters.contracts.AdapterError` (ERROR) with the reason, never the device's FAIL.

§9.12 notes followed: service data is keyed by the 128-bit UUID string and manufacturer data by the company ID
(bleak's own keys); scans are active, so that the scan response (the encrypted BLE ID) is merged; BlueZ reports
ATT_MTU 23 until the MTU is acquired, so the adapter acquires it after connecting (bleak issue #1497) and falls
back to 23, where the app announces 20 and writes 20-byte sub-packets.

This adapter does no Wi-Fi: EZ and AP sends are N/A (:class:`~harness.adapters.contracts.CapabilityMissing`); the
lab's access point must exist with the SSID and password the test uses (as with the scapy adapter).

Profile::

    [adapters.network]
    name = "bleak"
    args = { adapter = "hci0", scan_mode = "active", connect_timeout_s = 20 }
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from harness.adapters.ble_contracts import BleAdvertisement, BleLinkLost, BleUnavailable
from harness.adapters.contracts import AccessPoint, AdapterError, ApAddress, CapabilityMissing, Security
from harness.adapters.registry import WorldContext

T = TypeVar("T")
ClientFactory = Callable[..., Any]
ScannerFactory = Callable[..., Any]
#: How long the availability probe may take (real seconds): a scanner started and stopped once.
PROBE_TIMEOUT_S = 5.0
SYS_BLUETOOTH = Path("/sys/class/bluetooth")


class _LoopThread:
    """One asyncio loop in a daemon thread; :meth:`run` waits for a coroutine on it, bounded."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise AdapterError("a blocking BLE call from the radio's own thread would deadlock")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the BLE radio did not answer within {timeout:g} s") from None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()


def _bleak_factories() -> tuple[ClientFactory, ScannerFactory]:
    from bleak import BleakClient, BleakScanner

    return BleakClient, BleakScanner


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"no D-Bus system bus to reach BlueZ ({exc})"
    text = str(exc).strip() or type(exc).__name__
    if "ServiceUnknown" in text or "org.bluez was not provided" in text:
        return f"BlueZ (bluetoothd) is not running: {text}"
    return f"{type(exc).__name__}: {text}"


class BleakLink:
    """One connection through a ``BleakClient``: the contract's blocking calls on the adapter's loop."""

    def __init__(self, central: BleakCentral, client: Any, address: str, att_mtu: int) -> None:
        self._central = central
        self._client = client
        self.address = address
        self._att_mtu = att_mtu
        self._on_disconnect: list[Callable[[str], None]] = []
        self._lost: str | None = None
        self._lock = threading.Lock()

    @property
    def att_mtu(self) -> int:
        return self._att_mtu

    @property
    def connected(self) -> bool:
        return self._lost is None and bool(getattr(self._client, "is_connected", False))

    def _disconnected(self, reason: str) -> None:
        with self._lock:
            if self._lost is not None:
                return
            self._lost = reason
            callbacks, self._on_disconnect = self._on_disconnect, []
        for callback in callbacks:
            callback(reason)

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        with self._lock:
            if self._lost is None:
                self._on_disconnect.append(callback)
                return
            reason = self._lost
        callback(reason)

    def start_notify(self, characteristic: str, callback: Callable[[bytes], None]) -> None:
        def deliver(_characteristic: Any, data: bytearray) -> None:
            callback(bytes(data))

        self._call(self._client.start_notify(characteristic, deliver), f"enabling notifications on {characteristic}")

    def write(self, characteristic: str, data: bytes, *, response: bool = False) -> None:
        if len(data) > self._att_mtu - 3:
            raise AdapterError(f"a write of {len(data)} bytes does not fit ATT_MTU {self._att_mtu}")
        self._call(self._client.write_gatt_char(characteristic, bytes(data), response=response),
                   f"writing {len(data)} bytes to {characteristic}")

    def disconnect(self) -> None:
        if self._lost is None:
            with contextlib.suppress(Exception):  # going down anyway: nothing to report
                self._central.runner.run(self._client.disconnect(), self._central.connect_timeout_s)
        self._disconnected("central")

    def _call(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        if not self.connected:
            coro.close()
            raise BleLinkLost(f"the BLE link to {self.address} is down ({self._lost or 'not connected'})")
        try:
            self._central.runner.run(coro, self._central.io_timeout_s)
        except Exception as exc:
            if not self.connected:
                raise BleLinkLost(f"the BLE link to {self.address} dropped while {what}: {_describe(exc)}") from exc
            raise AdapterError(f"the radio failed {what}: {_describe(exc)}") from exc


class BleakCentral:
    """The :class:`~harness.adapters.ble_contracts.BleCentral` contract over bleak (module docstring).

    ``client_factory`` and ``scanner_factory`` default to ``bleak.BleakClient`` and ``bleak.BleakScanner``; tests
    hand in fakes with the same calls.
    """

    name = "bleak"

    def __init__(self, *, adapter: str | None = None, scan_mode: str = "active", connect_timeout_s: float = 20.0,
                 io_timeout_s: float = 10.0, client_factory: ClientFactory | None = None,
                 scanner_factory: ScannerFactory | None = None, check_system: bool = True) -> None:
        if scan_mode not in ("active", "passive"):
            raise AdapterError(f"scan_mode is 'active' or 'passive', got {scan_mode!r}")
        self.adapter = adapter
        self.scan_mode = scan_mode
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self._factories = (client_factory, scanner_factory)
        self._check_system = check_system
        self._reason: str | None = None
        self._probed = False
        self.runner = _LoopThread("paircert-bleak")

    # -- availability -------------------------------------------------------------------------------------

    def _factories_or_reason(self) -> tuple[ClientFactory, ScannerFactory] | str:
        client, scanner = self._factories
        if client is not None and scanner is not None:
            return client, scanner
        try:
            return _bleak_factories()
        except ImportError as exc:
            return f"the bleak package is not installed ({exc})"

    def unavailable_reason(self) -> str | None:
        """Why this machine has no usable BLE radio (no adapter, no BlueZ, ...), or None; probed once."""
        if self._probed:
            return self._reason
        self._probed = True
        factories = self._factories_or_reason()
        if isinstance(factories, str):
            self._reason = factories
            return self._reason
        if self._check_system and sys.platform.startswith("linux"):
            controllers = sorted(p.name for p in SYS_BLUETOOTH.glob("hci*")) if SYS_BLUETOOTH.is_dir() else []
            if not controllers:
                self._reason = ("no Bluetooth adapter: /sys/class/bluetooth lists no hci controller (a kernel "
                                "without Bluetooth, or no controller attached)")
                return self._reason
            if self.adapter is not None and self.adapter not in controllers:
                self._reason = f"no Bluetooth adapter {self.adapter} (the controllers are {', '.join(controllers)})"
                return self._reason
        try:
            self.runner.run(self._probe(factories[1]), PROBE_TIMEOUT_S)
        except Exception as exc:
            self._reason = f"bleak cannot scan: {_describe(exc)}"
        return self._reason

    async def _probe(self, scanner_factory: ScannerFactory) -> None:
        scanner = scanner_factory(**self._scanner_args())
        await scanner.start()
        await scanner.stop()

    def _scanner_args(self, **extra: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"scanning_mode": self.scan_mode, **extra}
        if self.adapter is not None:
            args["bluez"] = {"adapter": self.adapter}
        return args

    def _require(self) -> tuple[ClientFactory, ScannerFactory]:
        reason = self.unavailable_reason()
        factories = self._factories_or_reason()
        if reason is not None or isinstance(factories, str):
            raise BleUnavailable(self.name, reason or str(factories))
        return factories

    # -- scanning ----------------------------------------------------------------------------------------

    def scan(self, service_uuids: Sequence[str], *, timeout: float,
             until: Callable[[Sequence[BleAdvertisement]], bool] | None = None) -> list[BleAdvertisement]:
        """Advertisers with one of ``service_uuids`` in their service data, scanning up to ``timeout`` s or until
        ``until(seen)`` holds; the latest advertisement of each address (§9.12: active scanning merges the scan
        response)."""
        _, scanner_factory = self._require()
        try:
            return self.runner.run(self._scan(scanner_factory, list(service_uuids), timeout, until), timeout + 10.0)
        except (AdapterError, TimeoutError):
            raise
        except Exception as exc:
            raise AdapterError(f"the BLE scan failed: {_describe(exc)}") from exc

    async def _scan(self, scanner_factory: ScannerFactory, service_uuids: list[str], timeout: float,
                    until: Callable[[Sequence[BleAdvertisement]], bool] | None) -> list[BleAdvertisement]:
        wanted = {uuid.lower() for uuid in service_uuids}
        seen: dict[str, BleAdvertisement] = {}
        done = asyncio.Event()

        def detected(device: Any, data: Any) -> None:
            service_data = {str(k).lower(): bytes(v) for k, v in (getattr(data, "service_data", None) or {}).items()}
            if wanted and not wanted & set(service_data):
                return
            manufacturer = getattr(data, "manufacturer_data", None) or {}
            seen[str(device.address)] = BleAdvertisement(
                address=str(device.address), service_data=service_data,
                manufacturer_data={int(k): bytes(v) for k, v in manufacturer.items()},
                name=getattr(data, "local_name", None) or getattr(device, "name", None),
                rssi=getattr(data, "rssi", None))
            if until is not None and until(list(seen.values())):
                done.set()

        scanner = scanner_factory(**self._scanner_args(detection_callback=detected,
                                                       service_uuids=sorted(wanted) or None))
        await scanner.start()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), max(0.0, timeout))
        finally:
            await scanner.stop()
        return list(seen.values())

    # -- connecting ------------------------------------------------------------------------------------

    def connect(self, address: str, *, timeout: float, att_mtu: int = 247) -> BleakLink:
        """Connect to ``address`` and learn the ATT MTU (acquired on BlueZ; 23 when it cannot be)."""
        client_factory, _ = self._require()
        try:
            return self.runner.run(self._connect(client_factory, address, timeout), timeout + 10.0)
        except AdapterError:
            raise
        except Exception as exc:
            raise AdapterError(f"could not connect to {address}: {_describe(exc)}") from exc

    async def _connect(self, client_factory: ClientFactory, address: str, timeout: float) -> BleakLink:
        holder: list[BleakLink] = []

        def disconnected(_client: Any) -> None:
            if holder:
                holder[0]._disconnected("peer or radio")

        kwargs: dict[str, Any] = {"disconnected_callback": disconnected, "timeout": timeout}
        if self.adapter is not None:
            kwargs["bluez"] = {"adapter": self.adapter}
        client = client_factory(address, **kwargs)
        await client.connect()
        mtu = await self._mtu(client)
        link = BleakLink(self, client, address, mtu)
        holder.append(link)
        return link

    @staticmethod
    async def _mtu(client: Any) -> int:
        """§9.12: BlueZ reports 23 unless the MTU is acquired (bleak issue #1497)."""
        backend = getattr(client, "_backend", None)
        acquire = getattr(backend, "_acquire_mtu", None)
        if acquire is not None:
            with contextlib.suppress(Exception):  # not every device offers AcquireWrite: keep 23, announce 20
                await acquire()
        with contextlib.suppress(Exception):
            return max(23, int(client.mtu_size))
        return 23

    def info(self) -> Mapping[str, Any]:
        return {"radio": "bleak", "adapter": self.adapter, "scan_mode": self.scan_mode,
                "unavailable": self._reason if self._probed else None}

    def close(self) -> None:
        self.runner.close()


class BleakNetworkAdapter:
    """A network adapter whose only medium is the BLE radio (module docstring)."""

    name = "bleak"
    #: It creates no Wi-Fi network and sends no EZ (:class:`~harness.adapters.contracts.NetworkCapability`).
    capabilities: frozenset[str] = frozenset()
    capability_note = "a Bluetooth LE radio only: the lab's access point is the profile's [parameters.wifi]"

    def __init__(self, central: BleakCentral) -> None:
        self.ble = central
        self._access_points: dict[bytes, Security] = {}

    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        """Record the credentials the lab's access point is assumed to have (it cannot be created from here)."""
        self._access_points[ssid] = Security(security) if security is not None else (
            Security.WPA2_PSK if password else Security.OPEN)

    def remove_access_point(self, ssid: bytes) -> None:
        self._access_points.pop(ssid, None)

    def access_points(self) -> list[AccessPoint]:
        return [AccessPoint(ssid, security) for ssid, security in self._access_points.items()]

    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None:
        raise CapabilityMissing(self.name, "ez (the bleak adapter has only a BLE radio)")

    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        raise CapabilityMissing(self.name, "ap (the bleak adapter has only a BLE radio)")

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        raise CapabilityMissing(self.name, "ap (the bleak adapter has only a BLE radio)")

    def info(self) -> Mapping[str, Any]:
        return {"adapter": "bleak", "ble": dict(self.ble.info())}

    def close(self) -> None:
        self.ble.close()


def bleak_network(context: WorldContext, *, adapter: str | None = None, interface: str | None = None,
                  scan_mode: str = "active", connect_timeout_s: float = 20.0,
                  io_timeout_s: float = 10.0) -> BleakNetworkAdapter:
    """The ``bleak`` network adapter; ``adapter`` (or the profile's ``interface``) names the controller, e.g.
    ``hci0``."""
    return BleakNetworkAdapter(BleakCentral(adapter=adapter or interface, scan_mode=scan_mode,
                                            connect_timeout_s=connect_timeout_s, io_timeout_s=io_timeout_s))


__all__ = ["BleakCentral", "BleakLink", "BleakNetworkAdapter", "bleak_network"]
