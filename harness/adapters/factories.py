"""Factories of the built-in emulated adapters, called by :func:`harness.adapters.registry.build_world`.

``emulated_cloud(context, faults=(), broker="amqtt", state_path=None)`` starts an :class:`EmulatedCloud` on the
world's clock with the profile's region and token lifetime, and creates the profile's product on it.
``emulated_device(context, faults=(), mac=None, ap_host="127.0.0.1")`` makes an emulated camera of the profile's
shape, with a licence issued by the cloud (or the profile's own licence when the cloud cannot issue one), pointed at the
cloud's ATOP and MQTT addresses, on a device loop (one shared event loop) and the world's air.
``air_network(context, seed=None, loss=0, duplicate=0, reorder=0, noise=0, ble_loss=0, ble_duplicate=0)`` is the
in-memory air, with the emulated BLE radio beside it (its central is the adapter's ``ble``).

How faults are named: ``faults`` of the emulated cloud and device are registered names
(:data:`~harness.emulator.cloud.faults.CLOUD_FAULTS`, :data:`~harness.emulator.camera.faults.CAMERA_FAULTS`; a
module loaded with ``paircert run -p MODULE`` may register more) or ``package.module:Class`` specs, imported from the
Python path, else from the profile's own directory. :func:`check_fault_names` finds a name that resolves to nothing
before a run starts, as a profile error naming the file and the key.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.adapters.contracts import AdapterError, CloudCapability, Licence
from harness.adapters.registry import WorldContext, split_spec
from harness.errors import HarnessError
from harness.profiles import Profile, ProfileError

# The emulators are imported by the factories that build them, not here: `paircert run` resolves these factories in
# its own process to check a profile's adapter arguments (harness.adapters.preflight), and the emulated world is
# only ever built in the pytest process.
if TYPE_CHECKING:
    from harness.adapters.emulated import AirNetworkAdapter, EmulatedCloudAdapter, EmulatedDeviceAdapter
    from harness.emulator.air import Air
    from harness.emulator.camera.firmware import CloudEndpoint
    from harness.emulator.fault_registry import FaultRegistry
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.radio import Radio

_macs = itertools.count(1)
F = TypeVar("F")


def fault_search_path(profile: Profile) -> tuple[Path, ...]:
    """Where ``package.module:Class`` fault specs are looked for after the Python path: the profile's directory."""
    return (profile.path.resolve().parent,) if profile.path is not None else ()


def resolve_faults(registry: FaultRegistry[F], faults: Sequence[str | type[F]], profile: Profile) -> list[type[F]]:
    """The fault classes ``faults`` name; an AdapterError says which name resolves to nothing and why."""
    try:
        return [registry.resolve(name, search_path=fault_search_path(profile)) for name in faults]
    except (ValueError, TypeError) as exc:
        raise AdapterError(f"the emulated {registry.kind}'s faults: {exc}") from None


def fault_problems(registry: FaultRegistry[Any], key: str, args: Mapping[str, Any],
                    profile: Profile) -> list[tuple[str, str]]:
    faults = args.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(name, str) for name in faults):
        return [(key, f"expected a list of {registry.kind} fault names or package.module:Class specs")]
    problems: list[tuple[str, str]] = []
    for index, name in enumerate(faults):
        try:
            registry.resolve(name, search_path=fault_search_path(profile))
        except (ValueError, TypeError) as exc:
            problems.append((f"{key}[{index}]", str(exc)))
    return problems


def check_fault_names(profile: Profile, *, cloud: str | None = None, device: str | None = None) -> None:
    """Raise :class:`ProfileError` (file, key, why) for every fault of the profile's emulated cloud and device that
    names nothing; ``cloud``/``device`` are the adapters overriding the profile's (``--cloud``, ``--device``)."""
    from harness.emulator.camera.faults.registry import REGISTRY as CAMERA_FAULT_REGISTRY
    from harness.emulator.cloud.faults import REGISTRY as CLOUD_FAULT_REGISTRY

    adapters = profile.adapters
    problems: list[tuple[str, str]] = []
    if split_spec("cloud", cloud or adapters.cloud.name)[0] == "emulated":
        problems += fault_problems(CLOUD_FAULT_REGISTRY, "adapters.cloud.args.faults", adapters.cloud.args, profile)
    if split_spec("device", device or adapters.device.name)[0] == "emulated":
        problems += fault_problems(CAMERA_FAULT_REGISTRY, "adapters.device.args.faults", adapters.device.args,
                                    profile)
        for index, member in enumerate(adapters.device_pool):
            problems += fault_problems(CAMERA_FAULT_REGISTRY, f"adapters.device_pool[{index}].args.faults",
                                        member.args, profile)
    if problems:
        raise ProfileError(str(profile.path or profile.name), problems)


def air_network(context: WorldContext, *, seed: int | None = None, loss: float = 0.0, duplicate: float = 0.0,
                reorder: float = 0.0, noise: float = 0.0, ble_loss: float = 0.0,
                ble_duplicate: float = 0.0) -> AirNetworkAdapter:
    from harness.adapters.emulated import AirNetworkAdapter
    from harness.adapters.emulated_ble import EmulatedBleCentral
    from harness.emulator.air import Air
    from harness.emulator.radio import Radio

    air = Air(seed=context.seed if seed is None else seed, loss=loss, duplicate=duplicate, reorder=reorder,
              noise=noise)
    context.shared["air"] = air
    # BLE (§9): the radio beside the air, on the world's clock, with its own seeded loss and duplication.
    radio = Radio(seed=context.seed if seed is None else seed, loss=ble_loss, duplicate=ble_duplicate,
                  clock=context.clock)
    context.shared["radio"] = radio
    return AirNetworkAdapter(air, ble=EmulatedBleCentral(radio))


