"""Camera faults of its MQTT life: login, DP reports and commands, unbind and reset (PROTOCOL.md §5, §6)."""

from __future__ import annotations

import dataclasses
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


@_fault("reports-in-another-mqtt-version", "publishes its reports in another MQTT envelope version than the one its "
        "profile claims (2.2 when it claims 2.3, else 2.3); the cloud reads both, so everything still works",
        "PROTOCOL.md §5: the device speaks the protocol version it announces (profile mqtt_protocol_version)")
class ReportsInAnotherMqttVersion(EmulatedCamera):
    def publish_pv(self) -> mq.ProtocolVersion:
        return "2.2" if self.mqtt_pv == "2.3" else "2.3"


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


@_fault("drops-falsy-dp-values", "leaves DPs whose value is false, 0 or \"\" out of its reports: a command that "
        "switches something off is applied but never reported",
        "seed device-cloud-binding: the device reports state back as DPs (every value, false and 0 included)")
class DropsFalsyDpValues(EmulatedCamera):
    async def report_dps(self, dps: Mapping[str, Any]) -> None:
        kept = {dp: value for dp, value in dps.items() if value}
        if kept:
            await super().report_dps(kept)


@_fault("forgets-ca-on-reboot", "keeps its activation across a power cycle but not the lab CA url_config gave it: "
        "after a reboot its MQTT-over-TLS login fails verification and it never comes back online",
        "PROTOCOL.md §11.1/§5: the CA from url_config is stored with the activation and reused after a reboot")
class ForgetsCaOnReboot(EmulatedCamera):
    async def power_on_async(self) -> None:
        if self.activation is not None:
            self.activation = dataclasses.replace(
                self.activation, endpoint=dataclasses.replace(self.activation.endpoint, ca_pem=None))
        await super().power_on_async()
