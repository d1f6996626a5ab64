"""The emulated cloud's MQTT broker: per-device credentials and topic ACLs (PROTOCOL.md §5, §8).

One :class:`CredentialAuthority` (:mod:`harness.emulator.broker.authority`, re-exported here) holds who may log
in and what each login may touch; the cloud updates it as devices activate and are removed. Two brokers
consult it, both built by :func:`make_broker`:

- :class:`EmbeddedBroker`: amqtt in a background thread with its own event loop, on a free loopback port.
  The authority reaches amqtt's plugin classes through their ``Config`` dataclass: the broker puts a
  :class:`_PluginBridge` object in each plugin's configuration entry, and amqtt hands that config to the
  plugin instance it builds (``plugin.config.bridge``). No module-level registry, no globals.
- :class:`MosquittoBroker` (:mod:`harness.emulator.broker.mosquitto`): the real Mosquitto (optional), driven by
  generated password and ACL files that are rewritten and reloaded (SIGHUP) whenever the authority changes.

Secrets (secKey, authKey, derived MQTT passwords) are never logged and never appear in a ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from amqtt.adapters import StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin

from harness.clock import register_world_loop, unregister_world_loop
from harness.emulator.broker.authority import (
    AclRule,
    AuthoritySnapshot,
    BrokerIdentity,
    ConnectionCallback,
    CredentialAuthority,
    IdentityKind,
    MqttBroker,
    device_publish_topics,
    device_subscribe_topics,
)
from harness.emulator.broker.connect import (
    CONNACK_NOT_AUTHORISED,
    MQTT_311,
    Connect,
    ReplayReader,
    read_connect,
    without_will,
)
from harness.emulator.broker.mosquitto import MosquittoBroker
from harness.emulator.listen import TlsMaterial, listening_socket
from harness.errors import HarnessError
from harness.protocol.mqtt import topic_in

log = logging.getLogger(__name__)

class _PluginBridge:
    """The broker's side of amqtt's plugins: authority decisions and connection bookkeeping.

    amqtt calls these on the broker's event loop; ``connected_clients`` is read from other threads.
    """

    def __init__(self, authority: CredentialAuthority, on_connect: ConnectionCallback | None,
                 on_disconnect: ConnectionCallback | None, on_subscribed: ConnectionCallback | None = None) -> None:
        self.authority = authority
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_subscribed = on_subscribed
        self._lock = threading.Lock()
        # client id -> (amqtt session object, identity) for connections that passed authentication
        self._pending: dict[str, tuple[object, BrokerIdentity]] = {}
        self._connected: dict[str, tuple[object, BrokerIdentity]] = {}

    def authenticate(self, session: Any) -> bool:
        client_id = str(session.client_id or "")
        identity = self.authority.authenticate(client_id, session.username, session.password)
        if identity is None:
            log.debug("MQTT login refused for client %r", client_id)  # a client id may be acon_<licence uuid>
            return False
        with self._lock:
            self._pending[client_id] = (session, identity)
        return True

    def identity_of(self, session: Any) -> BrokerIdentity | None:
        with self._lock:
            for table in (self._connected, self._pending):
                entry = table.get(str(session.client_id))
                if entry is not None and entry[0] is session:
                    return entry[1]
        return None

    def allowed(self, session: Any, topic: str, action: Any) -> bool:
        identity = self.identity_of(session)
        if action == Action.SUBSCRIBE:
            granted = self.authority.may_subscribe(identity, topic)
            if granted and identity is not None and identity.kind == "device" and topic == topic_in(identity.id):
                _call(self._on_subscribed, str(session.client_id), identity)
            return granted
        if action == Action.PUBLISH:
            allowed = self.authority.may_publish(identity, topic)
            if not allowed:  # DEBUG: a client id may be acon_<licence uuid>, and a client may repeat this at will
                log.debug("MQTT publish refused: client %r on %r", session.client_id, topic)
            return allowed
        # Action.RECEIVE: delivery to a subscription that was itself checked when it was made.
        return True

    def connected(self, client_id: str, session: Any) -> None:
        with self._lock:
            entry = self._pending.pop(client_id, None)
            identity = entry[1] if entry is not None and entry[0] is session else None
            if identity is not None:
                self._connected[client_id] = (session, identity)
        _call(self._on_connect, client_id, identity)

    def disconnected(self, client_id: str, session: Any) -> None:
        with self._lock:
            entry = self._connected.get(client_id)
            if entry is None or entry[0] is not session:
                return
            del self._connected[client_id]
        _call(self._on_disconnect, client_id, entry[1])

    def connected_clients(self) -> set[str]:
        with self._lock:
            return set(self._connected)

    def connected_identity(self, client_id: str) -> BrokerIdentity | None:
        with self._lock:
            entry = self._connected.get(client_id)
        return entry[1] if entry is not None else None

    def forget_all(self) -> None:
        """The broker stopped: every connection is gone (amqtt sends no events for them at shutdown)."""
        with self._lock:
            gone = [(client_id, identity) for client_id, (_, identity) in self._connected.items()]
            self._connected.clear()
            self._pending.clear()
        for client_id, identity in gone:
            _call(self._on_disconnect, client_id, identity)


def _call(callback: ConnectionCallback | None, client_id: str, identity: BrokerIdentity | None) -> None:
    if callback is None:
        return
    try:
        callback(client_id, identity)
    except Exception:
        log.exception("broker connection callback failed for client %r", client_id)


# amqtt loads plugins by dotted path and builds each one's ``Config`` from the dict we give it; the bridge
# object travels in that dict. amqtt ships no type information, so its base classes are ``Any`` to mypy.


@dataclass
class _BridgeConfig:
    bridge: Any = None


class AuthorityAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """amqtt authentication: a CONNECT passes only when the authority names an identity (else CONNACK 5)."""

    Config = _BridgeConfig

    async def authenticate(self, *, session: Any) -> bool:
        bridge: _PluginBridge = self.config.bridge
        return bridge.authenticate(session)


class AuthorityTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt topic checking: refused subscriptions get SUBACK 0x80, refused publishes are dropped."""

    Config = _BridgeConfig

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None, action: Any = None) -> bool:
        bridge: _PluginBridge = self.config.bridge
        if session is None or topic is None:
            return False
        return bridge.allowed(session, topic, action)


