"""Retained messages stay behind the ACL: a login is handed a retained message only through a subscription it
holds itself (MQTT 3.1.1 §3.3.1.3), never because some other client subscribed to its topic (PROTOCOL.md §5).

amqtt 0.12 hands every client that connects the retained messages of every client's subscriptions; the embedded
broker keeps that to the session's own (harness.emulator.broker.embedded)."""

from __future__ import annotations

from collections.abc import Callable

import _broker_helpers
from _broker_helpers import DEV_A, DEV_B, SEC_A, SEC_B, WAIT_S, Peer, cloud, device, wait_until

from harness.protocol import mqtt

authority, broker, events, peers = (_broker_helpers.authority, _broker_helpers.broker, _broker_helpers.events,
                                    _broker_helpers.peers)


def publish_retained(peer: Peer, topic: str, payload: bytes) -> None:
    peer.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(WAIT_S)


def test_a_retained_message_reaches_only_logins_that_subscribe_to_it(peers: Callable[..., Peer]) -> None:
    b = device(peers, DEV_B, SEC_B)
    assert not b.subscribe(mqtt.topic_in(DEV_B)).is_failure
    c = cloud(peers)
    publish_retained(c, mqtt.topic_in(DEV_B), b"retained for B")
    assert wait_until(lambda: b.received(mqtt.topic_in(DEV_B), b"retained for B"))
    a = device(peers, DEV_A, SEC_A)  # a fresh login while B holds its subscription
    assert not a.subscribe(mqtt.topic_in(DEV_A)).is_failure
    c.publish(mqtt.topic_in(DEV_A), b"sentinel")
    assert wait_until(lambda: a.received(mqtt.topic_in(DEV_A), b"sentinel"))
    assert not any(topic == mqtt.topic_in(DEV_B) for topic, _ in a.messages), a.messages
    b.close()
    b2 = device(peers, DEV_B, SEC_B)  # B's next login takes its topic again: the retained message comes with it
    assert not b2.subscribe(mqtt.topic_in(DEV_B)).is_failure
    assert wait_until(lambda: b2.received(mqtt.topic_in(DEV_B), b"retained for B"))
