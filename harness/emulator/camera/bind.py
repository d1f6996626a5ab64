"""The camera waiting to be bound by its UUID (PROTOCOL.md §11.6, §11.9.1), the SDKs' default token source.

In pairing mode a camera built with ``bind_by_uuid`` also logs in to MQTT as ``acon_<uuid>`` (password
md5(authKey)[8:24]; the username carries ``|pv=2.3`` when the camera speaks 2.3, as TuyaOpen's does, and nothing
when it speaks 2.2, as the connect-kit's does), subscribes to ``d/ai/<uuid>`` and waits, showing its UUID for the
app to scan. A protocol-46 push ``{"token","region","env"}`` sealed with authKey[:16] in the envelope of its
login (TuyaOpen reads only 2.3, the connect-kit 2.2) is its pairing config: it activates with that token as in
§4, on the network it is already on. Limits as TuyaOpen's (``mqtt_bind.c``): token at most 8 characters, region
at most 2, env at most 4 (``"pro"`` when absent); a push outside them is dropped and the camera keeps waiting.

Emulator-defined: a refused login ends the wait (the QR, EZ and AP channels stay open); an unreachable broker is
tried :data:`BIND_CONNECT_ATTEMPTS` times, ``mqtt_retry_s`` apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.emulator.camera.activation import CloudEndpoint
from harness.emulator.camera.mqtt import LoopMqttClient
from harness.emulator.camera.pairing import PairingConfig
from harness.emulator.camera.states import State
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from harness.clock import Clock
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.timeline import TimelineEvent

BIND_CONNECT_ATTEMPTS = 3
#: Timeline events after which the camera's wait to be bound has settled: waiting, or given up.
BIND_SETTLED_EVENTS = frozenset({"bind-waiting", "bind-refused", "bind-gave-up", "bind-no-endpoint"})
# TuyaOpen mqtt_bind.c: token <= 8, region <= 2, env <= 4 characters.
PUSH_LIMITS = {"token": 8, "region": 2, "env": 4}


class UuidBindMixin:
    """The ``acon_`` half of :class:`~harness.emulator.camera.firmware.EmulatedCamera`."""

    if TYPE_CHECKING:
        device_loop: DeviceLoop
        clock: Clock
        uuid: str
        auth_key: str
        cloud: CloudEndpoint | Mapping[str, CloudEndpoint]
        mqtt_pv: mq.ProtocolVersion
        mqtt_keepalive: int
        mqtt_retry_s: float

        def record(self, name: str, **details: Any) -> TimelineEvent: ...

        def in_state(self, *states: State) -> bool: ...

        def _spawn(self, coro: Any) -> asyncio.Task[Any]: ...

        def capture_config(self, config: PairingConfig) -> None: ...

    _bind_client: LoopMqttClient | None
    _bind_lost: asyncio.Future[str] | None

    def _init_bind(self) -> None:
        self._bind_client = None
        self._bind_lost = None

    @property
    def bind_waiting(self) -> bool:
        """Whether the camera is logged in as ``acon_<uuid>`` and subscribed to ``d/ai/<uuid>`` now."""
        client = self._bind_client
        return client is not None and client.connected and self.in_state(State.PAIRING)

    # -- hooks ----------------------------------------------------------------------------------------------

    def bind_login(self) -> tuple[str, str, str]:
        """Hook: the ``acon_`` login (§5): ``|pv=2.3`` on the username when the camera speaks 2.3 (TO)."""
        creds = mq.preactivation_credentials(self.uuid, self.auth_key, pv="2.3" if self.mqtt_pv == "2.3" else None)
        return creds.client_id, creds.username, creds.password

    def bind_push_pv(self) -> mq.ProtocolVersion:
        """Hook: the one envelope version the camera opens a push in: its login's (§11.9.1)."""
        return "2.3" if self.mqtt_pv == "2.3" else "2.2"

    def bind_endpoint(self) -> CloudEndpoint | None:
        """Hook: where the camera waits before it knows a region: its single endpoint, the catch-all, or the
        first it knows (TuyaOpen asks url_config without a region for it, §11.9.1)."""
        if isinstance(self.cloud, CloudEndpoint):
            return self.cloud
        return self.cloud.get("*") or next(iter(self.cloud.values()), None)

    async def on_token_push(self, message: mq.MqttMessage) -> None:
        """Hook: a protocol-46 push opened: its token, region and env become the pairing config (§11.6)."""
        if message.protocol != mq.MqttProtocol.ACTIVE_TOKEN:
            self.record("bind-message-ignored", protocol=int(message.protocol))
            return
        data = dict(message.data)
        data.setdefault("env", "pro")
        bad = [key for key, limit in PUSH_LIMITS.items()
               if not isinstance(data.get(key), str) or not 0 < len(data[key]) <= limit]
        if bad:
            self.record("bind-push-refused", reason=f"{', '.join(bad)} missing or too long (§11.9.1 limits)")
            return
        self.record("bind-token-received", token=data["token"], region=data["region"], env=data["env"])
        self.capture_config(PairingConfig("mqtt-bind", b"", b"", f"{data['region']}{data['token']}{data['env']}"))

    # -- the session ------------------------------------------------------------------------------------------

    async def _bind_wait(self) -> None:
        """Log in as ``acon_<uuid>``, subscribe ``d/ai/<uuid>`` and wait there while in pairing mode."""
        endpoint = self.bind_endpoint()
        if endpoint is None:
            self.record("bind-no-endpoint")
            return
        client_id, username, password = self.bind_login()
        failures = 0
        while self.in_state(State.PAIRING) and failures < BIND_CONNECT_ATTEMPTS:
            loop = self.device_loop.loop
            client = LoopMqttClient(loop, client_id=client_id, username=username, password=password,
                                    on_message=self._on_bind_message, on_lost=self._on_bind_lost,
                                    keepalive=self.mqtt_keepalive,
                                    tls=endpoint.tls_context() if endpoint.mqtt_tls else None)
            self.record("bind-connect", host=endpoint.mqtt_host, port=endpoint.mqtt_port, client_id=client_id,
                        username=username, mqtt_password=password, tls=endpoint.mqtt_tls)
            outcome = await client.connect(endpoint.mqtt_host, endpoint.mqtt_port)
            if outcome.accepted and self.in_state(State.PAIRING):
                topic = mq.preactivation_topic(self.uuid)
                if await client.subscribe_acked(topic, 1) and self.in_state(State.PAIRING):
                    self._bind_client, self._bind_lost = client, loop.create_future()
                    self.record("bind-waiting", topic=topic)  # the QR code with the UUID is shown from now on
                    reason = await self._bind_lost
                    self.record("bind-lost", reason=reason)
                    self._bind_client = None
                    failures = 0
                else:
                    client.abort()
                    failures += 1
            else:
                client.abort()
                if outcome.refused:
                    self.record("bind-refused", code=outcome.code, reason=outcome.reason)
                    return
                failures += 1
                self.record("bind-unreachable", reason=outcome.reason)
            await self.clock.sleep(self.mqtt_retry_s)
        if self.in_state(State.PAIRING):
            self.record("bind-gave-up", attempts=failures)

    def _stop_bind_wait(self) -> None:
        client, self._bind_client = self._bind_client, None
        if client is not None:
            client.abort()
        lost, self._bind_lost = self._bind_lost, None
        if lost is not None and not lost.done():
            lost.set_result("stopped")

    def _on_bind_lost(self, reason: str) -> None:
        lost = self._bind_lost
        if lost is not None and not lost.done():
            lost.set_result(reason)

    def _on_bind_message(self, topic: str, payload: bytes) -> None:
        self._spawn(self._handle_bind_message(topic, payload))

    async def _handle_bind_message(self, topic: str, payload: bytes) -> None:
        if not self.in_state(State.PAIRING):
            return
        expected = self.bind_push_pv()
        try:
            envelope = mq.decode_envelope(payload, local_key=self.auth_key[:16])
            message = mq.parse_message_json(envelope.plaintext)
        except ProtocolError as exc:
            self.record("bind-push-refused", reason=str(exc))
            return
        if envelope.pv != expected:  # §11.9.1: TO "version error, must pv2.3"
            self.record("bind-push-refused", reason=f"a {envelope.pv} envelope; this login reads only {expected}")
            return
        await self.on_token_push(message)


__all__ = ["BIND_CONNECT_ATTEMPTS", "BIND_SETTLED_EVENTS", "PUSH_LIMITS", "UuidBindMixin"]