class ConnectionEventsPlugin(BasePlugin):  # type: ignore[misc]
    """amqtt broker events: who is connected, and the owner's connect/disconnect callbacks."""

    Config = _BridgeConfig

    async def on_broker_client_connected(self, *, client_id: str, client_session: Any) -> None:
        bridge: _PluginBridge = self.config.bridge
        bridge.connected(client_id, client_session)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Any) -> None:
        bridge: _PluginBridge = self.config.bridge
        bridge.disconnected(client_id, client_session)


class _SnapshotDict(dict[str, Any]):
    """A dict whose iteration works on a copy, so it may change while a coroutine walks it."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())


class EmbeddedBroker:
    """amqtt in a background thread with its own event loop, serving MQTT 3.1.1 on a loopback port.

    The listening socket is ours (bound to ``port``, 0 meaning a free one) and every accepted stream is
    handed to amqtt as an external connection, so the real port is known without reaching into amqtt.
    With ``tls`` that listener speaks MQTT over TLS (PROTOCOL.md §11.1: 8883 in production) and ``plain_port``
    (when not None) adds a plain MQTT listener beside it for old firmware.
    """

    def __init__(self, authority: CredentialAuthority, *, host: str = "127.0.0.1", port: int = 0,
                 on_connect: ConnectionCallback | None = None, on_disconnect: ConnectionCallback | None = None,
                 on_subscribed: ConnectionCallback | None = None, timeout_s: float = 10.0,
                 tls: TlsMaterial | None = None, plain_port: int | None = None) -> None:
        self.authority = authority
        self._host = host
        self._requested_port = port
        self._port = 0
        self._tls = tls
        self._requested_plain_port = plain_port
        self.plain_port: int | None = None
        self._timeout_s = timeout_s
        # on_subscribed: a device was granted its own command topic (smart/device/in/<devId>, §5)
        self._bridge = _PluginBridge(authority, on_connect, on_disconnect, on_subscribed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._broker: Any = None

    def __repr__(self) -> str:
        return f"EmbeddedBroker(host={self._host!r}, port={self._port}, running={self.running})"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the broker has not been started")
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def start(self) -> None:
        """Start serving; returns once the listening socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the broker is already started")
        self._thread = threading.Thread(target=self._run, name=f"mqtt-broker-{self._host}", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout_s):
            raise TimeoutError(f"the MQTT broker did not start within {self._timeout_s} s")
        if self._startup_error is not None:
            self._thread.join(self._timeout_s)
            self._thread = None
            raise RuntimeError(f"the MQTT broker failed to start: {self._startup_error}") from self._startup_error

    def stop(self) -> None:
        """Close every connection and the listener, and end the thread (bounded by the timeout)."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(self._timeout_s)
        if thread.is_alive():
            log.warning("the MQTT broker thread did not end within %s s", self._timeout_s)
        self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def connected_clients(self) -> set[str]:
        """Client ids of the authenticated connections open now."""
        return self._bridge.connected_clients()

    def identity_of(self, client_id: str) -> BrokerIdentity | None:
        """Who the connected client ``client_id`` logged in as."""
        return self._bridge.connected_identity(client_id)

    def disconnect(self, client_id: str) -> bool:
        """Drop a connected client now (its will, if any, is sent). False when it was not connected.

        From another thread this waits until amqtt has let go of the connection; from a callback on the
        broker's own thread it only schedules the drop.
        """
        loop = self._loop
        if loop is None or loop.is_closed() or client_id not in self._bridge.connected_clients():
            return False
        if threading.current_thread() is self._thread:
            loop.create_task(self._drop(client_id))
            return True
        future = asyncio.run_coroutine_threadsafe(self._drop(client_id), loop)
        return future.result(self._timeout_s)

    async def _drop(self, client_id: str) -> bool:
        entry = self._broker.sessions.get(client_id) if self._broker is not None else None
        if entry is None:
            return False
        _, handler = entry
        # Resolves the session's disconnect waiter as if the socket had closed: amqtt then stops the
        # handler, closes the stream and fires broker_client_disconnected.
        await handler.handle_connection_closed()
        return True

    # -- the broker thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        register_world_loop(loop)  # a virtual clock lets the broker deliver what it has read before jumping
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() when it happens before readiness
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                log.exception("the MQTT broker stopped on an error")
        finally:
            unregister_world_loop(loop)
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _config(self) -> dict[str, Any]:
        plugin_config = {"bridge": self._bridge}
        return {
            "listeners": {"default": {"type": "external"}},
            "plugins": {
                f"{__name__}.AuthorityAuthPlugin": plugin_config,
                f"{__name__}.AuthorityTopicPlugin": plugin_config,
                f"{__name__}.ConnectionEventsPlugin": plugin_config,
            },
        }

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        broker = Broker(self._config(), loop=asyncio.get_running_loop())
        # amqtt 0.12 walks its subscriptions dict across awaits while broadcasting; a device subscribing in
        # that moment raised "dictionary changed size during iteration" and the message was never delivered
        # (seen with 1,000 cameras). Iterating a snapshot delivers to every subscription present at the start.
        broker._subscriptions = _SnapshotDict(broker._subscriptions)
        _retained_to_holders_only(broker)
        self._broker = broker
        await broker.start()
        servers = await self._listen()
        server = servers[0]
        try:
            self._port = int(server.sockets[0].getsockname()[1])
            self._ready.set()
            log.info("embedded MQTT broker listening on %s:%d%s", self._host, self._port,
                     " (TLS)" if self._tls is not None else "")
            await self._stopping.wait()
        finally:
            for extra in servers[1:]:
                extra.close()
            server.close()
            try:
                await asyncio.wait_for(broker.shutdown(), self._timeout_s / 2)
            except (TimeoutError, Exception):
                log.warning("the MQTT broker did not shut down cleanly", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)
            self._bridge.forget_all()

    async def _listen(self) -> list[asyncio.Server]:
        """The MQTT listener (over TLS when asked, §11.1) and the optional plain one beside it."""
        kind = "MQTT over TLS" if self._tls is not None else "MQTT"
        sock = listening_socket(kind, self._host, self._requested_port)
        context = self._tls.server_context() if self._tls is not None else None
        servers = [await asyncio.start_server(self._accept, sock=sock, ssl=context,
                                              ssl_handshake_timeout=self._timeout_s if context else None)]
        if self._tls is not None and self._requested_plain_port is not None:
            plain = listening_socket("MQTT", self._host, self._requested_plain_port)
            servers.append(await asyncio.start_server(self._accept, sock=plain))
            self.plain_port = int(plain.getsockname()[1])
        return servers

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Gate every connection on its CONNECT before amqtt sees it.

        amqtt 0.12 deletes the existing session of a client id (its subscriptions) *before* it authenticates
        the new CONNECT, so a wrong password under an online device's client id would silently cut that
        device off its commands. Here a refused CONNECT gets CONNACK 5 and never reaches amqtt; an accepted
        one first drops the connection it takes over [MQTT-3.1.4-2], then amqtt is replayed the same bytes
        (and its authentication plugin decides again, with the same authority).
        """
        try:
            try:
                raw, connect = await asyncio.wait_for(read_connect(reader), self._timeout_s)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            if connect is None:
                return
            refusal = self._refusal(connect)
            if refusal is not None:
                writer.write(refusal)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                return
            if connect.will_topic is not None and not self._will_allowed(connect):
                raw = without_will(raw, connect)
            if connect.level == MQTT_311 and connect.client_id in self._bridge.connected_clients():
                await self._drop(connect.client_id)
            await self._broker.external_connected(ReplayReader(reader, raw), StreamWriterAdapter(writer), "default")
        except Exception:
            log.debug("MQTT connection ended on an error", exc_info=True)
        finally:
            writer.close()


    def _refusal(self, connect: Connect) -> bytes | None:
        """The CONNACK refusing a 3.1.1 login the authority does not know (see :meth:`_accept`), or None."""
        if connect.level != MQTT_311:
            return None
        if self.authority.authenticate(connect.client_id, connect.username, connect.password) is None:
            log.info("MQTT login refused for a client")
            log.debug("MQTT login refused for client %r", connect.client_id)  # may be acon_<licence uuid>
            return CONNACK_NOT_AUTHORISED
        return None

    def _will_allowed(self, connect: Connect) -> bool:
        """A will is authorised at CONNECT exactly like a PUBLISH of its topic by the same login.

        One outside the login's own publish topics is dropped (the CONNECT goes on without it), as Mosquitto
        drops it under the generated ACL: amqtt would otherwise publish it, and retain it with the will's retain
        flag, unchecked when the connection ends.
        """
        if connect.will_topic is None:
            raise HarnessError("broken invariant: connect.will_topic is not None")
        identity = self.authority.authenticate(connect.client_id, connect.username, connect.password)
        if self.authority.may_publish(identity, connect.will_topic):
            return True
        log.warning("MQTT will dropped: it names a topic its login may not publish to")
        log.debug("dropped the will of client %r on %r", connect.client_id, connect.will_topic)
        return False


