"""The MQTT last will and retained messages obey the ACL, on both brokers (PROTOCOL.md §5).

A will is authorised like a PUBLISH of its topic by the same login; one outside the client's own publish topics
is dropped and the CONNECT goes on without it: the embedded broker takes it out of the CONNECT before amqtt sees
it, Mosquitto checks it against the generated ACL when it would send it. One test per breach: a command on another
device's ``smart/device/in``, a DP report recorded as another device's, a retained greeting on another's
``rpc/rsp``; then the same will on the device's own topic, which is sent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import _broker_helpers
import pytest
from _broker_helpers import (
    AUTH_KEY,
    CLOUD_PASSWORD,
    CLOUD_USER,
    DEV_A,
    DEV_B,
    LOCAL_A,
    LOCAL_B,
    LOCAL_KEYS,
    SEC_A,
    SEC_B,
    UUID,
    Events,
    Peer,
    cloud,
    device,
    wait_until,
)

from harness.emulator.broker.authority import BrokerPolicy
from harness.emulator.broker.connect import parse_connect
from harness.emulator.broker.embedded import CredentialAuthority, MqttBroker
from harness.emulator.cloud.mqtt import CloudMqttClient
from harness.protocol import mqtt

pytestmark = pytest.mark.timeout(30)

authority, broker, events, kind, peers = (_broker_helpers.authority, _broker_helpers.broker, _broker_helpers.events,
                                          _broker_helpers.kind, _broker_helpers.peers)


def accepted(connack: Any) -> bool:
    return not connack.is_failure


def with_will(peers: Callable[..., Peer], topic: str, payload: bytes, *, retain: bool = False,
              creds: mqtt.MqttCredentials | None = None) -> tuple[Peer, Any]:
    """Device A (or ``creds``) connecting with a will: the peer and its CONNACK."""
    creds = creds or mqtt.device_credentials(DEV_A, SEC_A)
    peer = peers(creds.client_id, creds.username, creds.password, connect=False)
    peer.client.will_set(topic, payload, qos=1, retain=retain)
    return peer, peer.connect()


def drop_abruptly(peer: Peer) -> None:
    """End the connection without DISCONNECT, as a crashed device would: the broker then sends the will."""
    peer.client.loop_stop()
    sock = peer.client.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def leave_with_will(peers: Callable[..., Peer], events: Events, topic: str, payload: bytes, *, retain: bool = False,
                    creds: mqtt.MqttCredentials | None = None) -> None:
    """The breach: log in with a will, then end the connection abruptly, so that the broker would send it; then
    the same client id logs in again, as in the report of the breach.

    Returns once the broker has reported the drop: both brokers route (or drop) the will before they report the
    disconnect, so a message published after this is delivered after the will would have been."""
    peer, connack = with_will(peers, topic, payload, retain=retain, creds=creds)
    assert accepted(connack), "the CONNECT itself is accepted; only its will goes"
    client_id = (creds or mqtt.device_credentials(DEV_A, SEC_A)).client_id
    gone = len([c for c, _ in events.disconnected if c == client_id])
    drop_abruptly(peer)
    assert wait_until(lambda: len([c for c, _ in events.disconnected if c == client_id]) > gone), "drop not seen"
    if creds is None:
        device(peers, DEV_A, SEC_A)


def test_a_will_on_another_devices_command_topic_is_dropped(peers: Callable[..., Peer], events: Events) -> None:
    b = device(peers, DEV_B, SEC_B)
    b.subscribe(mqtt.topic_in(DEV_B))
    forged = mqtt.encode_message(mqtt.dp_command({"1": False}, t=1), local_key=LOCAL_B)
    leave_with_will(peers, events, mqtt.topic_in(DEV_B), forged)
    c = cloud(peers)
    c.publish(mqtt.topic_in(DEV_B), b"sentinel")
    assert wait_until(lambda: b.received(mqtt.topic_in(DEV_B), b"sentinel"))  # after the will would have come
    assert not b.received(mqtt.topic_in(DEV_B), forged)


@pytest.fixture
def cloud_client(broker: MqttBroker) -> Iterator[tuple[CloudMqttClient, list[tuple[str, Any]]]]:
    inbox: list[tuple[str, Any]] = []
    client = CloudMqttClient(broker.host, broker.port, CLOUD_USER, CLOUD_PASSWORD, key_lookup=LOCAL_KEYS.get,
                             on_message=lambda dev_id, message: inbox.append((dev_id, message)))
    client.start()
    yield client, inbox
    client.stop()


def test_a_will_is_never_recorded_as_another_devices_dp_report(
        cloud_client: tuple[CloudMqttClient, list[tuple[str, Any]]], peers: Callable[..., Peer],
        events: Events) -> None:
    _, inbox = cloud_client
    forged = mqtt.encode_message(mqtt.dp_report({"1": True}, t=1), local_key=LOCAL_B)
    leave_with_will(peers, events, mqtt.topic_out(DEV_B), forged)
    a = device(peers, DEV_A, SEC_A)
    a.publish(mqtt.topic_out(DEV_A), mqtt.encode_message(mqtt.dp_report({"2": 1}, t=2), local_key=LOCAL_A))
    assert wait_until(lambda: DEV_A in [dev for dev, _ in inbox])  # A's report comes after the will would have
    assert [dev for dev, _ in inbox] == [DEV_A], "nothing was recorded as device B's"


def test_a_retained_will_never_greets_another_device(peers: Callable[..., Peer], events: Events) -> None:
    leave_with_will(peers, events, mqtt.rpc_rsp(DEV_B), b"retained greeting", retain=True)
    b = device(peers, DEV_B, SEC_B)
    b.subscribe(mqtt.rpc_rsp(DEV_B))
    c = cloud(peers)
    c.publish(mqtt.rpc_rsp(DEV_B), b"sentinel")
    assert wait_until(lambda: b.received(mqtt.rpc_rsp(DEV_B), b"sentinel"))
    assert not b.received(mqtt.rpc_rsp(DEV_B), b"retained greeting")


def test_a_retained_publish_obeys_the_acl(peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    a.client.publish(mqtt.rpc_rsp(DEV_B), b"forged retained", qos=1, retain=True).wait_for_publish(5)
    a.client.publish(mqtt.topic_out(DEV_A), b"own retained", qos=1, retain=True).wait_for_publish(5)
    b = device(peers, DEV_B, SEC_B)
    b.subscribe(mqtt.rpc_rsp(DEV_B))
    c = cloud(peers)
    c.subscribe(mqtt.topic_out(DEV_A))
    assert wait_until(lambda: c.received(mqtt.topic_out(DEV_A), b"own retained")), "a permitted one is kept"
    c.publish(mqtt.rpc_rsp(DEV_B), b"sentinel")
    assert wait_until(lambda: b.received(mqtt.rpc_rsp(DEV_B), b"sentinel"))
    assert not b.received(mqtt.rpc_rsp(DEV_B), b"forged retained")


def test_a_will_on_the_devices_own_topic_is_accepted_and_sent(peers: Callable[..., Peer], events: Events) -> None:
    c = cloud(peers)
    c.subscribe(mqtt.topic_out(DEV_A))
    leave_with_will(peers, events, mqtt.topic_out(DEV_A), b"gone")
    assert wait_until(lambda: c.received(mqtt.topic_out(DEV_A), b"gone"))


def test_a_licence_before_activation_may_leave_no_will(peers: Callable[..., Peer], events: Events) -> None:
    c = cloud(peers)
    c.subscribe(mqtt.preactivation_topic(UUID))
    leave_with_will(peers, events, mqtt.preactivation_topic(UUID), b"x",
                    creds=mqtt.preactivation_credentials(UUID, AUTH_KEY))
    c.publish(mqtt.preactivation_topic(UUID), b"sentinel")
    assert wait_until(lambda: c.received(mqtt.preactivation_topic(UUID), b"sentinel"))  # after the will's place
    assert not c.received(mqtt.preactivation_topic(UUID), b"x")


def test_without_acls_a_foreign_will_is_sent(authority: CredentialAuthority, peers: Callable[..., Peer],
                                             events: Events) -> None:
    authority.set_policy(NoAcl())  # the "broker without ACLs" fault: the breach comes back
    b = device(peers, DEV_B, SEC_B)
    b.subscribe(mqtt.topic_in(DEV_B))
    leave_with_will(peers, events, mqtt.topic_in(DEV_B), b"forged")
    assert wait_until(lambda: b.received(mqtt.topic_in(DEV_B), b"forged"))


class NoAcl(BrokerPolicy):
    """The "broker without ACLs" fault's policy: logins checked, topics not."""

    def enforces_acl(self) -> bool:
        return False


def _connect_packet(level: int, will: bool) -> bytes:
    def text(value: bytes) -> bytes:
        return len(value).to_bytes(2, "big") + value

    flags = 0xC0 | (0x2C if will else 0)  # username, password (+ will, QoS 1, retain)
    props = b"\x00" if level == 5 else b""
    body = text(b"MQTT") + bytes((level, flags)) + b"\x00\x1e" + props + text(DEV_A.encode())
    if will:
        body += props + text(b"smart/device/in/other") + text(b"payload")
    return body + text(DEV_A.encode()) + text(b"password")


@pytest.mark.parametrize("level", [4, 5])
def test_the_connect_gate_reads_the_will_topic(level: int) -> None:
    parsed = parse_connect(_connect_packet(level, will=True))
    assert parsed is not None and parsed.will_topic == "smart/device/in/other" and parsed.will_retain
    assert parsed.username == DEV_A and parsed.password == "password"
    plain = parse_connect(_connect_packet(level, will=False))
    assert plain is not None and plain.will_topic is None and plain.username == DEV_A
