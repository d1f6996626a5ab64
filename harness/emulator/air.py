"""The in-memory air: access points, EZ (SmartConfig) observations, and the devices' own SoftAPs.

PROTOCOL.md §2: in EZ mode the phone's pairing data travels as UDP datagram *lengths* (broadcast channel) and
multicast destination *addresses* (multicast channel), which a device in monitor mode reads without joining
any network. The air carries exactly those observations from a sender (the app side) to every listening
receiver (the emulated cameras), and can lose, duplicate, reorder and add noise to them, from a seed, so that
every run replays.

It also holds the Wi-Fi access points a camera can join (SSID and password, §0 step 3), and the SoftAPs the
cameras open in AP mode (§3: ``SmartLife-XXXX``), each with the loopback address where its config sockets
really listen.

Threading: an :class:`Air` is thread-safe. Every method may be called from any thread; the observations of
one ``send`` are delivered synchronously, in the sender's thread, while the air's lock is held, so that the
order every listener sees is the order of the seeded decisions. A listener therefore must be quick and must
not block: the emulated camera's listener only hands the observation to its own event loop.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from harness.clock import Clock

ObservationKind = Literal["length", "address"]

# §2.3 values on the broadcast channel are datagram payload lengths; a lost/noise length is drawn from the
# range a sniffer sees from unrelated traffic around the encoded values (1..511).
_NOISE_LENGTH_MAX = 600


class ObservationLike(Protocol):
    """Anything with the ``kind`` and ``value`` of an EZ observation (e.g. the SmartConfig codec's own)."""

    @property
    def kind(self) -> str: ...

    @property
    def value(self) -> int | str: ...


@dataclass(frozen=True)
class AirObservation:
    """One EZ observation as a receiver sees it: a datagram length (§2.3) or a multicast address (§2.4)."""

    kind: ObservationKind
    value: int | str

    def __post_init__(self) -> None:
        if self.kind == "length":
            if not isinstance(self.value, int) or isinstance(self.value, bool) or self.value < 0:
                raise ValueError(f"a length observation carries a non-negative int, not {self.value!r}")
        elif self.kind == "address":
            if not isinstance(self.value, str):
                raise ValueError(f"an address observation carries a dotted IPv4 string, not {self.value!r}")
        else:
            raise ValueError(f"observation kind must be 'length' or 'address', not {self.kind!r}")


Fate = Literal["delivered", "lost", "duplicated", "held", "released", "noise"]


@dataclass(frozen=True)
class AirRecord:
    """One line of the air's log: what was sent, when (on the air's clock) and what the air did with it."""

    seq: int
    t: float
    kind: ObservationKind
    value: int | str
    fate: Fate
    #: which :meth:`Air.send_all` call (numbered from 1) sent it and at what position of it (from 0), so that
    #: evidence can rebuild each transmission as it was sent (e.g. to mask a password, same length, in a pcap);
    #: None for a lone :meth:`Air.send`; noise has the transmission but no position
    tx: int | None = None
    index: int | None = None


@dataclass(frozen=True)
class AccessPoint:
    """An infrastructure Wi-Fi network a camera can join. An empty password is an open network."""

    ssid: bytes
    password: bytes = b""
    channel: int = 6

    @property
    def is_open(self) -> bool:
        return not self.password


JoinOutcome = Literal["ok", "no-such-ssid", "wrong-password"]


@dataclass(frozen=True)
class DeviceAp:
    """A camera's own SoftAP in AP pairing mode (§3) and where its config sockets listen on loopback."""

    ssid: str
    host: str
    udp_port: int
    tcp_port: int

    @property
    def address(self) -> tuple[str, int, int]:
        return (self.host, self.udp_port, self.tcp_port)


Listener = Callable[[AirObservation], None]


class ListenHandle:
    """Returned by :meth:`Air.listen`; ``close()`` (or a ``with`` block) stops the delivery."""

    def __init__(self, air: Air, key: int) -> None:
        self._air = air
        self._key = key

    def close(self) -> None:
        self._air._unlisten(self._key)

    def __enter__(self) -> ListenHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Air:
    """The shared medium of one emulated world.

    ``loss``, ``duplicate``, ``reorder`` and ``noise`` are per-observation probabilities in [0, 1]:
    a lost observation reaches nobody; a duplicated one arrives twice; a reordered one is held back and
    arrives right after the next one (:meth:`flush` releases a held observation); noise adds an unrelated
    observation of the same channel before the real one. All decisions come from ``seed``.
    """

    def __init__(self, seed: int = 0, loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 noise: float = 0.0, *, clock: Clock | None = None, log_limit: int = 200_000) -> None:
        for name, p in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder), ("noise", noise)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        self.seed = seed
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.noise = noise
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._listeners: dict[int, Listener] = {}
        self._next_key = 0
        self._held: tuple[AirObservation, int | None, int | None] | None = None
        self._seq = 0
        self._tx = 0
        self._log: deque[AirRecord] = deque(maxlen=log_limit)
        self._access_points: dict[bytes, AccessPoint] = {}
        self._device_aps: dict[str, DeviceAp] = {}

    # -- access points -------------------------------------------------------------------------------

    def add_access_point(self, ssid: bytes, password: bytes = b"", *, channel: int = 6) -> AccessPoint:
        """Put a Wi-Fi network on the air (replacing one with the same SSID)."""
        if not isinstance(ssid, bytes) or not isinstance(password, bytes):
            raise TypeError("SSID and password are bytes (an SSID is 0-32 octets, §2.1)")
        if not 1 <= len(ssid) <= 32:
            raise ValueError(f"an SSID is 1..32 octets, got {len(ssid)}")
        ap = AccessPoint(ssid, password, channel)
        with self._lock:
            self._access_points[ssid] = ap
        return ap

    def remove_access_point(self, ssid: bytes) -> None:
        with self._lock:
            self._access_points.pop(ssid, None)

    def access_point(self, ssid: bytes) -> AccessPoint | None:
        """The access point with exactly this SSID, or None."""
        with self._lock:
            return self._access_points.get(ssid)

    @property
    def access_points(self) -> list[AccessPoint]:
        with self._lock:
            return list(self._access_points.values())

    def join(self, ssid: bytes, password: bytes) -> JoinOutcome:
        """What a station gets when it associates with ``ssid`` using ``password``.

        The password must match exactly; an open network takes only the empty password (a station
        configured with a key does not associate with an open network).
        """
        ap = self.access_point(ssid)
        if ap is None:
            return "no-such-ssid"
        return "ok" if ap.password == password else "wrong-password"

    # -- the cameras' SoftAPs ---------------------------------------------------------------------------

    def open_device_ap(self, ap: DeviceAp) -> None:
        with self._lock:
            self._device_aps[ap.ssid] = ap

    def close_device_ap(self, ssid: str) -> None:
        with self._lock:
            self._device_aps.pop(ssid, None)

    def device_ap(self, ssid: str) -> DeviceAp | None:
        with self._lock:
            return self._device_aps.get(ssid)

    @property
    def device_aps(self) -> list[DeviceAp]:
        with self._lock:
            return list(self._device_aps.values())

    # -- EZ observations ---------------------------------------------------------------------------------

    def listen(self, callback: Listener) -> ListenHandle:
        """Deliver every observation that survives the air to ``callback`` (quick, non-blocking)."""
        with self._lock:
            key = self._next_key
            self._next_key += 1
            self._listeners[key] = callback
        return ListenHandle(self, key)

    def _unlisten(self, key: int) -> None:
        with self._lock:
            self._listeners.pop(key, None)

    @property
    def listener_count(self) -> int:
        with self._lock:
            return len(self._listeners)

    def send_length(self, n: int) -> None:
        """A datagram of ``n`` zero bytes to 255.255.255.255:30011 (§2.3)."""
        self.send(AirObservation("length", n))

    def send_address(self, ip: str) -> None:
        """A one-byte datagram to the multicast address ``ip``:30012 (§2.4)."""
        self.send(AirObservation("address", ip))

    def send_all(self, observations: Iterable[ObservationLike]) -> None:
        """Send a transmission: its records carry the transmission's number and each one's position in it."""
        with self._lock:
            self._tx += 1
            tx = self._tx
        for index, observation in enumerate(observations):
            self._send(observation, tx, index)

    def send(self, observation: ObservationLike) -> None:
        """Put one observation on the air, where the seeded loss, duplication, reordering and noise apply."""
        self._send(observation, None, None)

    def _send(self, observation: ObservationLike, tx: int | None, index: int | None) -> None:
        obs = _normalise(observation)
        with self._lock:
            rng = self._rng
            if self.noise and rng.random() < self.noise:
                self._deliver(self._noise_like(obs), "noise", tx, None)
            if self.loss and rng.random() < self.loss:
                self._record(obs, "lost", tx, index)
                return
            copies = 2 if self.duplicate and rng.random() < self.duplicate else 1
            if self._held is None and self.reorder and rng.random() < self.reorder:
                self._held = (obs, tx, index)
                self._record(obs, "held", tx, index)
                return
            for i in range(copies):
                self._deliver(obs, "delivered" if i == 0 else "duplicated", tx, index)
            self.flush()

    def flush(self) -> None:
        """Deliver an observation the air is holding back for reordering, if any."""
        with self._lock:
            held, self._held = self._held, None
            if held is not None:
                self._deliver(held[0], "released", held[1], held[2])

    def _noise_like(self, obs: AirObservation) -> AirObservation:
        rng = self._rng
        if obs.kind == "length":
            return AirObservation("length", rng.randrange(1, _NOISE_LENGTH_MAX))
        # Multicast noise: other 226.x addresses and ordinary service discovery traffic.
        if rng.random() < 0.5:
            return AirObservation("address", "239.255.255.250")
        return AirObservation("address", f"226.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}")

    def _deliver(self, obs: AirObservation, fate: Fate, tx: int | None = None, index: int | None = None) -> None:
        self._record(obs, fate, tx, index)
        for listener in list(self._listeners.values()):
            listener(obs)

    def _record(self, obs: AirObservation, fate: Fate, tx: int | None = None, index: int | None = None) -> None:
        self._seq += 1
        t = self._clock.time() if self._clock is not None else time.time()
        self._log.append(AirRecord(self._seq, t, obs.kind, obs.value, fate, tx, index))

    # -- evidence ----------------------------------------------------------------------------------------

    @property
    def log(self) -> list[AirRecord]:
        """Everything sent, with what the air did to it, oldest first (bounded by ``log_limit``)."""
        with self._lock:
            return list(self._log)

    @property
    def seq(self) -> int:
        """The sequence number of the last record logged (0 before any): a mark for :meth:`log_since`."""
        with self._lock:
            return self._seq

    def log_since(self, seq: int) -> list[AirRecord]:
        """The records logged after the mark ``seq`` (what a test sent, from a mark taken when it started)."""
        with self._lock:
            if not self._log or self._log[-1].seq <= seq:
                return []
            start = max(0, seq - self._log[0].seq + 1)
            return list(itertools.islice(self._log, start, None))  # indexing a deque is O(n) per element


def _normalise(observation: ObservationLike) -> AirObservation:
    if isinstance(observation, AirObservation):
        return observation
    kind = observation.kind
    if kind not in ("length", "address"):
        raise ValueError(f"observation kind must be 'length' or 'address', not {kind!r}")
    return AirObservation("length" if kind == "length" else "address", observation.value)


__all__ = [
    "AccessPoint",
    "Air",
    "AirObservation",
    "AirRecord",
    "DeviceAp",
    "JoinOutcome",
    "ListenHandle",
    "ObservationLike",
]
