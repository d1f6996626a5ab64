"""What the camera knows of its cloud: where a region's devices activate and log in, and what activation gave it
(PROTOCOL.md §4.1, §4.3). Plain records the firmware model and its MQTT half share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloudEndpoint:
    """Where a region's devices activate (ATOP ``/d.json``) and log in (MQTT)."""

    atop_url: str
    mqtt_host: str
    mqtt_port: int


@dataclass
class Activation:
    """What activation gave the camera (§4.3), kept in its flash until a reset wipes it."""

    dev_id: str
    sec_key: str
    local_key: str
    schema_id: str
    region: str
    endpoint: CloudEndpoint


__all__ = ["Activation", "CloudEndpoint"]
