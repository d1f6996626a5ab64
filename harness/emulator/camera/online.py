"""The online half of the emulated camera: its MQTT session (PROTOCOL.md §5) and what it does there.

After activation the camera logs in with clientId = username = devId and the password derived from its
secKey, subscribes to ``smart/device/in/<devId>``, reports its DPs (protocol 4), applies DP commands
(protocol 5) and reports them back, and honours unbind (8) and reset (11). A refused login means it was
removed while offline (§6): it un-activates, keeps its devId and goes back to pairing mode (emulator-defined).
The methods marked "hook" are the ones a fault overrides.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.clock import take_hold
from harness.emulator.camera.mqtt import LoopMqttClient
from harness.emulator.camera.states import Event, State
from harness.errors import HarnessError
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError

if TYPE_CHECKING:
    import asyncio

    from harness.clock import Clock
    from harness.emulator.camera.activation import Activation
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.timeline import TimelineEvent


def seal_message(message: mq.MqttMessage, *, local_key: str, pv: mq.ProtocolVersion, seq: int) -> bytes:
    """A message from the device in the camera's envelope (§5): version ``pv``, its sequence number, from the device,
    a fresh nonce for 2.3."""
    nonce = secrets.token_bytes(mq.NONCE_LEN) if pv == "2.3" else None
    return mq.encode_message(message, local_key=local_key, pv=pv, seq=seq, nonce=nonce)


class OnlineMixin:
    """The MQTT half of :class:`~harness.emulator.camera.firmware.EmulatedCamera`."""

    if TYPE_CHECKING:
        device_loop: DeviceLoop
        clock: Clock
        activation: Activation | None
        dps: dict[str, Any]
        mqtt_pv: mq.ProtocolVersion
        mqtt_keepalive: int
        mqtt_retry_s: float
        _mqtt: LoopMqttClient | None
        _mqtt_seq: int
        _fresh_activation: bool

        @property
        def state(self) -> State: ...

        @property
        def dev_id(self) -> str | None: ...

        def record(self, name: str, **details: Any) -> TimelineEvent: ...

        def _fire(self, event: Event, **details: Any) -> None: ...

        def in_state(self, *states: State) -> bool: ...

        def _spawn(self, coro: Any) -> asyncio.Task[Any]: ...

        def _unactivate(self, *, forget_dev_id: bool) -> None: ...
    # -- MQTT (§5) -----------------------------------------------------------------------------------------------

    async def _mqtt_session(self) -> None:
        activation = self.activation
        if activation is None:
            raise HarnessError("broken invariant: activation is not None")
        if not self._fresh_activation and not self.reconnects():
            self.record("mqtt-not-attempted")
            return
        client_id, username, password = self.mqtt_credentials(activation.dev_id, activation.sec_key)
        endpoint = activation.endpoint
        while self.in_state(State.CONNECTING):
            client = LoopMqttClient(self.device_loop.loop, client_id=client_id, username=username, password=password,
                                    on_message=self._on_mqtt_message, on_lost=self._on_mqtt_lost,
                                    keepalive=self.mqtt_keepalive,
                                    tls=endpoint.tls_context() if endpoint.mqtt_tls else None)  # §11.1
            self.record("mqtt-connect", host=activation.endpoint.mqtt_host, port=activation.endpoint.mqtt_port,
                        client_id=client_id, username=username, mqtt_password=password)
            # Real sockets in flight: the world's clock waits for the broker's answers (bounded by the client's
            # own real-time timeouts), so that a busy machine never turns a slow CONNACK into a missed deadline.
            release = take_hold(self.clock)
            try:
                outcome = await client.connect(activation.endpoint.mqtt_host, activation.endpoint.mqtt_port)
                # Online only once the broker has granted the device its topic: a command the cloud sends after
                # it counts the device online must reach it (an unbind published before the SUBACK would be lost).
                granted = (outcome.accepted and self.in_state(State.CONNECTING)
                           and await client.subscribe_acked(mq.topic_in(activation.dev_id), 1))
            finally:
                release()
            if not self.in_state(State.CONNECTING):
                client.abort()
                return
            if outcome.accepted:
                if granted:
                    self._mqtt = client
                    self._fresh_activation = False
                    self._fire(Event.MQTT_CONNECTED)
                    return
                client.abort()
                self.record("mqtt-subscribe-refused", topic=mq.topic_in(activation.dev_id))
                self._fire(Event.MQTT_RETRY)
                await self.clock.sleep(self.mqtt_retry_s)
                continue
            if outcome.refused:
                # Emulator-defined: removed while offline (§6), so un-activate and go back to pairing mode.
                self.record("mqtt-refused", code=outcome.code, reason=outcome.reason)
                self._unactivate(forget_dev_id=False)
                self._fire(Event.MQTT_REFUSED, code=outcome.code)
                return
            self.record("mqtt-unreachable", reason=outcome.reason)
            self._fire(Event.MQTT_RETRY)
            await self.clock.sleep(self.mqtt_retry_s)

    def _drop_mqtt(self, *, graceful: bool) -> None:
        client, self._mqtt = self._mqtt, None
        if client is None:
            return
        if graceful:
            self.device_loop.loop.create_task(client.disconnect())
        else:
            client.abort()

    def _on_mqtt_lost(self, reason: str) -> None:
        self._mqtt = None
        self.record("mqtt-lost", reason=reason)
        if self.state is State.ONLINE:
            self._fire(Event.MQTT_LOST)

    def _on_mqtt_message(self, topic: str, payload: bytes) -> None:
        self._spawn(self._handle_message(topic, payload))

    async def _handle_message(self, topic: str, payload: bytes) -> None:
        activation = self.activation
        if activation is None or self.state is not State.ONLINE:
            return
        try:
            message = mq.decode_message(payload, local_key=activation.local_key)
        except ProtocolError as exc:
            self.record("mqtt-bad-message", topic=topic, error=str(exc))
            return
        self.record("mqtt-message", topic=topic, protocol=int(message.protocol), data=dict(message.data))
        if message.protocol == mq.MqttProtocol.DP_COMMAND:
            try:
                dps = dict(message.dps)
            except ProtocolError as exc:
                self.record("mqtt-bad-message", topic=topic, error=str(exc))
                return
            await self.on_dp_command(dps)
        elif message.protocol == mq.MqttProtocol.UNBIND:
            await self.on_unbind(message)
        elif message.protocol == mq.MqttProtocol.RESET:
            await self.on_remote_reset(message)

    async def _after_online(self) -> None:
        self.record("online", dev_id=self.dev_id)
        await self.report_dps(dict(self.dps))

    async def publish_async(self, message: mq.MqttMessage) -> None:
        """Publish ``message`` on ``smart/device/out/<devId>`` in the camera's envelope (§5)."""
        activation, client = self.activation, self._mqtt
        if activation is None or client is None:
            return
        self._mqtt_seq += 1
        payload = seal_message(message, local_key=activation.local_key, pv=self.publish_pv(), seq=self._mqtt_seq)
        client.publish(mq.topic_out(activation.dev_id), payload, 1)
        self.record("mqtt-publish", protocol=int(message.protocol), data=dict(message.data))

    # -- hooks ----------------------------------------------------------------------------------------------

    def publish_pv(self) -> mq.ProtocolVersion:
        """Hook: the envelope version of what the camera publishes (§5): the one it speaks."""
        return self.mqtt_pv

    def mqtt_credentials(self, dev_id: str, sec_key: str) -> tuple[str, str, str]:
        """Hook: §5 clientId = username = devId, password = md5(secKey) hex [8:24]."""
        creds = mq.device_credentials(dev_id, sec_key)
        return creds.client_id, creds.username, creds.password

    def reconnects(self) -> bool:
        """Hook: whether an activated camera logs in again by itself after a power cycle or a lost link."""
        return True

    async def report_dps(self, dps: Mapping[str, Any]) -> None:
        """Hook: report DPs (protocol 4) after connecting and after applying a command."""
        await self.publish_async(mq.dp_report(dps, t=int(self.clock.time())))

    async def on_dp_command(self, dps: Mapping[str, Any]) -> None:
        """Hook: protocol 5: apply the DPs and report them back."""
        self._fire(Event.DP_COMMAND, dps=dict(dps))
        self.dps.update(dps)
        await self.report_dps(dps)

    async def on_unbind(self, message: mq.MqttMessage) -> None:
        """Hook: protocol 8, the app removed the device: un-activate, keep the devId, pairing mode."""
        self._unactivate(forget_dev_id=False)
        self._fire(Event.REMOTE_UNBIND)

    async def on_remote_reset(self, message: mq.MqttMessage) -> None:
        """Hook: protocol 11; root ``"type":"reset_factory"`` wipes everything, else a remote un-activate."""
        factory = message.is_factory_reset
        self._unactivate(forget_dev_id=factory)
        self._fire(Event.REMOTE_RESET, factory=factory)


__all__ = ["OnlineMixin", "seal_message"]
