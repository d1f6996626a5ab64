"""Factories of the built-in emulated adapters, called by :func:`harness.adapters.registry.build_world`.

``emulated_cloud(context, faults=(), broker="amqtt", state_path=None)`` starts an :class:`EmulatedCloud` on the
world's clock with the profile's region and token lifetime, and creates the profile's product on it.
``emulated_device(context, faults=(), mac=None, ap_host="127.0.0.1")`` makes an emulated camera of the profile's
shape, with a licence issued by the cloud (or the profile's own licence when the cloud cannot issue one), pointed at the
cloud's ATOP and MQTT addresses, on a device loop (one shared event loop) and the world's air.
``air_network(context, seed=None, loss=0, duplicate=0, reorder=0, noise=0)`` is the in-memory air.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from harness.adapters.contracts import AdapterError, CloudCapability, Licence
from harness.adapters.emulated import (
    CATEGORY_BY_KIND,
    AirNetworkAdapter,
    EmulatedCloudAdapter,
    EmulatedDeviceAdapter,
    build_emulated_camera,
)
from harness.adapters.registry import WorldContext
from harness.emulator.air import Air
from harness.emulator.camera.firmware import CloudEndpoint
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.loop import DeviceLoop
from harness.errors import HarnessError
from harness.model import BindingMode

_macs = itertools.count(1)


def air_network(context: WorldContext, *, seed: int | None = None, loss: float = 0.0, duplicate: float = 0.0,
                reorder: float = 0.0, noise: float = 0.0, **_: Any) -> AirNetworkAdapter:
    air = Air(seed=context.seed if seed is None else seed, loss=loss, duplicate=duplicate, reorder=reorder,
              noise=noise)
    context.shared["air"] = air
    return AirNetworkAdapter(air)


def emulated_cloud(context: WorldContext, *, faults: Sequence[str] = (), broker: str = "amqtt",
                   state_path: str | None = None) -> EmulatedCloudAdapter:
    profile = context.profile
    cloud = EmulatedCloud(clock=context.clock, region=profile.parameters.region,
                          token_ttl_s=profile.parameters.token_ttl_s, faults=faults,
                          broker=broker, state_path=state_path)  # type: ignore[arg-type]
    cloud.start()
    adapter = EmulatedCloudAdapter(cloud)
    try:
        if adapter.product(profile.device.pid) is None:
            adapter.create_product(profile.device.name, CATEGORY_BY_KIND.get(profile.device.kind, "qt"),
                                   BindingMode(profile.capabilities.binding_mode), pid=profile.device.pid)
    except BaseException:
        cloud.stop()
        raise
    return adapter


def _device_endpoint(context: WorldContext) -> CloudEndpoint:
    cloud = context.cloud
    endpoint = getattr(cloud, "device_endpoint", None)
    if endpoint is not None:
        found: CloudEndpoint = endpoint()
        return found
    info = dict(cloud.info()) if cloud is not None else {}
    try:
        host, _, port = str(info["mqtt"]).rpartition(":")
        return CloudEndpoint(str(info["atop_url"]), host, int(port))
    except (KeyError, ValueError) as exc:
        raise AdapterError("the cloud adapter does not say where devices activate (atop_url, mqtt)") from exc


def _licence(context: WorldContext) -> Licence:
    cloud = context.cloud
    if cloud is None:
        raise HarnessError("broken invariant: cloud is not None")
    if CloudCapability.ISSUE_LICENCES.value in cloud.capabilities:
        return cloud.issue_licence(context.profile.device.pid)
    configured = context.profile.parameters.licence
    if configured is None:
        raise AdapterError("the cloud cannot issue licences and the profile gives none ([parameters.licence])")
    resolved = configured.resolve()
    return Licence(uuid=resolved.uuid.get_secret_value(), auth_key=resolved.authkey.get_secret_value(),
                   pid=context.profile.device.pid)


def _device_loop(context: WorldContext) -> DeviceLoop:
    device_loop = context.shared.get("device_loop")
    if device_loop is None:
        device_loop = DeviceLoop(context.clock).start()
        context.shared["device_loop"] = device_loop
        context.closers.insert(0, device_loop.stop)  # stopped last, after every camera on it
    if not isinstance(device_loop, DeviceLoop):
        raise HarnessError("broken invariant: the world's device loop is a DeviceLoop")
    return device_loop


def _air(context: WorldContext) -> Air:
    air = context.shared.get("air")
    if air is None:
        raise AdapterError("an emulated device needs the in-memory air (network adapter 'air')")
    if not isinstance(air, Air):
        raise HarnessError("broken invariant: isinstance(air, Air)")
    return air


def emulated_device(context: WorldContext, *, faults: Sequence[str] = (), mac: str | None = None,
                    ap_host: str = "127.0.0.1", **_: Any) -> EmulatedDeviceAdapter:
    profile = context.profile
    caps = profile.capabilities

    def make(mac_address: str | None = None) -> EmulatedDeviceAdapter:
        licence = _licence(context)
        n = next(_macs)
        mac_address = (mac_address or profile.device.mac
                       or f"02:00:00:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}")
        camera = build_emulated_camera(
            _device_loop(context), _air(context), _device_endpoint(context), licence,
            region=profile.parameters.region, pid=profile.device.pid, firmware=profile.device.firmware,
            mac=mac_address, activation_api=caps.activation_api, pairing_modes=caps.pairing_modes,
            ap_variants=caps.ap_variants, ez_channels=caps.ez_channels, pairing_window_s=caps.pairing_window_s,
            mqtt_pv=caps.mqtt_protocol_version, faults=faults, ap_host=ap_host)
        return EmulatedDeviceAdapter(camera, licence, make_another=make)

    return make(mac)


__all__ = ["air_network", "emulated_cloud", "emulated_device"]
