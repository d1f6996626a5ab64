"""A world whose cloud adapter is ``openapi``, talking over loopback HTTP to an emulated cloud's OpenAPI.

The emulated cloud is served on 127.0.0.1 (HTTP and its MQTT broker) on the world's virtual clock, with one OpenAPI
project registered; the cloud adapter of the world is :class:`~harness.adapters.openapi.OpenApiCloudAdapter` built
by the registry's ``openapi`` factory from the profile's ``[adapters.cloud]`` args (the URL and the credentials put
in), and the devices are emulated cameras with licences the lab issued on that cloud beforehand, as a lab flashes
licences into cameras (the OpenAPI cannot issue them).

Loaded with ``-p _openapi_world`` (tests/ on ``sys.path``): with ``PAIRCERT_OPENAPI_WORLD=1`` it builds the world of
every run, otherwise the plugin's own builder runs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from harness.adapters.contracts import CloudCapability, Licence
from harness.adapters.emulated import CATEGORY_BY_KIND
from harness.adapters.factories import air_network, emulated_device
from harness.adapters.registry import ProfileWorld, WorldContext, resolve
from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud
from harness.model import BindingMode

CLIENT_ID = "pcOpenApiTest0000001"
SECRET = "pcopenapitestsecret0000000000001"


class LabBench:
    """What the lab did before the run, for the emulated cameras only: licences issued on the emulated cloud, and
    where the cameras activate. The suites never see it: their cloud is the openapi adapter."""

    name = "lab bench"
    capabilities = frozenset({CloudCapability.ISSUE_LICENCES.value})

    def __init__(self, cloud: EmulatedCloud) -> None:
        self._cloud = cloud

    def issue_licence(self, pid: str) -> Licence:
        lic = self._cloud.app.issue_licence(pid)
        return Licence(uuid=lic.uuid, auth_key=lic.auth_key, pid=lic.pid)

    def info(self) -> dict[str, Any]:
        return {"atop_url": self._cloud.atop_url, "mqtt": f"{self._cloud.mqtt_host}:{self._cloud.mqtt_port}"}


def build_openapi_world(profile: Any, *, seed: int, faults: tuple[str, ...] = ()) -> ProfileWorld:
    """The profile's world with the openapi cloud adapter in front of an emulated cloud served on loopback."""
    clock = VirtualClock()
    cloud = EmulatedCloud(clock=clock, region=profile.parameters.region, token_ttl_s=profile.parameters.token_ttl_s,
                          faults=faults).start()
    context = WorldContext(profile=profile, clock=clock, seed=seed)
    context.closers.append(cloud.stop)
    try:
        cloud.openapi.register(CLIENT_ID, SECRET)
        cloud.app.create_product(name=profile.device.name, category=CATEGORY_BY_KIND.get(profile.device.kind, "qt"),
                                 binding_mode=BindingMode(profile.capabilities.binding_mode).value,
                                 pid=profile.device.pid)
        network = air_network(context)
        context.network = network
        context.closers.append(network.close)
        args = {**profile.adapters.cloud.resolved_args(), "url": cloud.openapi_url, "client_id": CLIENT_ID,
                "secret": SECRET, "schema": "paircert", "url_config": f"{cloud.http_url}/v2/url_config"}
        adapter = resolve("cloud", "openapi")(context, **args)
        context.closers.append(adapter.close)
        context.cloud = LabBench(cloud)  # type: ignore[assignment]  # what the camera factory reads, only
        device = emulated_device(context, **profile.adapters.device.resolved_args())
        context.closers.append(device.close)
    except BaseException:
        for closer in reversed(context.closers):
            closer()
        raise
    return ProfileWorld(profile=profile, clock=clock, cloud=adapter, device=device, network=network, seed=seed,
                        context=context, _device_factory=device.make_another)


@pytest.hookimpl(tryfirst=True)
def pytest_paircert_make_world(config: pytest.Config, profile: Any, cloud: str | None, device: str | None,
                               network: str | None, seed: int) -> Any:
    if os.environ.get("PAIRCERT_OPENAPI_WORLD") != "1":
        return None
    return build_openapi_world(profile, seed=seed)
