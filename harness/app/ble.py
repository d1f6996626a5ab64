"""The app side of BLE provisioning over a :class:`~harness.adapters.ble_contracts.BleCentral` (PROTOCOL.md §9.1).

:func:`find_device` scans by service UUID (0xFD50, and 0xA201 for the v3 format) and recognises the device by
the BLE ID its scan response carries encrypted (§9.6.6: "an app recovers the UUID from the advertisement
alone"). :class:`BleSession` is one connection: the sans-IO :class:`~harness.protocol.ble.BleAppConnection`
over a :class:`~harness.adapters.ble_contracts.BleLink`, with blocking calls that wait (in real time, bounded) for
the device's answers. :func:`provision` is the whole sequence the activator runs in ``ActivatorMode.BLE``:
device info, pair, Wi-Fi configuration, answer.

The app's choices (§9.2, §9.12, §9.14): the generation is the one the advertisement announces
(:func:`~harness.protocol.ble.generation_of`); each packet goes in one write when ``ATT_MTU - 3`` allows,
otherwise in sub-packets of ``ATT_MTU - 3`` (20 when the MTU stayed 23); the announced receive size is
``ATT_MTU - 3`` (at most 244) when the MTU exchange gave more than 23, else 20; writes are without response;
the JSON is ``{"ssid","pwd","token"}`` with ``pwd`` present for an open network, flag 0, no NUL. The
credentials come from a provider (§9.6.2: "a phone does not hold device AuthKeys"): here, the licence the lab
holds for the device under test.

Failures as the app reports them (§7 FAQ codes, §9.8; the mapping of device answers to codes is not established,
§9.14 item 8, so this is the harness's choice): no device found is 3700 (BleScanExpired); a refused pair
request (0x01, 0x02) or Wi-Fi configuration (0xF8, 0xF7, any non-zero) is -14; no answer within the response
timeout is -20; a connection that cannot be made or is lost is -2561 and, being radio trouble, is marked as the
harness's or lab's fault (ERROR, never the device's FAIL).
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.adapters.ble_contracts import BleAdvertisement, BleCentral, BleLink
from harness.adapters.contracts import AdapterError, Licence
from harness.errors import HarnessError
from harness.model import ActivatorErrorCode
from harness.protocol.ble import (
    Advertisement,
    AdvertisementV4,
    AppCredentials,
    BleAppConnection,
    DeviceInfoAnswer,
    Generation,
    MessageReceived,
    PacketDropped,
    PairAnswer,
    PairResult,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiCredentials,
    WifiResult,
    ble_id,
    generation_of,
    parse_scan_record,
)
from harness.protocol.ble.gatt import NOTIFY_CHARACTERISTIC, WRITE_CHARACTERISTIC, uuid16
from harness.protocol.ble.messages import Message
from harness.protocol.ble.transport import MAX_WRITE_SIZE, SAFE_WRITE_SIZE
from harness.protocol.errors import ProtocolError

#: §9.3: the current (0xFD50) and the older (0xA201) advertised service UUIDs, as bleak keys them.
SERVICE_UUIDS = (uuid16(0xFD50), uuid16(0xA201))
M = TypeVar("M")


@dataclass(frozen=True)
class BleOptions:
    """How the app drives the Bluetooth leg (§9.11 lists what is configurable)."""

    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    response_timeout_s: float = 5.0  # HA waits 60 s, PYSDK 12 s (§9.11); the emulated device answers at once
    att_mtu: int = 247  # what the app asks for in the MTU exchange (§9.2)
    announce: int | None = None  # the receive size to announce; None: ATT_MTU - 3 (at most 244) when above 23
    write_response: bool = False  # §9.2: HA and PYSDK write without response


DEFAULT_BLE_OPTIONS = BleOptions()


@dataclass(frozen=True)
class FoundDevice:
    """A Tuya advertisement a scan saw: the raw record, its parse, and the BLE ID it carries (None without the
    scan response)."""

    scan: BleAdvertisement
    advertisement: Advertisement
    ble_id: bytes | None

    @property
    def generation(self) -> Generation:
        return generation_of(self.advertisement)

    @property
    def bound(self) -> bool:
        """The advertised bound flag (§9.3.1 frame-control bit 11; §9.3.2 the manufacturer flag's bit 7)."""
        adv = self.advertisement
        if isinstance(adv, AdvertisementV4):
            return adv.service.bound
        return adv.manufacturer is not None and adv.manufacturer.bound


def parse_found(scan: BleAdvertisement) -> FoundDevice | None:
    """The Tuya advertisement in ``scan``, or None when it is not one (or is malformed: §9.9, never an error)."""
    try:
        advertisement = parse_scan_record(scan.service_data, scan.manufacturer_data, name=scan.name)
    except ProtocolError:
        return None
    try:
        found_id: bytes | None = advertisement.ble_id() if advertisement.manufacturer is not None else None
    except ProtocolError:
        found_id = None
    return FoundDevice(scan, advertisement, found_id)


def scan_devices(central: BleCentral, *, timeout: float,
                 until: Callable[[list[FoundDevice]], bool] | None = None) -> list[FoundDevice]:
    """Every Tuya device advertising, scanning up to ``timeout`` s or until ``until(found)`` holds."""
    def parsed(scans: Sequence[BleAdvertisement]) -> list[FoundDevice]:
        return [f for f in map(parse_found, scans) if f is not None]

    done = None if until is None else (lambda scans: until(parsed(scans)))
    return parsed(central.scan(SERVICE_UUIDS, timeout=timeout, until=done))


def find_device(central: BleCentral, *, target: bytes, timeout: float,
                bound: bool | None = False) -> FoundDevice | None:
    """The advertisement carrying the BLE ID ``target`` (unbound by default; ``bound=None``: either way)."""
    def matches(found: FoundDevice) -> bool:
        return found.ble_id == target and (bound is None or found.bound == bound)

    found = scan_devices(central, timeout=timeout, until=lambda devices: any(map(matches, devices)))
    return next((f for f in found if matches(f)), None)


class BleSession:
    """One app-side connection (see the module docstring); use as a context manager or call :meth:`close`."""

    def __init__(self, central: BleCentral, found: FoundDevice, credentials: AppCredentials, *,
                 options: BleOptions = BleOptions(), generation: Generation | None = None,
                 iv_source: Callable[[], bytes] = lambda: os.urandom(16)) -> None:
        self.central = central
        self.found = found
        self.credentials = credentials
        self.options = options
        self.generation = found.generation if generation is None else generation
        self._iv_source = iv_source
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self.link: BleLink | None = None
        self._conn: BleAppConnection | None = None
        self.messages: list[MessageReceived] = []  # every message the device sent, in order
        self.dropped: list[PacketDropped] = []  # device packets the app could not accept
        self.events: list[MessageReceived | PacketDropped] = []  # both, in the order they arrived
        self.notifications: list[bytes] = []  # the raw notifications, as received
        self._unread: list[Message] = []
        self._announce = SAFE_WRITE_SIZE
        self.disconnected: str | None = None

    def __enter__(self) -> BleSession:
        return self if self.link is not None else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> BleSession:
        """Connect, subscribe to the notify characteristic (§9.2: before the first request), set up the codec."""
        link = self.central.connect(self.found.scan.address, timeout=self.options.connect_timeout_s,
                                    att_mtu=self.options.att_mtu)
        self.link = link
        link.on_disconnect(self._on_disconnect)
        link.start_notify(NOTIFY_CHARACTERISTIC, self._inbox.put)
        announce = self.options.announce
        if announce is None:
            announce = min(link.att_mtu - 3, MAX_WRITE_SIZE) if link.att_mtu > 23 else SAFE_WRITE_SIZE
        self._announce = announce
        self._conn = self._codec(self.generation)
        return self

    def _codec(self, generation: Generation) -> BleAppConnection:
        if self.link is None:
            raise HarnessError("broken invariant: self.link is not None")
        return BleAppConnection(self.credentials, iv_source=self._iv_source, generation=generation,
                                att_mtu=min(max(self.link.att_mtu, 23), 517), announce=self._announce)

    def switch_generation(self, generation: Generation) -> None:
        """Speak ``generation`` from now on, with a fresh app connection starting again at sn 1 (for a test that
        sent the other generation's request, which a conformant device dropped before reading its sn, §9.0)."""
        self.generation = generation
        self._conn = self._codec(generation)

    def _on_disconnect(self, reason: str) -> None:
        self.disconnected = reason or "disconnected"
        self._inbox.put(None)

    @property
    def connection(self) -> BleAppConnection:
        """The codec's app connection (its keys, state and findings)."""
        if self._conn is None:
            raise AdapterError("the BLE session is not open")
        return self._conn

    def close(self) -> None:
        link = self.link
        if link is not None and link.connected:
            with contextlib.suppress(AdapterError):  # already going down: nothing to undo
                link.disconnect()

    # -- sending ------------------------------------------------------------------------------------------

    def write(self, writes: Sequence[bytes]) -> None:
        """Put ``writes`` on the write characteristic, in order (BleLinkLost when the link is down)."""
        if self.link is None:
            raise AdapterError("the BLE session is not open")
        for data in writes:
            self.link.write(WRITE_CHARACTERISTIC, data, response=self.options.write_response)

    def send(self, message: Message, **options: Any) -> list[bytes]:
        """Frame, seal, split and write ``message`` (options as :meth:`BleAppConnection.send`); the writes."""
        writes = self.connection.send(message, **options)
        self.write(writes)
        return writes

    # -- receiving ----------------------------------------------------------------------------------------

    def wait_for(self, kind: type[M] | tuple[type, ...], timeout: float | None = None) -> M | None:
        """The next message of ``kind`` the device sends, waiting up to ``timeout`` (real) seconds; None when none
        came in time or the link went down (then :attr:`disconnected` says why)."""
        deadline = time.monotonic() + (self.options.response_timeout_s if timeout is None else timeout)
        while True:
            for index, message in enumerate(self._unread):
                if isinstance(message, kind):
                    del self._unread[index]
                    return message  # type: ignore[return-value]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.disconnected is not None and self._inbox.empty()):
                return None
            try:
                data = self._inbox.get(timeout=remaining)
            except queue.Empty:
                return None
            if data is not None:
                self._feed(data)

    def drain(self) -> None:
        """Process every notification already received, without waiting."""
        while True:
            try:
                data = self._inbox.get_nowait()
            except queue.Empty:
                return
            if data is not None:
                self._feed(data)

    def quiet(self, seconds: float) -> list[MessageReceived]:
        """Listen for ``seconds`` and return every message that arrived meanwhile (for "no answer" checks)."""
        before = len(self.messages)
        self.wait_for((), timeout=seconds)
        return self.messages[before:]

    def _feed(self, data: bytes) -> None:
        conn = self.connection
        self.notifications.append(data)
        conn.receive_data(data)
        for event in conn.events():
            if isinstance(event, MessageReceived):
                self.messages.append(event)
                self.events.append(event)
                self._unread.append(event.message)
            elif isinstance(event, PacketDropped):
                self.dropped.append(event)
                self.events.append(event)

    # -- the provisioning sequence (§9.1 steps 4-9) --------------------------------------------------------

    def device_info(self, **options: Any) -> DeviceInfoAnswer | None:
        self.write(self.connection.request_device_info(**options))
        return self.wait_for(DeviceInfoAnswer)

    def pair(self, **options: Any) -> PairAnswer | None:
        self.write(self.connection.request_pair(**options))
        return self.wait_for(PairAnswer)

    def configure(self, credentials: WifiCredentials, **options: Any) -> WifiConfigAnswerV1 | WifiConfigAnswerV2 | None:
        self.write(self.connection.configure_wifi(credentials, **options))
        return self.wait_for((WifiConfigAnswerV2, WifiConfigAnswerV1))


@dataclass(frozen=True)
class BleFailure:
    """Why the Bluetooth leg failed, as the app reports it (module docstring); ``harness_fault`` marks radio
    trouble (an ERROR, never the device's fault)."""

    code: ActivatorErrorCode
    message: str
    harness_fault: BaseException | None = None


def credentials_for(licence: Licence) -> AppCredentials:
    """The app's credentials from the licence the lab holds for the device (§9.6.2's credentials provider)."""
    return AppCredentials.from_licence(licence.uuid, licence.auth_key.encode("ascii"))


def _no_answer(session: BleSession, what: str) -> BleFailure:
    if session.disconnected is not None:
        lost = AdapterError(f"the BLE link dropped while waiting for the {what} ({session.disconnected})")
        return BleFailure(ActivatorErrorCode.BLE_CONNECT_FAILED, str(lost), harness_fault=lost)
    return BleFailure(ActivatorErrorCode.BLE_TIMEOUT, f"the device did not answer the {what} within "
                      f"{session.options.response_timeout_s:g} s (§9.1)")


def provision(central: BleCentral, licence: Licence, credentials: WifiCredentials, *,
              options: BleOptions = BleOptions()) -> BleFailure | None:
    """Find the device of ``licence``, pair with it and hand it ``credentials`` (§9.1 steps 2-9); None when it
    accepted them (it then joins and activates like in every mode), else why not."""
    found = find_device(central, target=ble_id(licence.uuid), timeout=options.scan_timeout_s)
    if found is None:
        return BleFailure(ActivatorErrorCode.BLE_SCAN_EXPIRED, f"no unbound device advertised BLE ID of licence "
                          f"{licence.uuid} within {options.scan_timeout_s:g} s (§9.3)")
    session = BleSession(central, found, credentials_for(licence), options=options)
    try:
        session.open()
        if session.device_info() is None:
            return _no_answer(session, "device-info request")
        answer = session.pair()
        if answer is None:
            return _no_answer(session, "pair request")
        if answer.result != PairResult.PAIRED:
            return BleFailure(ActivatorErrorCode.BLE_SEND_FAILED, f"the device answered the pair request "
                              f"0x{answer.result:02x} (§9.7.3: 0x00 paired, 0x01 ID mismatch, 0x02 bound)")
        result = session.configure(credentials)
        if result is None:
            return _no_answer(session, "Wi-Fi configuration")
        if result.result != WifiResult.ACCEPTED:
            return BleFailure(ActivatorErrorCode.BLE_SEND_FAILED, f"the device refused the Wi-Fi configuration "
                              f"with 0x{result.result:02x} (§9.7.5)")
        return None
    except AdapterError as exc:  # no connection, a lost link, a refused write: radio trouble
        return BleFailure(ActivatorErrorCode.BLE_CONNECT_FAILED, f"BLE connection failed: {exc}", harness_fault=exc)
    finally:
        session.close()


__all__ = ["DEFAULT_BLE_OPTIONS", "SERVICE_UUIDS", "BleFailure", "BleOptions", "BleSession", "FoundDevice",
           "credentials_for", "find_device", "parse_found", "provision", "scan_devices"]