def emulated_cloud(context: WorldContext, *, faults: Sequence[str] = (), broker: str = "amqtt",
                   state_path: str | None = None, tls: bool | None = None) -> EmulatedCloudAdapter:
    """``tls`` (default: the profile's ``parameters.tls``) serves HTTPS and MQTT over TLS with a fresh lab CA."""
    from harness.adapters.emulated import CATEGORY_BY_KIND, EmulatedCloudAdapter
    from harness.emulator.cloud import EmulatedCloud
    from harness.emulator.cloud.faults import REGISTRY as CLOUD_FAULT_REGISTRY
    from harness.model import BindingMode

    profile = context.profile
    cloud = EmulatedCloud(clock=context.clock, region=profile.parameters.region,
                          token_ttl_s=profile.parameters.token_ttl_s,
                          faults=resolve_faults(CLOUD_FAULT_REGISTRY, faults, profile),
                          broker=broker, state_path=state_path,  # type: ignore[arg-type]
                          tls=profile.parameters.tls if tls is None else tls)
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
    from harness.emulator.camera.firmware import CloudEndpoint

    cloud = context.cloud
    endpoint = getattr(cloud, "device_endpoint", None)
    if endpoint is not None:
        found: CloudEndpoint = endpoint()
        return found
    info = dict(cloud.info()) if cloud is not None else {}
    try:
        host, _, port = str(info["mqtt"]).rpartition(":")
        atop_url = str(info["atop_url"])
        ca_pem = _ca_pem(info.get("ca"))
        # §11.2: a cloud whose url_config names https and a CA speaks TLS on MQTT too (mqttsSelfUrl)
        return CloudEndpoint(atop_url, host, int(port), ca_pem=ca_pem,
                             mqtt_tls=ca_pem is not None and atop_url.startswith("https://"))
    except (KeyError, ValueError) as exc:
        raise AdapterError("the cloud adapter does not say where devices activate (atop_url, mqtt)") from exc


def _ca_pem(ca_der_base64: Any) -> bytes | None:
    """A url_config ``caArr`` entry (base64 DER, §11.2) as PEM, for an emulated device that trusts it."""
    if not isinstance(ca_der_base64, str) or not ca_der_base64:
        return None
    import base64
    import ssl

    return ssl.DER_cert_to_PEM_cert(base64.b64decode(ca_der_base64, validate=True)).encode("ascii")


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
    from harness.emulator.loop import DeviceLoop

    device_loop = context.shared.get("device_loop")
    if device_loop is None:
        device_loop = DeviceLoop(context.clock).start()
        context.shared["device_loop"] = device_loop
        context.closers.insert(0, device_loop.stop)  # stopped last, after every camera on it
    if not isinstance(device_loop, DeviceLoop):
        raise HarnessError("broken invariant: the world's device loop is a DeviceLoop")
    return device_loop


def _air(context: WorldContext) -> Air:
    from harness.emulator.air import Air

    air = context.shared.get("air")
    if air is None:
        raise AdapterError("an emulated device needs the in-memory air (network adapter 'air')")
    if not isinstance(air, Air):
        raise HarnessError("broken invariant: isinstance(air, Air)")
    return air


def _radio(context: WorldContext) -> Radio:
    """The air network's radio; beside another network adapter (scapy), a radio of the device's own, which no
    central hears: the BLE tests are then N/A by that network's capabilities, and the camera still boots."""
    from harness.emulator.radio import Radio

    radio = context.shared.get("radio")
    if radio is None:
        radio = context.shared["radio"] = Radio(seed=context.seed, clock=context.clock)
    if not isinstance(radio, Radio):
        raise AdapterError(f"the shared radio is a {type(radio).__name__}, not the emulated radio")
    return radio


def emulated_device(context: WorldContext, *, faults: Sequence[str] = (), mac: str | None = None,
                    ap_host: str = "127.0.0.1", pool_id: str | None = None,
                    refused_retries: int = 0) -> EmulatedDeviceAdapter:
    """``refused_retries``: retry a refused activation that many times, a second apart, with the same token, as
    genuine SDKs do (PROTOCOL.md §11.7); the camera waits to be bound by UUID when the profile claims it."""
    from harness.adapters.emulated import AirNetworkAdapter, EmulatedDeviceAdapter, build_emulated_camera
    from harness.emulator.camera.faults.registry import REGISTRY as CAMERA_FAULT_REGISTRY

    profile = context.profile
    caps = profile.capabilities
    fault_classes = resolve_faults(CAMERA_FAULT_REGISTRY, faults, profile)

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
            mqtt_pv=caps.mqtt_protocol_version, faults=fault_classes, ap_host=ap_host,
            bind_by_uuid=caps.bind_by_uuid, refused_retries=refused_retries,
            radio=_radio(context) if "ble" in caps.pairing_modes else None, ble_generation=caps.ble_generation)
        if isinstance(context.network, AirNetworkAdapter):
            context.network.attach_device()
        return EmulatedDeviceAdapter(camera, licence, make_another=make)

    return make(mac)


__all__ = ["air_network", "check_fault_names", "emulated_cloud", "emulated_device", "fault_search_path",
           "resolve_faults"]
