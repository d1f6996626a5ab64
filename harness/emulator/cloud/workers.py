"""One lab cloud in several processes (``paircert cloud serve --workers N``), so that it uses every core.

Every worker is an :class:`~harness.emulator.cloud.EmulatedCloud` over the same SQLite file, shared
(:mod:`.store`: each locked state operation is one ``BEGIN IMMEDIATE`` transaction that first applies the other
workers' changes), and accepting on the same HTTP(S) ports (SO_REUSEPORT: the kernel spreads the connections;
with TLS every worker serves the same certificate). Worker 0 runs in the serving process and holds the one MQTT
broker; it learns the credentials the others issue from the store before deciding each MQTT login. The other
workers are spawned processes whose cloud-side MQTT client (:class:`ClientLink`) logs in to that broker to send
the commands their requests make.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from harness.clock import Clock
from harness.emulator.broker.authority import BrokerPolicy
from harness.emulator.listen import TlsMaterial, dial_host
from harness.protocol import mqtt as mq
from harness.protocol.mqtt import MqttMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    """Where worker 0's broker listens, and the cloud's own login on it (a worker's client uses it)."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    plain_port: int | None = None
    tls: bool = False


@dataclass(frozen=True)
class WorkerRole:
    """Which worker a cloud is (``index`` of ``count``); ``broker``: None for the worker that runs the broker."""

    index: int
    count: int
    broker: BrokerAddress | None = None

    def client_link(self, clock: Clock, material: TlsMaterial | None) -> ClientLink:
        if self.broker is None:
            raise ValueError("the broker's own worker has no client link")
        return ClientLink(self.broker, clock=clock, material=material, name=f"w{self.index}")


class ClientLink:
    """The :class:`~harness.emulator.cloud.state.DeviceLink` of a worker without the broker: the cloud's MQTT
    client on worker 0's broker sends its commands; credentials reach the broker through the shared store."""

    def __init__(self, broker: BrokerAddress, *, clock: Clock, material: TlsMaterial | None, name: str) -> None:
        self.broker = broker
        self._clock = clock
        self._material = material
        self._name = name
        self._lock = threading.Lock()
        self._local_keys: dict[str, str] = {}
        self._client: Any = None

    def start(self) -> None:
        from .mqtt import CloudMqttClient

        tls = self._material.client_context() if self._material is not None and self.broker.tls else None
        client = CloudMqttClient(dial_host(self.broker.host), self.broker.port, self.broker.username,
                                 self.broker.password, key_lookup=lambda _dev: None, on_message=lambda *_: None,
                                 clock=self._clock, client_id=f"{self.broker.username}-{self._name}", tls=tls)
        client.start()
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.stop()

    def licence_issued(self, uuid: str, auth_key: str) -> None:
        return None  # worker 0's broker reads it from the store

    def licence_revoked(self, uuid: str) -> None:
        return None

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None:
        with self._lock:
            self._local_keys[dev_id] = local_key

    def device_removed(self, dev_id: str) -> None:
        with self._lock:
            self._local_keys.pop(dev_id, None)

    def device_protocol(self, dev_id: str, protocol_ver: str) -> None:
        """§11.9.5: commands to ``dev_id`` use the version it announced at activation."""
        client = self._client
        if client is not None and protocol_ver in mq.PROTOCOL_VERSIONS:
            client.announce_pv(dev_id, protocol_ver)

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None, *, retain: bool = False) -> bool:
        client = self._client
        if client is None:
            return False
        message = MqttMessage(protocol, int(self._clock.time()), data, root or {})
        try:
            client.publish(dev_id, message, pv=client.pv_for(dev_id), retain=retain)
        except Exception:
            log.exception("could not publish protocol %d to %s", protocol, dev_id)
            return False
        return True

    def set_policy(self, policy: BrokerPolicy) -> None:
        return None  # worker 0's broker follows its own behaviour


__all__ = ["BrokerAddress", "ClientLink", "WorkerRole"]
