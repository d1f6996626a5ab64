"""The emulated cloud's MQTT broker and privileged client, over loopback with real paho clients (PROTOCOL.md §5).

The core tests run against the embedded amqtt broker and, when it is installed, the real Mosquitto. Where
the two differ the test says so: Mosquitto does not tie a client id to its username, and it acknowledges a
subscription it will never deliver on (SUBACK granted, nothing received) where amqtt answers SUBACK 0x80.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

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
    WAIT_S,
    Events,
    Peer,
    cloud,
    device,
    wait_until,
)
from hypothesis import given
from hypothesis import strategies as st

from harness.emulator.broker.authority import BrokerPolicy
from harness.emulator.broker.connect import parse_connect
from harness.emulator.broker.embedded import (
    BrokerIdentity,
    CredentialAuthority,
    MqttBroker,
    make_broker,
)
from harness.emulator.broker.mosquitto import MosquittoBroker, password_line
from harness.emulator.cloud.mqtt import CloudMqttClient, CloudMqttError
from harness.protocol import mqtt

pytestmark = pytest.mark.timeout(30)

# The shared fixtures, bound here so that pytest finds them in this module.
authority, broker, events, kind, peers = (_broker_helpers.authority, _broker_helpers.broker, _broker_helpers.events,
                                          _broker_helpers.kind, _broker_helpers.peers)


# -- logins ---------------------------------------------------------------------------------------------


def test_a_device_with_its_derived_credentials_connects(broker: MqttBroker, peers: Callable[..., Peer]) -> None:
    device(peers, DEV_A, SEC_A)
    assert wait_until(lambda: DEV_A in broker.connected_clients())


@pytest.mark.parametrize("case", ["wrong password", "unknown devId", "removed device", "no password"])
def test_a_bad_login_gets_connack_not_authorised(case: str, authority: CredentialAuthority,
                                                 peers: Callable[..., Peer]) -> None:
    creds = mqtt.device_credentials(DEV_A, SEC_A)
    client_id, username, password = creds
    if case == "wrong password":
        password = mqtt.device_credentials(DEV_A, SEC_B).password
    elif case == "unknown devId":
        client_id = username = "bfUNKNOWNUNKNOWNUNKN"
    elif case == "removed device":
        authority.remove_device(DEV_A)
    else:
        password = ""
    peer = peers(client_id, username, password, connect=False)
    reason = peer.connect()
    assert reason.is_failure and reason == "Not authorized"


def test_the_embedded_broker_ties_a_device_login_to_its_client_id(peers: Callable[..., Peer], kind: str) -> None:
    creds = mqtt.device_credentials(DEV_A, SEC_A)
    peer = peers("someone-else", creds.username, creds.password, connect=False)
    reason = peer.connect()
    if kind == "mosquitto":
        pytest.skip("Mosquitto checks username and password only; the client id is not tied to the devId")
    assert reason == "Not authorized"


@pytest.mark.parametrize("pv", ["2.3", None], ids=["with |pv=2.3", "without pv"])
def test_a_licence_logs_in_before_activation(pv: str | None, peers: Callable[..., Peer]) -> None:
    creds = mqtt.preactivation_credentials(UUID, AUTH_KEY, pv=pv)  # type: ignore[arg-type]
    peer = peers(creds.client_id, creds.username, creds.password)
    assert not peer.subscribe(mqtt.preactivation_topic(UUID)).is_failure
    sender = cloud(peers)
    sender.publish(mqtt.preactivation_topic(UUID), b"token")
    assert wait_until(lambda: peer.received(mqtt.preactivation_topic(UUID), b"token"))


def test_a_licence_with_a_wrong_authkey_is_not_authorised(peers: Callable[..., Peer]) -> None:
    creds = mqtt.preactivation_credentials(UUID, "k" * 32)
    assert peers(*creds, connect=False).connect() == "Not authorized"


def test_a_licence_reaches_nothing_but_its_token_topic(peers: Callable[..., Peer], kind: str) -> None:
    creds = mqtt.preactivation_credentials(UUID, AUTH_KEY)
    peer = peers(*creds)
    watcher = cloud(peers)
    watcher.subscribe(mqtt.topic_out(DEV_A))
    refused = peer.subscribe(mqtt.topic_in(DEV_A))
    if kind == "amqtt":
        assert refused.is_failure
    peer.publish(mqtt.topic_out(DEV_A), b"forged")
    watcher.publish(mqtt.topic_out(DEV_A), b"sentinel")
    assert wait_until(lambda: watcher.received(mqtt.topic_out(DEV_A), b"sentinel"))
    assert not watcher.received(mqtt.topic_out(DEV_A), b"forged")


# -- topics ---------------------------------------------------------------------------------------------


def test_a_device_uses_its_own_topics(peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    for topic in (mqtt.topic_in(DEV_A), mqtt.rpc_rsp(DEV_A), mqtt.rpc_file(DEV_A)):
        assert not a.subscribe(topic).is_failure, topic
    c = cloud(peers)
    c.subscribe(mqtt.topic_out(DEV_A))
    c.subscribe(mqtt.rpc_req(DEV_A))
    a.publish(mqtt.topic_out(DEV_A), b"report")
    a.publish(mqtt.rpc_req(DEV_A), b"rpc")
    c.publish(mqtt.topic_in(DEV_A), b"command")
    assert wait_until(lambda: c.received(mqtt.topic_out(DEV_A), b"report") and c.received(mqtt.rpc_req(DEV_A), b"rpc"))
    assert wait_until(lambda: a.received(mqtt.topic_in(DEV_A), b"command"))


def expect_isolation(peers: Callable[..., Peer], kind: str, *, isolated: bool) -> None:
    """Device A tries to read and write device B's topics. Each message A could have got through is followed by a
    sentinel on the same path that is always allowed (same publisher, same subscriber: delivered in order), so
    "nothing arrived" is decided once the sentinel did; what must arrive is polled for."""
    a = device(peers, DEV_A, SEC_A)
    b = device(peers, DEV_B, SEC_B)
    b.subscribe(mqtt.topic_in(DEV_B))
    a.subscribe(mqtt.topic_in(DEV_A))
    c = cloud(peers)
    c.subscribe(mqtt.topic_out(DEV_B))
    c.subscribe(mqtt.topic_out(DEV_A))

    snoop = [a.subscribe(mqtt.topic_in(DEV_B)), a.subscribe(f"{mqtt.TopicKind.IN.value}/+"), a.subscribe("#")]
    if kind == "amqtt":
        assert all(code.is_failure for code in snoop) is isolated
    a.publish(mqtt.topic_in(DEV_B), b"forged command")  # acknowledged: the broker has routed it (or dropped it)
    a.publish(mqtt.topic_out(DEV_B), b"forged report")
    a.publish(mqtt.topic_out(DEV_A), b"sentinel")  # a -> c, after the forged report
    c.publish(mqtt.topic_in(DEV_B), b"sentinel")  # c -> b, after the forged command was routed
    c.publish(mqtt.topic_in(DEV_A), b"sentinel")  # c -> a, after c's message on B's topic
    b.publish(mqtt.topic_out(DEV_B), b"sentinel")
    assert wait_until(lambda: b.received(mqtt.topic_in(DEV_B), b"sentinel"))
    assert wait_until(lambda: c.received(mqtt.topic_out(DEV_B), b"sentinel"))
    assert wait_until(lambda: c.received(mqtt.topic_out(DEV_A), b"sentinel"))
    assert wait_until(lambda: a.received(mqtt.topic_in(DEV_A), b"sentinel"))
    reached = [lambda: b.received(mqtt.topic_in(DEV_B), b"forged command"),
               lambda: c.received(mqtt.topic_out(DEV_B), b"forged report"),
               lambda: a.received(mqtt.topic_in(DEV_B), b"sentinel")]
    for got in reached:
        assert (got() if isolated else wait_until(got)) is not isolated


def test_a_device_cannot_reach_another_devices_topics(peers: Callable[..., Peer], kind: str) -> None:
    expect_isolation(peers, kind, isolated=True)


class NoAcl(BrokerPolicy):
    """A policy that checks logins but not topics."""

    def enforces_acl(self) -> bool:
        return False


def test_without_acls_a_device_reaches_everything(authority: CredentialAuthority, peers: Callable[..., Peer],
                                                  kind: str) -> None:
    authority.set_policy(NoAcl())  # the "broker without ACLs" fault
    expect_isolation(peers, kind, isolated=False)


def test_a_wildcard_subscription_is_refused(peers: Callable[..., Peer], kind: str) -> None:
    a = device(peers, DEV_A, SEC_A)
    code = a.subscribe(f"{mqtt.TopicKind.IN.value}/+")
    if kind == "amqtt":
        assert code.is_failure
    assert not a.subscribe(mqtt.topic_in(DEV_A)).is_failure
    c = cloud(peers)
    c.publish(mqtt.topic_in(DEV_B), b"not yours")
    c.publish(mqtt.topic_in(DEV_A), b"yours")  # the sentinel: one publisher's messages arrive in order
    assert wait_until(lambda: a.received(mqtt.topic_in(DEV_A), b"yours"))
    assert not a.received(mqtt.topic_in(DEV_B), b"not yours")


# -- connections ----------------------------------------------------------------------------------------


def test_connect_and_disconnect_callbacks_name_the_identity(broker: MqttBroker, peers: Callable[..., Peer],
                                                            events: Events) -> None:
    a = device(peers, DEV_A, SEC_A)
    assert wait_until(lambda: (DEV_A, BrokerIdentity("device", DEV_A)) in events.connected)
    a.close()
    assert wait_until(lambda: (DEV_A, BrokerIdentity("device", DEV_A)) in events.disconnected)
    assert DEV_A not in broker.connected_clients()


def test_disconnect_drops_a_client_and_removal_keeps_it_out(broker: MqttBroker, authority: CredentialAuthority,
                                                           peers: Callable[..., Peer], events: Events) -> None:
    a = device(peers, DEV_A, SEC_A)
    assert wait_until(lambda: DEV_A in broker.connected_clients())
    authority.remove_device(DEV_A)
    broker.disconnect(DEV_A)
    assert a.dropped.wait(WAIT_S)
    assert wait_until(lambda: DEV_A not in broker.connected_clients())
    assert wait_until(lambda: any(cid == DEV_A for cid, _ in events.disconnected))
    assert broker.disconnect(DEV_A) is False
    again = device(peers, DEV_A, SEC_A, connect=False)
    assert again.connect() == "Not authorized"


def test_stopping_the_broker_is_bounded_and_reports_who_was_connected(authority: CredentialAuthority,
                                                                      kind: str) -> None:
    gone: list[str] = []
    other = make_broker(kind, authority, on_disconnect=lambda c, _i: gone.append(c))  # type: ignore[arg-type]
    other.start()
    peer = Peer(other, *mqtt.device_credentials(DEV_A, SEC_A))
    try:
        assert not peer.connect().is_failure
        assert wait_until(lambda: DEV_A in other.connected_clients())
        started = time.monotonic()
        other.stop()
        assert time.monotonic() - started < WAIT_S
        assert other.connected_clients() == set() and gone == [DEV_A]
        assert peer.dropped.wait(WAIT_S)
    finally:
        peer.close()
        other.stop()


def test_a_refused_login_under_an_online_devices_id_does_not_cut_it_off(broker: MqttBroker,
                                                                        peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    a.subscribe(mqtt.topic_in(DEV_A))
    assert wait_until(lambda: DEV_A in broker.connected_clients())  # Mosquitto's word comes a moment later
    intruder = peers(DEV_A, DEV_A, "0000000000000000", connect=False)
    assert intruder.connect() == "Not authorized"
    intruder.close()
    cloud(peers).publish(mqtt.topic_in(DEV_A), b"still there")
    assert wait_until(lambda: a.received(mqtt.topic_in(DEV_A), b"still there"))
    assert DEV_A in broker.connected_clients()


def closed_by_peer(sock: socket.socket) -> bool:
    """True when the broker closes the connection (EOF or reset) within the wait."""
    sock.settimeout(WAIT_S)
    try:
        while sock.recv(64):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_the_broker_survives_garbage_before_connect(broker: MqttBroker, peers: Callable[..., Peer]) -> None:
    for junk in (b"\x00\x01\x02garbage", b"\x10\xff\xff\xff\xff\x7f", b"\x10\x05\x00\x04MQ"):
        with socket.create_connection((broker.host, broker.port), timeout=WAIT_S) as sock:
            sock.sendall(junk)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            assert closed_by_peer(sock), junk
    device(peers, DEV_A, SEC_A)


# -- the cloud's client ---------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, mqtt.MqttMessage]] = []

    def __call__(self, dev_id: str, message: mqtt.MqttMessage) -> None:
        self.items.append((dev_id, message))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def cloud_client(broker: MqttBroker, inbox: Inbox) -> Iterator[CloudMqttClient]:
    client = CloudMqttClient(broker.host, broker.port, CLOUD_USER, CLOUD_PASSWORD,
                             key_lookup=LOCAL_KEYS.get, on_message=inbox)
    client.start()
    yield client
    client.stop()


def test_the_cloud_decodes_a_dp_report(cloud_client: CloudMqttClient, inbox: Inbox,
                                       peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    report = mqtt.dp_report({"1": True, "101": "auto"}, t=1_700_000_000)
    nonce = bytes(range(12))
    a.publish(mqtt.topic_out(DEV_A), mqtt.encode_message(report, local_key=LOCAL_A, pv="2.3", nonce=nonce))
    assert wait_until(lambda: len(inbox.items) == 1)
    dev_id, message = inbox.items[0]
    assert dev_id == DEV_A and message.protocol == mqtt.MqttProtocol.DP_REPORT
    assert dict(message.dps) == {"1": True, "101": "auto"}
    assert cloud_client.pv_for(DEV_A) == "2.3" and cloud_client.pv_for(DEV_B) == "2.2"


@pytest.mark.parametrize("pv", ["2.1", "2.2", "2.3"])
def test_a_cloud_command_reaches_the_device(pv: str, cloud_client: CloudMqttClient,
                                            peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    a.subscribe(mqtt.topic_in(DEV_A))
    command = mqtt.dp_command({"1": False}, t=1_700_000_001)
    cloud_client.publish(DEV_A, command, pv=pv).wait_for_publish(WAIT_S)  # type: ignore[arg-type]
    assert wait_until(lambda: len(a.messages) == 1)
    topic, payload = a.messages[0]
    assert topic == mqtt.topic_in(DEV_A)
    assert payload[:3] == pv.encode()
    assert mqtt.decode_message(payload, local_key=LOCAL_A) == command


def test_malformed_device_payloads_are_recorded_not_fatal(cloud_client: CloudMqttClient, inbox: Inbox,
                                                          peers: Callable[..., Peer]) -> None:
    a = device(peers, DEV_A, SEC_A)
    good = mqtt.encode_message(mqtt.dp_report({"1": True}, t=1), local_key=LOCAL_A)
    wrong_key = mqtt.encode_message(mqtt.dp_report({"1": True}, t=1), local_key=LOCAL_B)
    not_json = mqtt.encode_envelope(b"{not json", local_key=LOCAL_A)
    for junk in (b"", b"garbage", b"2.2\x00", wrong_key, not_json, good[:-1]):
        a.publish(mqtt.topic_out(DEV_A), junk)
    a.publish(mqtt.topic_out(DEV_A), good)
    assert wait_until(lambda: len(inbox.items) == 1)
    assert wait_until(lambda: cloud_client.malformed_count == 6)
    assert all(entry.topic == mqtt.topic_out(DEV_A) for entry in cloud_client.malformed)
    assert cloud_client.connected


def test_the_cloud_client_reports_a_refused_login(broker: MqttBroker) -> None:
    client = CloudMqttClient(broker.host, broker.port, CLOUD_USER, "wrong", key_lookup=LOCAL_KEYS.get,
                             on_message=Inbox(), timeout_s=WAIT_S)
    with pytest.raises(CloudMqttError, match="refused"):
        client.start()


# -- the authority on its own ---------------------------------------------------------------------------


def test_the_authority_decides_logins() -> None:
    auth = CredentialAuthority()
    auth.set_device(DEV_A, SEC_A)
    auth.set_preactivation(UUID, AUTH_KEY)
    auth.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    dev = mqtt.device_credentials(DEV_A, SEC_A)
    pre = mqtt.preactivation_credentials(UUID, AUTH_KEY)
    assert auth.authenticate(*dev) == BrokerIdentity("device", DEV_A)
    assert auth.authenticate(*pre) == BrokerIdentity("preactivation", UUID)
    assert auth.authenticate(pre.client_id, pre.client_id, pre.password) == BrokerIdentity("preactivation", UUID)
    assert auth.authenticate("any", CLOUD_USER, CLOUD_PASSWORD) == BrokerIdentity("cloud", CLOUD_USER)
    assert auth.authenticate(pre.client_id, pre.client_id + "|pv=x", pre.password) is None
    assert auth.authenticate("acon_other", pre.username, pre.password) is None
    assert auth.authenticate(DEV_A, DEV_A, None) is None
    assert auth.authenticate(DEV_A, None, dev.password) is None
    # §5's own check: TO issue #1's password for the placeholder authKey.
    assert pre.password == "8346f0e4d2e9d2e4"


def test_the_authority_acl_table() -> None:
    auth = CredentialAuthority()
    auth.set_device(DEV_A, SEC_A)
    auth.set_preactivation(UUID, AUTH_KEY)
    auth.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    a, pre, cl = BrokerIdentity("device", DEV_A), BrokerIdentity("preactivation", UUID), BrokerIdentity("cloud",
                                                                                                        CLOUD_USER)
    assert [auth.may_subscribe(a, t) for t in (mqtt.topic_in(DEV_A), mqtt.rpc_rsp(DEV_A), mqtt.rpc_file(DEV_A))] \
        == [True] * 3
    assert [auth.may_subscribe(a, t) for t in (mqtt.topic_out(DEV_A), mqtt.topic_in(DEV_B), "smart/device/in/+",
                                               "#", mqtt.preactivation_topic(UUID))] == [False] * 5
    assert auth.may_publish(a, mqtt.topic_out(DEV_A)) and auth.may_publish(a, mqtt.rpc_req(DEV_A))
    assert not auth.may_publish(a, mqtt.topic_in(DEV_A)) and not auth.may_publish(a, mqtt.topic_out(DEV_B))
    assert auth.may_subscribe(pre, mqtt.preactivation_topic(UUID)) and not auth.may_subscribe(pre, "d/ai/+")
    assert not auth.may_publish(pre, mqtt.preactivation_topic(UUID))
    assert auth.may_subscribe(cl, "#") and auth.may_publish(cl, mqtt.topic_in(DEV_A))
    assert not auth.may_subscribe(None, mqtt.topic_in(DEV_A))
    auth.remove_device(DEV_A)
    assert not auth.may_publish(a, mqtt.topic_out(DEV_A))
    auth.set_policy(NoAcl())
    assert auth.may_subscribe(a, "#") and auth.may_publish(pre, mqtt.topic_in(DEV_B))


def test_the_authority_never_shows_a_secret() -> None:
    auth = CredentialAuthority()
    auth.set_device(DEV_A, SEC_A)
    auth.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    password = mqtt.device_credentials(DEV_A, SEC_A).password
    snap = auth.snapshot()
    assert snap.passwords[DEV_A] == password
    for text in (repr(auth), repr(snap), str(snap)):
        assert password not in text and SEC_A not in text and CLOUD_PASSWORD not in text
    changes: list[int] = []
    auth.add_listener(lambda: changes.append(1))
    auth.set_device(DEV_B, SEC_B)
    auth.remove_device(DEV_B)
    auth.remove_device(DEV_B)  # nothing to remove: no change
    assert len(changes) == 2


def test_the_mosquitto_password_line_format() -> None:
    line = password_line("dev", "pw", salt=b"\x00" * 12)
    user, _, hashed = line.partition(":")
    assert user == "dev" and hashed.startswith("$6$AAAAAAAAAAAAAAAA$")


@given(st.binary(max_size=300))
def test_the_connect_gate_never_raises_on_garbage(body: bytes) -> None:
    parsed = parse_connect(body)
    assert parsed is None or isinstance(parsed.client_id, str)


def test_the_connect_gate_reads_a_real_connect() -> None:
    creds = mqtt.preactivation_credentials(UUID, AUTH_KEY)
    body = (b"\x00\x04MQTT\x04\xc2\x00\x3c" + len(creds.client_id).to_bytes(2, "big") + creds.client_id.encode()
            + len(creds.username).to_bytes(2, "big") + creds.username.encode()
            + len(creds.password).to_bytes(2, "big") + creds.password.encode())
    parsed = parse_connect(body)
    assert parsed is not None
    assert (parsed.level, parsed.client_id, parsed.username, parsed.password) == (4, *creds)
    assert creds.password not in repr(parsed)


def test_a_burst_of_activations_each_logs_in_at_once_after_few_reloads(broker: MqttBroker, kind: str,
                                                                       authority: CredentialAuthority,
                                                                       peers: Callable[..., Peer]) -> None:
    """Twenty devices activated at once, from twenty threads: each change returns only when its device can log
    in (Mosquitto has reloaded files that hold it), and Mosquitto took the burst in fewer reloads than changes."""
    keys = {f"burst{n:02d}devid00000": f"burst{n:02d}seckey00" for n in range(20)}
    before = broker._reloads if isinstance(broker, MosquittoBroker) else 0
    logins: dict[str, bool] = {}

    def activate(dev_id: str) -> None:
        authority.set_device(dev_id, keys[dev_id])  # returns once the broker holds it
        creds = mqtt.device_credentials(dev_id, keys[dev_id])
        peer = peers(creds.client_id, creds.username, creds.password, connect=False)
        logins[dev_id] = not peer.connect().is_failure

    threads = [threading.Thread(target=activate, args=(dev_id,)) for dev_id in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(4 * WAIT_S)
    assert logins == dict.fromkeys(keys, True)
    if isinstance(broker, MosquittoBroker):
        assert broker._reloads - before < len(keys), (kind, broker._reloads - before)