def _retained_to_holders_only(broker: Broker) -> None:
    """amqtt 0.12 hands a client that connects the retained messages matching *every* client's subscriptions
    ("a pre-existing session's subscriptions"), past the topic ACL: a device logging in got another device's
    retained command. Here a retained message goes only with a filter the session itself holds (MQTT 3.3.1.3)."""
    send = broker._publish_retained_messages_for_subscription

    async def holders_only(subscription: tuple[str, int], session: Any) -> None:
        holders = broker._subscriptions.get(subscription[0], ())
        if any(held.client_id == session.client_id for held, _ in holders):
            await send(subscription, session)

    broker._publish_retained_messages_for_subscription = holders_only


BrokerKind = Literal["amqtt", "mosquitto"]


def make_broker(kind: BrokerKind, authority: CredentialAuthority, **kw: Any) -> MqttBroker:
    """Build the broker the cloud runs: ``"amqtt"`` (embedded, the default) or ``"mosquitto"`` (optional)."""
    if kind == "amqtt":
        return EmbeddedBroker(authority, **kw)
    if kind == "mosquitto":
        return MosquittoBroker(authority, **kw)
    raise ValueError(f"unknown broker kind {kind!r}: expected 'amqtt' or 'mosquitto'")


__all__ = [
    "AclRule",
    "AuthoritySnapshot",
    "BrokerIdentity",
    "BrokerKind",
    "ConnectionCallback",
    "CredentialAuthority",
    "EmbeddedBroker",
    "IdentityKind",
    "MosquittoBroker",
    "MqttBroker",
    "device_publish_topics",
    "device_subscribe_topics",
    "make_broker",
]
