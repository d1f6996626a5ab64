"""The emulated cloud: products, licences, accounts, homes, tokens, the device registry, ATOP activation over
HTTP, the app API and the MQTT broker (DESIGN.md "Cloud", PROTOCOL.md §0, §4-§6, §8).

:class:`EmulatedCloud` composes them and runs them on loopback::

    with EmulatedCloud(clock=VirtualClock()) as cloud:
        product = cloud.app.create_product(name="cam", category="sp")
        licence = cloud.app.issue_licence(product.pid)
        owner = cloud.app.create_account("alice")
        home = cloud.app.create_home(owner, "flat")
        grant = cloud.app.get_token(owner, home)
        ...  # a device activates at cloud.atop_url with licence.uuid / licence.auth_key and grant.token

The HTTP server and the broker each run in a background thread with their own event loop, so synchronous
code uses the cloud directly; async code may ``async with`` it (start and stop then run off the loop).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Literal

from aiohttp import web

from harness.clock import Clock, SystemClock

from .app_api import ACCOUNT_HEADER, API_PREFIX, AppHttp, CloudApp, TokenGrant
from .atop import Addresses, AtopService
from .behaviour import CloudBehaviour
from .faults import CLOUD_FAULTS, behaviour_class, register_cloud_fault
from .http import HttpServerThread, build_app
from .openapi import OpenApiService
from .records import CloudInputError, Device, DpSchema, LicenceRecord, Product
from .state import CloudState, DeviceLink, NullLink
from .store import open_store

log = logging.getLogger(__name__)

BrokerChoice = Literal["amqtt", "mosquitto", "none"]


class EmulatedCloud:
    """One emulated cloud on loopback: state, ATOP + app API over HTTP, and an MQTT broker.

    ``broker`` is ``"amqtt"`` (embedded, the default), ``"mosquitto"`` (the real one, when installed) or
    ``"none"`` (HTTP only: no online state, no commands). ``state_path`` keeps everything in a SQLite file
    that a later cloud reopens. ``faults`` are names from :data:`~harness.emulator.cloud.faults.CLOUD_FAULTS`,
    ``package.module:Class`` specs or :class:`CloudBehaviour` subclasses (see :mod:`harness.emulator.cloud.faults`).
    """

    def __init__(self, *, clock: Clock | None = None, region: str = "EU", token_ttl_s: float = 600.0,
                 state_path: str | Path | None = None, broker: BrokerChoice = "amqtt",
                 faults: Iterable[str | type[CloudBehaviour]] = (), host: str = "127.0.0.1", port: int = 0,
                 mqtt_port: int = 0, advertise_host: str | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        behaviour = behaviour_class(faults)()
        self._host = host
        self._advertise_host = advertise_host
        self._link: DeviceLink = NullLink()
        self._broker_link = None
        if broker != "none":
            from .link import BrokerLink

            self._broker_link = BrokerLink(  # ValueError when this broker cannot follow the behaviour
                broker_kind=broker, host=host, port=mqtt_port, policy=behaviour, clock=self.clock,
                on_online=self._set_online, on_report=self._record_report,
            )
            self._link = self._broker_link
        self.state = CloudState(clock=self.clock, region=region, token_ttl_s=token_ttl_s, behaviour=behaviour,
                                store=open_store(state_path), link=self._link)
        self.app = CloudApp(self.state)
        self._atop = AtopService(self.state, self._addresses)
        self.openapi = OpenApiService(self.state)  # Tuya's OpenAPI (§10); projects registered with .register()
        self._http = HttpServerThread(lambda: build_app(self._atop, AppHttp(self.app), self.openapi), host=host,
                                      port=port)
        self._started = False

    # ---------------------------------------------------------------------------------------- lifecycle

    def start(self) -> EmulatedCloud:
        if self._started:
            return self
        if self._broker_link is not None:
            self._broker_link.start()
        self.state.restore_links()
        try:
            self._http.start()
        except BaseException:
            if self._broker_link is not None:
                self._broker_link.stop()
            raise
        self._started = True
        log.info("emulated cloud: ATOP %s, app API %s, MQTT %s:%s", self.atop_url, self.app_url, self.mqtt_host,
                 self.mqtt_port)
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._http.stop()
        if self._broker_link is not None:
            self._broker_link.stop()
        self.state.close()

    def __enter__(self) -> EmulatedCloud:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatedCloud:
        import asyncio

        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    # ---------------------------------------------------------------------------------------- addresses

    @property
    def region(self) -> str:
        return self.state.region

    @property
    def faults(self) -> tuple[str, ...]:
        """The names of the faults this cloud makes (none: conformant)."""
        return self.state.faults

    @property
    def http_host(self) -> str:
        return self._advertise_host or self._host

    @property
    def http_url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123``."""
        if not self._http.port:
            raise RuntimeError("the cloud has not been started")
        return f"http://{self.http_host}:{self._http.port}"

    @property
    def atop_url(self) -> str:
        return f"{self.http_url}/d.json"

    @property
    def app_url(self) -> str:
        return f"{self.http_url}{API_PREFIX}"

    @property
    def openapi_url(self) -> str:
        """The OpenAPI's base URL (§10.2: what a client is given instead of ``https://openapi.tuyaeu.com``)."""
        return self.http_url

    @property
    def mqtt_host(self) -> str:
        return self._advertise_host or (self._broker_link.host if self._broker_link is not None else self._host)

    @property
    def mqtt_port(self) -> int:
        return self._broker_link.port if self._broker_link is not None else 0

    @property
    def authority(self) -> object | None:
        """The broker's credential authority (None without a broker)."""
        return self._broker_link.authority if self._broker_link is not None else None

    def _addresses(self, request: web.Request) -> Addresses:
        host = self._advertise_host or (request.url.host if self._host in ("0.0.0.0", "::") else self._host)
        host = host or self._host
        return Addresses(http_url=f"http://{host}:{self._http.port}/d.json", mqtt_host=host, mqtt_port=self.mqtt_port)

    # ----------------------------------------------------------------------------------- broker events

    def _set_online(self, dev_id: str, online: bool) -> None:
        self.state.set_online(dev_id, online)

    def _record_report(self, dev_id: str, dps: dict[str, object]) -> None:
        self.state.record_dps(dev_id, dps)

    def device(self, dev_id: str) -> Device | None:
        """The registry's record of a device (keys included: this is the lab's own view)."""
        with self.state.lock:
            return self.state.devices.get(dev_id)


__all__ = [
    "ACCOUNT_HEADER", "API_PREFIX", "CLOUD_FAULTS", "CloudApp", "CloudBehaviour", "CloudInputError", "CloudState",
    "Device", "DpSchema", "EmulatedCloud", "LicenceRecord", "Product", "TokenGrant", "behaviour_class",
    "register_cloud_fault",
]
