"""Shared pieces of the broker tests: the two brokers as a fixture, real paho peers, the test identities."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from harness.emulator.broker.embedded import (
    BrokerIdentity,
    CredentialAuthority,
    EmbeddedBroker,
    MqttBroker,
    make_broker,
)
from harness.emulator.broker.mosquitto import find_mosquitto
from harness.protocol import mqtt

WAIT_S = 5.0

DEV_A, SEC_A, LOCAL_A = "bf0a1b2c3d4e5f6a7b8c", "secAAAAAAAAAAAAA", "localAAAAAAAAAAA"
DEV_B, SEC_B, LOCAL_B = "bf9a8b7c6d5e4f3a2b1c", "secBBBBBBBBBBBBB", "localBBBBBBBBBBB"
UUID, AUTH_KEY = "uuidxxxxxxxxxxxxxxxx", "keyxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
CLOUD_USER, CLOUD_PASSWORD = "paircert-cloud", "cloud-password-for-tests"
LOCAL_KEYS = {DEV_A: LOCAL_A, DEV_B: LOCAL_B}

MOSQUITTO = find_mosquitto()
KINDS = [
    "amqtt",
    pytest.param("mosquitto", marks=pytest.mark.skipif(
        MOSQUITTO is None, reason="mosquitto is not installed (optional broker; `make mosquitto` installs it)")),
]


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Peer:
    """A paho client for tests: connect, subscribe, publish, each waiting (bounded) for the broker's answer."""

    def __init__(self, broker: MqttBroker, client_id: str, username: str, password: str) -> None:
        self.broker = broker
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        self.client.username_pw_set(username, password)
        self.connack: Any = None
        self._answered = threading.Event()
        self.dropped = threading.Event()
        self.subacks: dict[int, list[Any]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.dropped.set()
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.subacks.__setitem__(mid, codes)
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.connack is None:
            self.connack = reason
        self._answered.set()

    def connect(self) -> Any:
        """Wait for the CONNACK on this thread; only an accepted client gets paho's network thread."""
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        deadline = time.monotonic() + WAIT_S
        while not self._answered.is_set() and time.monotonic() < deadline:
            self.client.loop(timeout=0.02)
        assert self._answered.is_set(), "no CONNACK"
        if not self.connack.is_failure:
            self.client.loop_start()
        return self.connack

    def subscribe(self, topic_filter: str) -> Any:
        result, mid = self.client.subscribe(topic_filter, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS
        assert wait_until(lambda: mid in self.subacks), f"no SUBACK for {topic_filter}"
        return self.subacks[mid][0]

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(WAIT_S)

    def received(self, topic: str, payload: bytes) -> bool:
        return (topic, payload) in self.messages

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def authority() -> CredentialAuthority:
    auth = CredentialAuthority()
    auth.set_device(DEV_A, SEC_A)
    auth.set_device(DEV_B, SEC_B)
    auth.set_preactivation(UUID, AUTH_KEY)
    auth.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    return auth


class Events:
    def __init__(self) -> None:
        self.connected: list[tuple[str, BrokerIdentity | None]] = []
        self.disconnected: list[tuple[str, BrokerIdentity | None]] = []


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture(params=KINDS)
def broker(request: pytest.FixtureRequest, authority: CredentialAuthority, events: Events) -> Iterator[MqttBroker]:
    b = make_broker(request.param, authority,
                    on_connect=lambda c, i: events.connected.append((c, i)),
                    on_disconnect=lambda c, i: events.disconnected.append((c, i)))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def kind(broker: MqttBroker) -> str:
    return "amqtt" if isinstance(broker, EmbeddedBroker) else "mosquitto"


@pytest.fixture
def peers(broker: MqttBroker) -> Iterator[Callable[..., Peer]]:
    made: list[Peer] = []

    def make(client_id: str, username: str, password: str, *, connect: bool = True) -> Peer:
        peer = Peer(broker, client_id, username, password)
        made.append(peer)
        if connect:
            reason = peer.connect()
            assert not reason.is_failure, f"{client_id} refused: {reason}"
        return peer

    yield make
    for peer in made:
        peer.close()


def device(peers: Callable[..., Peer], dev_id: str, sec_key: str, **kw: Any) -> Peer:
    creds = mqtt.device_credentials(dev_id, sec_key)
    return peers(creds.client_id, creds.username, creds.password, **kw)


def cloud(peers: Callable[..., Peer]) -> Peer:
    return peers("cloud-peer", CLOUD_USER, CLOUD_PASSWORD)
