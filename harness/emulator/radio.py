"""The in-memory Bluetooth LE medium: advertising, scanning, connections, GATT writes and notifications.

PROTOCOL.md §9: a Wi-Fi+BLE combo device in pairing mode advertises (§9.3, connectable and scannable), a phone
scans, connects, enables notifications on the notify characteristic and writes packets to the write
characteristic, each write or notification at most ``ATT_MTU - 3`` bytes (§9.2). The radio carries exactly that
between peripherals (the emulated cameras) and centrals (the app side) of one world, beside the Wi-Fi
:class:`~harness.emulator.air.Air`, and can lose and duplicate writes without response and notifications, from a
seed, so that every run replays. A write *with* response is acknowledged by the peer (ATT) and is never lost.

A peripheral registers a :class:`Peripheral` (its GATT server: what to do on connect, write and disconnect),
then advertises its advertising data and scan response. A central scans (:meth:`Radio.scan`, optionally waiting
until something it wants shows up) and connects (:meth:`Radio.connect`), which negotiates the ATT MTU (the lower
of what both sides offer) and gives a :class:`RadioLink` both ends use.

Threading: a :class:`Radio` is thread-safe. Deliveries are synchronous, in the sender's thread, in the order of
the seeded decisions; a receiver must be quick and must not block (the emulated camera only hands what it got
to its own event loop; the app side puts it in a queue). Record times come from the world's clock.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from harness.clock import Clock
from harness.protocol.ble.advertisement import AD_MANUFACTURER, AD_SERVICE_DATA_UUID16, parse_ad_structures
from harness.protocol.ble.gatt import uuid16
from harness.protocol.errors import ProtocolError

#: §9.2: ATT_MTU is 23 unless both sides exchange a larger one; the characteristics allow up to 247.
DEFAULT_ATT_MTU = 23
MAX_ATT_MTU = 517
ATT_HEADER = 3
#: What a scan reports as the signal strength of an emulated advertiser (there is no distance in memory).
EMULATED_RSSI = -50


class RadioError(Exception):
    """A radio operation that cannot be done: nothing to connect to, a write on a dropped link, a write too long
    for the MTU. Radio trouble, never a verdict on a device."""


class LinkLost(RadioError):
    """The link is down: the peer disconnected, or this side did."""


@dataclass(frozen=True)
class ScanResult:
    """One advertiser as a scanning central sees it, with the AD structures bleak exposes (§9.12)."""

    address: str
    adv_data: bytes
    scan_response: bytes
    rssi: int = EMULATED_RSSI

    @property
    def service_data(self) -> dict[str, bytes]:
        """Service data by 128-bit UUID string, each value starting after the 16-bit UUID (bleak's keys)."""
        return {uuid16(int.from_bytes(value[:2], "little")): value[2:]
                for kind, value in self._structures() if kind == AD_SERVICE_DATA_UUID16 and len(value) >= 2}

    @property
    def manufacturer_data(self) -> dict[int, bytes]:
        """Manufacturer data by company ID, each value starting after the ID (bleak's keys)."""
        return {int.from_bytes(value[:2], "little"): value[2:]
                for kind, value in self._structures() if kind == AD_MANUFACTURER and len(value) >= 2}

    @property
    def name(self) -> str | None:
        names = [value for kind, value in self._structures() if kind in (0x08, 0x09)]
        return names[0].decode("utf-8", "replace") if names else None

    def _structures(self) -> list[tuple[int, bytes]]:
        structures: list[tuple[int, bytes]] = []
        for data in (self.adv_data, self.scan_response):
            try:
                structures += parse_ad_structures(data)
            except ProtocolError:
                continue  # a malformed AD block hides only itself, as on a real scanner
        return structures


class Peripheral(Protocol):
    """A peripheral's GATT server as the radio sees it; called in the sender's thread (quick, non-blocking)."""

    @property
    def max_att_mtu(self) -> int: ...

    def connected(self, link: RadioLink) -> None: ...

    def written(self, link: RadioLink, characteristic: str, data: bytes) -> None: ...

    def disconnected(self, link: RadioLink, reason: str) -> None: ...


RecordKind = Literal["advertise", "stop-advertising", "connect", "write", "notify", "disconnect"]
Fate = Literal["delivered", "lost", "duplicated", "unsubscribed", "refused"]


@dataclass(frozen=True)
class RadioRecord:
    """One line of the radio's log: what happened, when (the world's clock), on which link, and its fate.

    ``data`` is what travelled (ciphertext once the §9.6 keys are in use); the log stays in memory and is never
    written to evidence as it is.
    """

    seq: int
    t: float
    kind: RecordKind
    address: str
    link: int | None = None
    characteristic: str | None = None
    fate: Fate = "delivered"
    data: bytes = field(default=b"", repr=False)
    detail: str = ""


class RadioLink:
    """One connection between a central and a peripheral. Both ends use it: the central writes, subscribes and
    disconnects; the peripheral notifies and disconnects."""

    def __init__(self, radio: Radio, number: int, address: str, peripheral: Peripheral, att_mtu: int) -> None:
        self._radio = radio
        self.number = number
        self.address = address
        self.peripheral = peripheral
        self.att_mtu = att_mtu
        self._subscriptions: dict[str, Callable[[bytes], None]] = {}
        self._on_disconnect: list[Callable[[str], None]] = []
        self._connected = True

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def max_value_len(self) -> int:
        """The longest write or notification this link carries: ``ATT_MTU - 3`` (§9.2)."""
        return self.att_mtu - ATT_HEADER

    # -- the central's end ---------------------------------------------------------------------------

    def subscribe(self, characteristic: str, callback: Callable[[bytes], None]) -> None:
        """Enable notifications (the CCCD) on ``characteristic``; ``callback`` gets each value (quick)."""
        with self._radio.lock:
            self._check()
            self._subscriptions[characteristic.lower()] = callback

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when the link goes down (either side); at once if it already has."""
        with self._radio.lock:
            if self._connected:
                self._on_disconnect.append(callback)
                return
        callback("already disconnected")

    def write(self, characteristic: str, data: bytes, *, response: bool = False) -> None:
        """Write ``data`` to the peripheral's ``characteristic``; a write without response may be lost."""
        self._radio.write(self, characteristic.lower(), bytes(data), response=response)

    # -- the peripheral's end -----------------------------------------------------------------------

    def notify(self, characteristic: str, data: bytes) -> None:
        """Send a notification; a central that has not subscribed never gets it (§9.2: CCCD first)."""
        self._radio.notify(self, characteristic.lower(), bytes(data))

    # -- either end ----------------------------------------------------------------------------------

    def disconnect(self, reason: str = "local") -> None:
        """Drop the link; both ends hear of it once."""
        self._radio.disconnect(self, reason)

    def _check(self) -> None:
        if not self._connected:
            raise LinkLost(f"the link to {self.address} is down")

    def __repr__(self) -> str:
        return f"<RadioLink #{self.number} {self.address} mtu={self.att_mtu} {'up' if self._connected else 'down'}>"


class Radio:
    """The BLE medium of one emulated world; see the module docstring.

    ``loss`` and ``duplicate`` are per-value probabilities in [0, 1] for writes without response and for
    notifications: a lost one reaches nobody, a duplicated one arrives twice. All decisions come from ``seed``.
    """

    def __init__(self, seed: int = 0, loss: float = 0.0, duplicate: float = 0.0, *, clock: Clock | None = None,
                 log_limit: int = 50_000) -> None:
        for name, p in (("loss", loss), ("duplicate", duplicate)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        self.seed = seed
        self.loss = loss
        self.duplicate = duplicate
        self._clock = clock
        self._rng = random.Random(seed)
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._peripherals: dict[str, Peripheral] = {}
        self._advertising: dict[str, tuple[bytes, bytes]] = {}
        self._links: dict[int, RadioLink] = {}
        self._numbers = itertools.count(1)
        self._seq = 0
        self._log: deque[RadioRecord] = deque(maxlen=log_limit)

    # -- peripherals -----------------------------------------------------------------------------------

    def register(self, address: str, peripheral: Peripheral) -> None:
        """Put a peripheral (its GATT server) at ``address``; it is not advertising yet."""
        with self.lock:
            if address in self._peripherals and self._peripherals[address] is not peripheral:
                raise RadioError(f"another peripheral is already at {address}")
            self._peripherals[address] = peripheral

    def unregister(self, address: str) -> None:
        """Remove the peripheral at ``address``: it stops advertising and its links drop."""
        with self.lock:
            self.stop_advertising(address)
            for link in [lk for lk in self._links.values() if lk.address == address]:
                self.disconnect(link, "peripheral removed")
            self._peripherals.pop(address, None)

    def advertise(self, address: str, adv_data: bytes, scan_response: bytes = b"") -> None:
        """Advertise (connectable, scannable: §9.3.1) ``adv_data`` with ``scan_response``, replacing any earlier."""
        with self.lock:
            if address not in self._peripherals:
                raise RadioError(f"no peripheral registered at {address}")
            if self._advertising.get(address) == (adv_data, scan_response):
                return
            self._advertising[address] = (bytes(adv_data), bytes(scan_response))
            self._record("advertise", address, data=adv_data + scan_response)
            self._changed.notify_all()

    def stop_advertising(self, address: str) -> None:
        with self.lock:
            if self._advertising.pop(address, None) is not None:
                self._record("stop-advertising", address)
                self._changed.notify_all()

    @property
    def peripheral_count(self) -> int:
        """How many peripherals are registered (advertising or not)."""
        with self.lock:
            return len(self._peripherals)

    def advertising(self, address: str) -> tuple[bytes, bytes] | None:
        """What ``address`` advertises now (advertising data, scan response), or None."""
        with self.lock:
            return self._advertising.get(address)

    # -- centrals ----------------------------------------------------------------------------------------

    def scan(self, *, timeout: float = 0.0, until: Callable[[list[ScanResult]], bool] | None = None,
             service_uuid16: int | None = None) -> list[ScanResult]:
        """What is advertising now (optionally only with service data under ``service_uuid16``).

        With ``until``, wait up to ``timeout`` seconds of real time for ``until(results)`` to hold, looking again
        whenever advertising changes; the last results are returned either way.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self.lock:
            while True:
                results = self._snapshot(service_uuid16)
                remaining = deadline - time.monotonic()
                if until is None or until(results) or remaining <= 0:
                    return results
                self._changed.wait(remaining)

    def _snapshot(self, service_uuid16: int | None) -> list[ScanResult]:
        results = [ScanResult(address, adv, scan) for address, (adv, scan) in sorted(self._advertising.items())]
        if service_uuid16 is None:
            return results
        key = uuid16(service_uuid16)
        return [r for r in results if key in r.service_data]

    def connect(self, address: str, *, att_mtu: int = DEFAULT_ATT_MTU) -> RadioLink:
        """Connect to the advertiser at ``address`` asking for ``att_mtu``; the link's MTU is the lower offer."""
        if not DEFAULT_ATT_MTU <= att_mtu <= MAX_ATT_MTU:
            raise ValueError(f"an ATT_MTU is {DEFAULT_ATT_MTU} to {MAX_ATT_MTU}, got {att_mtu}")
        with self.lock:
            peripheral = self._peripherals.get(address)
            if peripheral is None or address not in self._advertising:
                self._record("connect", address, fate="refused", detail="not advertising")
                raise RadioError(f"nothing connectable is advertising at {address}")
            mtu = max(DEFAULT_ATT_MTU, min(att_mtu, peripheral.max_att_mtu))
            link = RadioLink(self, next(self._numbers), address, peripheral, mtu)
            self._links[link.number] = link
            self._record("connect", address, link=link.number, detail=f"att_mtu={mtu}")
            peripheral.connected(link)
        return link

    @property
    def links(self) -> list[RadioLink]:
        with self.lock:
            return list(self._links.values())

    # -- traffic -------------------------------------------------------------------------------------------

    def write(self, link: RadioLink, characteristic: str, data: bytes, *, response: bool) -> None:
        with self.lock:
            link._check()
            if len(data) > link.max_value_len:
                raise RadioError(f"a write of {len(data)} bytes does not fit ATT_MTU {link.att_mtu} "
                                 f"(at most {link.max_value_len})")
            for fate in self._fates(reliable=response):
                self._record("write", link.address, link=link.number, characteristic=characteristic, fate=fate,
                             data=data)
                if fate != "lost":
                    link.peripheral.written(link, characteristic, data)
                if not link.connected:
                    break  # the peripheral dropped the link on the first copy

    def notify(self, link: RadioLink, characteristic: str, data: bytes) -> None:
        with self.lock:
            link._check()
            if len(data) > link.max_value_len:
                raise RadioError(f"a notification of {len(data)} bytes does not fit ATT_MTU {link.att_mtu}")
            callback = link._subscriptions.get(characteristic)
            if callback is None:
                self._record("notify", link.address, link=link.number, characteristic=characteristic,
                             fate="unsubscribed", data=data)
                return
            for fate in self._fates(reliable=False):
                self._record("notify", link.address, link=link.number, characteristic=characteristic, fate=fate,
                             data=data)
                if fate != "lost":
                    callback(data)

    def _fates(self, *, reliable: bool) -> list[Fate]:
        if reliable:
            return ["delivered"]
        if self.loss and self._rng.random() < self.loss:
            return ["lost"]
        if self.duplicate and self._rng.random() < self.duplicate:
            return ["delivered", "duplicated"]
        return ["delivered"]

    def disconnect(self, link: RadioLink, reason: str) -> None:
        with self.lock:
            if not link._connected:
                return
            link._connected = False
            self._links.pop(link.number, None)
            callbacks, link._on_disconnect = link._on_disconnect, []
            self._record("disconnect", link.address, link=link.number, detail=reason)
            link.peripheral.disconnected(link, reason)
            for callback in callbacks:
                callback(reason)

    # -- evidence ----------------------------------------------------------------------------------------------

    def _record(self, kind: RecordKind, address: str, *, link: int | None = None, characteristic: str | None = None,
                fate: Fate = "delivered", data: bytes = b"", detail: str = "") -> None:
        self._seq += 1
        t = self._clock.time() if self._clock is not None else time.time()
        self._log.append(RadioRecord(self._seq, t, kind, address, link, characteristic, fate, bytes(data), detail))

    @property
    def log(self) -> list[RadioRecord]:
        """Everything that happened on the radio, oldest first (bounded by ``log_limit``)."""
        with self.lock:
            return list(self._log)

    @property
    def seq(self) -> int:
        """The sequence number of the last record (0 before any): a mark for :meth:`log_since`."""
        with self.lock:
            return self._seq

    def log_since(self, seq: int) -> list[RadioRecord]:
        with self.lock:
            return [record for record in self._log if record.seq > seq]


__all__ = ["DEFAULT_ATT_MTU", "EMULATED_RSSI", "MAX_ATT_MTU", "LinkLost", "Peripheral", "Radio", "RadioError",
           "RadioLink", "RadioRecord", "ScanResult"]
