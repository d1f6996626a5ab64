"""The camera's lifecycle table: every legal transition works, everything else raises."""

from __future__ import annotations

import pytest

from harness.emulator.camera.states import TRANSITIONS, Event, IllegalTransition, Lifecycle, State


@pytest.mark.parametrize(("state", "event"), sorted(TRANSITIONS, key=lambda k: (k[0].value, k[1].value)),
                         ids=lambda v: v.value)
def test_every_legal_transition(state: State, event: Event) -> None:
    life = Lifecycle(state)
    assert life.can(event)
    assert life.fire(event) == (state, TRANSITIONS[(state, event)])
    assert life.state is TRANSITIONS[(state, event)]


ILLEGAL = [(s, e) for s in State for e in Event if (s, e) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=lambda v: v.value)
def test_every_other_pair_is_illegal(state: State, event: Event) -> None:
    life = Lifecycle(state)
    assert not life.can(event)
    with pytest.raises(IllegalTransition) as info:
        life.fire(event)
    assert info.value.state is state and info.value.event is event
    assert life.state is state


def test_the_happy_path_and_the_way_back() -> None:
    life = Lifecycle()
    path = [Event.BOOT, Event.CONFIG_CAPTURED, Event.JOIN_START, Event.JOIN_OK, Event.ACTIVATED,
            Event.MQTT_CONNECTED, Event.DP_COMMAND, Event.REMOTE_UNBIND]
    states = [life.fire(e)[1] for e in path]
    assert states == [State.PAIRING, State.CONFIG_RECEIVED, State.JOINING, State.ACTIVATING, State.CONNECTING,
                      State.ONLINE, State.ONLINE, State.PAIRING]


def test_every_state_is_reachable_and_can_be_left() -> None:
    targets = set(TRANSITIONS.values())
    assert targets == set(State)
    sources = {s for s, _ in TRANSITIONS}
    assert sources == set(State)
