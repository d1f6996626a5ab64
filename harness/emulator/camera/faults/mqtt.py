"""Camera faults of its MQTT life: login, DP reports and commands, unbind and reset (PROTOCOL.md §5, §6)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.emulator.camera.firmware import EmulatedCamera
from harness.protocol import mqtt as mq

from .registry import builtin as _fault


@_fault("mqtt-password-wrong", "derives its MQTT password from the wrong MD5 slice (md5(secKey)[0:16])",
        "PROTOCOL.md §5: password = md5(secKey).hexdigest()[8:24]")
class MqttPasswordWrong(EmulatedCamera):
    def mqtt_credentials(self, dev_id: str, sec_key: str) -> tuple[str, str, str]:
        client_id, username, _ = super().mqtt_credentials(dev_id, sec_key)
        return client_id, username, hashlib.md5(sec_key.encode("utf-8")).hexdigest()[:16]


@_fault("never-reports-dps", "never publishes a DP report (protocol 4)",
        "PROTOCOL.md §5 / issue 6: its DP reports reach the cloud; commands are reported back")
class NeverReportsDps(EmulatedCamera):
    async def report_dps(self, dps: Mapping[str, Any]) -> None:
        return None


@_fault("reports-dps-only-on-command", "never reports its DPs by itself (not on connecting); answers commands only",
        "PROTOCOL.md §5: the device's DP reports reach the cloud")
class ReportsDpsOnlyOnCommand(EmulatedCamera):
    async def _after_online(self) -> None:
        self.record("online", dev_id=self.dev_id)  # the fault: no protocol-4 report of its state


@_fault("ignores-dp-commands", "drops DP commands (protocol 5) without applying or reporting them",
        "PROTOCOL.md §5: cloud DP commands reach the device and are reported back")
class IgnoresDpCommands(EmulatedCamera):
    async def on_dp_command(self, dps: Mapping[str, Any]) -> None:
        self.record("dp-command-ignored", dps=dict(dps))


@_fault("ignores-remote-unbind", "stays activated and online after an unbind (protocol 8)",
        "PROTOCOL.md §5/§6: after removal the device is told and un-activates")
class IgnoresRemoteUnbind(EmulatedCamera):
    async def on_unbind(self, message: mq.MqttMessage) -> None:
        self.record("unbind-ignored")


@_fault("ignores-remote-reset", "stays activated and online after a remote reset (protocol 11)",
        "PROTOCOL.md §5/§6: a remote reset un-activates (reset_factory also wipes)")
class IgnoresRemoteReset(EmulatedCamera):
    async def on_remote_reset(self, message: mq.MqttMessage) -> None:
        self.record("reset-ignored", factory=message.is_factory_reset)


@_fault("reconnect-never", "does not log in to MQTT again by itself after a power cycle or a lost link",
        "issue 6: after a power cycle it reconnects by itself")
class ReconnectNever(EmulatedCamera):
    def reconnects(self) -> bool:
        return False
