"""The emulated camera's lifecycle: one table, in this one file.

Everything that decides which state the camera is in lives here (as h11's ``_state.py`` does): the states,
the events, and ``TRANSITIONS``, the table of ``(state, event) -> new state``. A pair missing from the table is
illegal: :meth:`Lifecycle.fire` raises :class:`IllegalTransition` and the state does not change. What the
camera *does* on entering a state (open the AP sockets, start activating, connect to MQTT) is in
``camera.py``; which state it is in is decided only here.

The flow (DESIGN.md "Device", PROTOCOL.md §0):

    OFF --boot--> PAIRING --config-captured--> CONFIG_RECEIVED --join-start--> JOINING --join-ok--> ACTIVATING
    ACTIVATING --activated--> CONNECTING --mqtt-connected--> ONLINE
    OFF --boot-activated--> CONNECTING       (an activated camera reconnects by itself after a power cycle)

Failures go back to pairing mode, as a real camera does: a failed join after its retries (wrong password,
missing SSID), a refused activation after a short hold in FAILED, a refused MQTT login (the device was removed
while offline, §6), a remote reset or unbind (§5 protocols 11 and 8). A pairing window that closes (optional,
e.g. 180 s) leaves PAIRING_CLOSED, where the camera no longer listens until reset. A crash (a fault) leaves
CRASHED, where nothing but a power cycle helps.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class State(enum.Enum):
    OFF = "off"
    PAIRING = "pairing"  # listening: QR scanner on, EZ sniffer on, SoftAP open
    PAIRING_CLOSED = "pairing-closed"  # the pairing window has closed: not listening until reset
    CONFIG_RECEIVED = "config-received"  # SSID, password and token captured
    JOINING = "joining"  # associating with the access point
    ACTIVATING = "activating"  # ATOP activation over HTTP (§4)
    CONNECTING = "connecting"  # activated; logging in to MQTT (§5)
    ONLINE = "online"  # on MQTT, reporting and answering DPs
    FAILED = "failed"  # activation refused or impossible; returns to pairing mode after a hold
    CRASHED = "crashed"  # the firmware died (a fault): no answer to anything until power cycled


class Event(enum.Enum):
    BOOT = "boot"  # powered on, not activated
    BOOT_ACTIVATED = "boot-activated"  # powered on with activation data kept
    POWER_OFF = "power-off"
    WINDOW_CLOSED = "window-closed"  # the pairing window ran out on the clock
    CONFIG_CAPTURED = "config-captured"  # QR, EZ or AP gave a parseable config
    CONFIG_REFUSED = "config-refused"  # an illegal payload: refused, still in pairing mode
    JOIN_START = "join-start"
    JOIN_OK = "join-ok"
    JOIN_FAILED = "join-failed"  # after the retries: back to pairing mode
    ACTIVATED = "activated"
    ACTIVATION_FAILED = "activation-failed"
    FAILED_HOLD_OVER = "failed-hold-over"
    MQTT_CONNECTED = "mqtt-connected"
    MQTT_RETRY = "mqtt-retry"  # broker unreachable or connection lost: try again later
    MQTT_REFUSED = "mqtt-refused"  # CONNACK "not authorized": removed while offline (§6)
    MQTT_LOST = "mqtt-lost"
    DP_COMMAND = "dp-command"  # protocol 5 (§5)
    REMOTE_RESET = "remote-reset"  # protocol 11 (§5)
    REMOTE_UNBIND = "remote-unbind"  # protocol 8 (§5)
    RESET = "reset"  # the reset button (normal reset, binding kept)
    FACTORY_RESET = "factory-reset"  # reset and wipe activation data
    CRASH = "crash"


_LIVE = (
    State.PAIRING, State.PAIRING_CLOSED, State.CONFIG_RECEIVED, State.JOINING, State.ACTIVATING,
    State.CONNECTING, State.ONLINE, State.FAILED,
)

_table: dict[tuple[State, Event], State] = {
    (State.OFF, Event.BOOT): State.PAIRING,
    (State.OFF, Event.BOOT_ACTIVATED): State.CONNECTING,
    (State.PAIRING, Event.WINDOW_CLOSED): State.PAIRING_CLOSED,
    (State.PAIRING, Event.CONFIG_CAPTURED): State.CONFIG_RECEIVED,
    (State.PAIRING, Event.CONFIG_REFUSED): State.PAIRING,
    (State.CONFIG_RECEIVED, Event.JOIN_START): State.JOINING,
    (State.JOINING, Event.JOIN_OK): State.ACTIVATING,
    (State.JOINING, Event.JOIN_FAILED): State.PAIRING,
    (State.ACTIVATING, Event.ACTIVATED): State.CONNECTING,
    (State.ACTIVATING, Event.ACTIVATION_FAILED): State.FAILED,
    (State.FAILED, Event.FAILED_HOLD_OVER): State.PAIRING,
    (State.CONNECTING, Event.MQTT_CONNECTED): State.ONLINE,
    (State.CONNECTING, Event.MQTT_RETRY): State.CONNECTING,
    (State.CONNECTING, Event.MQTT_REFUSED): State.PAIRING,
    (State.ONLINE, Event.MQTT_LOST): State.CONNECTING,
    (State.ONLINE, Event.MQTT_REFUSED): State.PAIRING,
    (State.ONLINE, Event.DP_COMMAND): State.ONLINE,
    (State.ONLINE, Event.REMOTE_RESET): State.PAIRING,
    (State.ONLINE, Event.REMOTE_UNBIND): State.PAIRING,
    # A dead firmware ignores its reset button (only a power cycle helps): legal, and nothing happens.
    (State.CRASHED, Event.RESET): State.CRASHED,
    (State.CRASHED, Event.FACTORY_RESET): State.CRASHED,
}
for _state in _LIVE:
    _table[(_state, Event.RESET)] = State.PAIRING
    _table[(_state, Event.FACTORY_RESET)] = State.PAIRING
    _table[(_state, Event.CRASH)] = State.CRASHED
for _state in (*_LIVE, State.CRASHED):
    _table[(_state, Event.POWER_OFF)] = State.OFF

TRANSITIONS: Mapping[tuple[State, Event], State] = MappingProxyType(_table)

# States in which the camera listens for pairing data (QR scanner, EZ sniffer, SoftAP).
LISTENING_STATES = frozenset({State.PAIRING})


class IllegalTransition(RuntimeError):
    """An event the table does not allow in the current state (a bug in the camera or its driver)."""

    def __init__(self, state: State, event: Event) -> None:
        self.state = state
        self.event = event
        super().__init__(f"event {event.value!r} is not allowed in state {state.value!r}")


class Lifecycle:
    """The current state and the table; not thread-safe (the camera uses it from its event loop only)."""

    def __init__(self, state: State = State.OFF) -> None:
        self._state = state

    @property
    def state(self) -> State:
        return self._state

    def can(self, event: Event) -> bool:
        return (self._state, event) in TRANSITIONS

    def fire(self, event: Event) -> tuple[State, State]:
        """Apply ``event``; return (old, new). Raises :class:`IllegalTransition` when the table has no entry."""
        old = self._state
        try:
            new = TRANSITIONS[(old, event)]
        except KeyError:
            raise IllegalTransition(old, event) from None
        self._state = new
        return old, new


__all__ = ["LISTENING_STATES", "TRANSITIONS", "Event", "IllegalTransition", "Lifecycle", "State"]
