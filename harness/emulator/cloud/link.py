"""The cloud's MQTT side (PROTOCOL.md §5): broker credentials, online state, DP reports and commands.

:class:`BrokerLink` is the :class:`~harness.emulator.cloud.state.DeviceLink` of a running cloud. It keeps the
broker's :class:`CredentialAuthority` in step with the registry (a licence may log in as ``acon_<uuid>``
before activation; an activated device as its devId with md5(secKey)[8:24]; a removed device not at all),
marks devices online and offline from the broker's connect and disconnect callbacks, and drives the cloud's
own privileged MQTT client, which records protocol-4 DP reports and publishes commands (5 DP set,
8 unbind, 11 reset).

The privileged client is :class:`harness.emulator.cloud.mqtt.CloudMqttClient`; it is imported when the link
starts, so a cloud without it still serves HTTP and tracks online state (commands are then not sent, and
:meth:`BrokerLink.send` says so by returning False).
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from harness.clock import Clock
from harness.emulator.broker.authority import PREACTIVATION_PREFIX, BrokerPolicy
from harness.emulator.broker.embedded import BrokerIdentity, CredentialAuthority, make_broker
from harness.emulator.listen import TlsMaterial, dial_host
from harness.protocol import mqtt as mq
from harness.protocol.mqtt import MqttMessage, MqttProtocol

log = logging.getLogger(__name__)

CLOUD_USERNAME = "paircert-cloud"


class BrokerLink:
    """Broker + credentials + the cloud's privileged client, for one cloud."""

    def __init__(self, *, broker_kind: str = "amqtt", host: str = "127.0.0.1", port: int = 0,
                 policy: BrokerPolicy | None = None, clock: Clock, on_online: Callable[[str, bool], None],
                 on_report: Callable[[str, dict[str, Any], str], None],
                 tls: TlsMaterial | None = None, plain_port: int | None = None) -> None:
        self.broker_kind = broker_kind
        self._tls = tls
        #: (devId, plaintext MQTT-ATOP request) -> plaintext answer (§11.4); set by the cloud that owns the state
        self.rpc_handler: Callable[[str, bytes], bytes | None] | None = None
        policy = policy if policy is not None else BrokerPolicy()
        self._check(policy)
        self.authority = CredentialAuthority(policy=policy)
        self._clock = clock
        self._on_online = on_online
        self._on_report = on_report
        self._local_keys: dict[str, str] = {}
        self._lock = threading.Lock()
        self._cloud_password = secrets.token_hex(16)
        self.authority.set_cloud(CLOUD_USERNAME, self._cloud_password)
        # A device counts as online once it can hear the cloud: with amqtt, when the broker grants it its own
        # command topic (so a command sent the moment it reads online reaches it); Mosquitto reports no
        # subscriptions, so there it is online from its CONNACK.
        self._online_on_subscribe = broker_kind == "amqtt"
        extra: dict[str, Any] = {"on_subscribed": self._subscribed} if self._online_on_subscribe else {}
        if tls is not None:  # §11.1: MQTT over TLS on the port, a plain listener beside it when asked
            extra.update(tls=tls, plain_port=plain_port)
        self.broker = make_broker(broker_kind, self.authority, host=host, port=port,  # type: ignore[arg-type]
                                  on_connect=self._connected, on_disconnect=self._disconnected, **extra)
        self._client: Any = None

    @property
    def host(self) -> str:
        return self.broker.host

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def plain_port(self) -> int | None:
        """The plain MQTT listener beside the TLS one (None without one)."""
        return getattr(self.broker, "plain_port", None) if self._tls is not None else None

    @property
    def tls(self) -> bool:
        return self._tls is not None

    @property
    def cloud_login(self) -> tuple[str, str]:
        """The cloud's own MQTT username and password (a cloud's other workers log in with it)."""
        return CLOUD_USERNAME, self._cloud_password

    def start(self) -> None:
        self.broker.start()
        try:
            module = importlib.import_module("harness.emulator.cloud.mqtt")
        except ModuleNotFoundError:
            log.warning("harness.emulator.cloud.mqtt is missing: the cloud will not send MQTT commands")
            return
        client = module.CloudMqttClient(dial_host(self.broker.host), self.broker.port, CLOUD_USERNAME,
                                        self._cloud_password, key_lookup=self._local_key, on_message=self._message,
                                        clock=self._clock, on_rpc=self._rpc,
                                        tls=self._tls.client_context() if self._tls is not None else None)
        client.start()
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.stop()
            except Exception:
                log.exception("the cloud's MQTT client did not stop cleanly")
        self.broker.stop()

    # ------------------------------------------------------------------------------- broker callbacks

    def _connected(self, client_id: str, identity: BrokerIdentity | None) -> None:
        if identity is not None and identity.kind == "device" and not self._online_on_subscribe:
            self._on_online(identity.id, True)

    def _subscribed(self, client_id: str, identity: BrokerIdentity | None) -> None:
        if identity is not None and identity.kind == "device":
            self._on_online(identity.id, True)

    def _disconnected(self, client_id: str, identity: BrokerIdentity | None) -> None:
        if identity is not None and identity.kind == "device":
            self._on_online(identity.id, False)

    def _rpc(self, dev_id: str, payload: bytes) -> bytes | None:
        handler = self.rpc_handler
        return handler(dev_id, payload) if handler is not None else None

    def _local_key(self, dev_id: str) -> str | None:
        with self._lock:
            return self._local_keys.get(dev_id)

    def _message(self, dev_id: str, message: MqttMessage) -> None:
        if message.protocol == MqttProtocol.DP_REPORT:
            dps = message.data.get("dps")
            client = self._client
            if isinstance(dps, dict) and client is not None:  # with the envelope version it came in
                self._on_report(dev_id, dict(dps), client.pv_for(dev_id))

    def _check(self, policy: BrokerPolicy) -> None:
        problem = policy.unsupported_by(self.broker_kind)
        if problem is not None:
            raise ValueError(problem)

    # -------------------------------------------------------------------------------- DeviceLink

    def set_policy(self, policy: BrokerPolicy) -> None:
        """The broker decides by ``policy`` from now on; ValueError when this broker cannot."""
        self._check(policy)
        self.authority.set_policy(policy)

    def licence_issued(self, uuid: str, auth_key: str) -> None:
        self.authority.set_preactivation(uuid, auth_key)

    def licence_revoked(self, uuid: str) -> None:
        self.authority.remove_preactivation(uuid)

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None:
        with self._lock:
            self._local_keys[dev_id] = local_key
        self.authority.set_device(dev_id, sec_key)

    def device_removed(self, dev_id: str) -> None:
        """§6: "If the device was removed while offline, its next MQTT CONNACK is 'not authorized'"."""
        self.authority.remove_device(dev_id)

    def device_protocol(self, dev_id: str, protocol_ver: str) -> None:
        """§11.9.5: the cloud's first command to ``dev_id`` uses the version it announced at activation."""
        client = self._client
        if client is not None and protocol_ver in mq.PROTOCOL_VERSIONS:
            client.announce_pv(dev_id, protocol_ver)

    # ------------------------------------------------------------------------- binding by UUID (§11.6)

    def preactivation_login(self, uuid: str) -> BrokerIdentity | None:
        """The identity of the ``acon_<uuid>`` login connected now (its ``pv`` the login's suffix), or None."""
        identity = self.broker.identity_of(f"{PREACTIVATION_PREFIX}{uuid}")
        if identity is None or identity.kind != "preactivation" or identity.id != uuid:
            return None
        return identity

    def push_active_token(self, uuid: str, auth_key: str, data: dict[str, Any], pv: mq.ProtocolVersion) -> bool:
        """Publish protocol 46 with ``data`` on ``d/ai/<uuid>``, sealed with authKey[:16] in envelope ``pv``
        (§11.6, §11.9.1); False when the cloud has no MQTT client."""
        client = self._client
        if client is None:
            return False
        message = MqttMessage(MqttProtocol.ACTIVE_TOKEN, int(self._clock.time()), data)
        nonce = secrets.token_bytes(mq.NONCE_LEN) if pv == "2.3" else None
        payload = mq.encode_message(message, local_key=auth_key[:16], pv=pv, seq=1, source=0, nonce=nonce)
        try:
            client.publish_raw(mq.preactivation_topic(uuid), payload)
        except Exception:
            log.exception("could not push the activation token to %s", uuid)
            return False
        return True

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None, *, retain: bool = False) -> bool:
        client = self._client
        if client is None:
            return False
        message = MqttMessage(protocol, int(self._clock.time()), data, root or {})
        with self._lock:
            self._local_keys[dev_id] = local_key
        try:
            client.publish(dev_id, message, pv=client.pv_for(dev_id), retain=retain)
        except Exception:
            log.exception("could not publish protocol %d to %s", protocol, dev_id)
            return False
        return True


__all__ = ["CLOUD_USERNAME", "BrokerLink"]
