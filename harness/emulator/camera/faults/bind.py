"""Camera faults of binding by UUID: the device waits on d/ai/<uuid> but mishandles the pushed token (§11.6)."""

from __future__ import annotations

from harness.emulator.camera.firmware import EmulatedCamera
from harness.protocol import mqtt as mq

from .registry import builtin as _fault


@_fault("ignores-token-push", "waits as acon_<uuid> on d/ai/<uuid> but does nothing with the token it is pushed",
        "PROTOCOL.md §11.6: a device bound by its UUID activates with the token pushed to it (protocol 46)")
class IgnoresTokenPush(EmulatedCamera):
    async def on_token_push(self, message: mq.MqttMessage) -> None:
        self.record("bind-push-ignored", protocol=int(message.protocol))
