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
import ssl
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Literal

from aiohttp import web

from harness.clock import Clock, SystemClock

from .app_api import ACCOUNT_HEADER, API_PREFIX, AppHttp, CloudApp, TokenGrant
from .atop import Addresses, AtopService
from .auth import LabAuth, is_loopback_host
from .behaviour import CloudBehaviour
from .bind import BindGrant, UuidBinder
from .faults import CLOUD_FAULTS, behaviour_class, register_cloud_fault
from .http import HttpServerThread, build_app
from .limits import ConnectionGuard, ServerLimits
from .matop import MatopService
from .openapi import OpenApiService
from .records import CloudInputError, Device, DpSchema, LicenceRecord, Product
from .state import TOKEN_RETENTION_S, CloudState, DeviceLink, NullLink
from .store import open_store
from .tls import LabCa, TlsSettings
from .workers import BrokerAddress, WorkerRole

log = logging.getLogger(__name__)

WORKER_HEADER = "X-Paircert-Worker"
BrokerChoice = Literal["amqtt", "mosquitto", "none"]


class EmulatedCloud:
    """One emulated cloud on loopback: state, ATOP + app API over HTTP, and an MQTT broker.

    ``broker`` is ``"amqtt"`` (embedded, the default), ``"mosquitto"`` (the real one, when installed) or
    ``"none"`` (HTTP only: no online state, no commands). ``state_path`` keeps everything in a SQLite file
    that a later cloud reopens. ``faults`` are names from :data:`~harness.emulator.cloud.faults.CLOUD_FAULTS`,
    ``package.module:Class`` specs or :class:`CloudBehaviour` subclasses (see :mod:`harness.emulator.cloud.faults`).

    With ``tls`` (PROTOCOL.md §11.1) ``port`` serves HTTPS and ``mqtt_port`` MQTT over TLS, with a server
    certificate from the lab CA; ``plain_port`` and ``plain_mqtt_port`` (None: none) add plain listeners for
    old firmware. ``tls=True`` makes a fresh in-memory lab CA (on this process's shared key pairs).

    ``auth`` holds the lab's credentials (:class:`LabAuth` with an admin key); without it the app API and the lab
    controls are open, which only a loopback ``host`` allows (ValueError otherwise). ``limits`` are the HTTP
    server's timeouts and connection limits (by default those of one process's world: no lower limit per
    address than in all; ``paircert cloud serve`` sets a LAN's); ``token_retention_s`` how long an expired or
    used pairing token and its attempts are kept.

    ``worker`` makes this cloud one of several processes serving the same ports (SO_REUSEPORT) over one shared
    ``state_path`` (:mod:`.workers`, ``paircert cloud serve --workers N``).
    """

    def __init__(self, *, clock: Clock | None = None, region: str = "EU", token_ttl_s: float = 600.0,
                 state_path: str | Path | None = None, broker: BrokerChoice = "amqtt",
                 faults: Iterable[str | type[CloudBehaviour]] = (), host: str = "127.0.0.1", port: int = 0,
                 mqtt_port: int = 0, advertise_host: str | None = None, tls: TlsSettings | bool | None = None,
                 plain_port: int | None = None, plain_mqtt_port: int | None = None, auth: LabAuth | None = None,
                 limits: ServerLimits | None = None, token_retention_s: float = TOKEN_RETENTION_S,
                 worker: WorkerRole | None = None) -> None:
        self.auth = auth if auth is not None else LabAuth(None)
        if not self.auth.required and not is_loopback_host(host):
            raise ValueError(f"a cloud bound to {host} (not loopback) needs authentication: give it an admin key "
                             "(--no-auth is for loopback binds only)")
        self.clock: Clock = clock if clock is not None else SystemClock()
        behaviour = behaviour_class(faults)()
        self._host = host
        self._advertise_host = advertise_host
        if tls is True:
            tls = TlsSettings(LabCa.create(ephemeral=True))
        self.tls: TlsSettings | None = tls or None
        material = None
        if self.tls is not None:
            names = [n for n in (host, advertise_host) if n]
            self.tls.names = tuple(dict.fromkeys([*self.tls.names, *names]))
            material = self.tls.material
        self._link: DeviceLink = NullLink()
        self._broker_link = None
        self.worker = worker
        if worker is not None and worker.broker is not None:  # a worker without the broker: a client of it
            self._link = worker.client_link(self.clock, material)
            broker = "none"
        if broker != "none":
            from .link import BrokerLink

            self._broker_link = BrokerLink(  # ValueError when this broker cannot follow the behaviour
                broker_kind=broker, host=host, port=mqtt_port, policy=behaviour, clock=self.clock,
                on_online=self._set_online, on_report=self._record_report, tls=material,
                plain_port=plain_mqtt_port,
            )
            self._link = self._broker_link
        self.state = CloudState(clock=self.clock, region=region, token_ttl_s=token_ttl_s, behaviour=behaviour,
                                store=open_store(state_path, shared=worker is not None), link=self._link)
        self.state.token_retention_s = float(token_retention_s)
        if worker is not None:  # a login on one worker holds on every worker
            from .auth import SharedSessions

            self.auth.sessions = SharedSessions(self.state, ttl_s=self.auth.sessions.ttl_s)
        self.app = CloudApp(self.state)
        if self._broker_link is not None:  # binding by UUID pushes the token over MQTT (§11.6)
            self.app.binder = UuidBinder(self.state, self._broker_link)
        self.matop = MatopService(self.state)  # the device's post-activation ATOP calls (§11.4, §11.5)
        if self._broker_link is not None:
            self._broker_link.rpc_handler = self.matop.answer
            if worker is not None:  # a device another worker activated logs in here: learn it from the store first
                self._broker_link.authority.refresh = self.state.sync
        self._atop = AtopService(self.state, self._addresses, self.matop)
        self.openapi = OpenApiService(self.state)  # Tuya's OpenAPI (§10); projects registered with .register()
        self.limits = limits or ServerLimits.for_one_process()
        self._http = HttpServerThread(self._make_app, host=host,
            port=port, tls=material.server_context() if material is not None else None, plain_port=plain_port,
            limits=self.limits, reuse_port=worker is not None)
        self._started = False

    def _make_app(self) -> web.Application:
        app = build_app(self._atop, AppHttp(self.app, self.auth), self.openapi, limits=self.limits)
        if self.worker is not None:  # which of the processes behind the port answered (cloud serve --workers)
            index = str(self.worker.index)

            async def name_worker(_request: web.Request, response: web.StreamResponse) -> None:
                response.headers[WORKER_HEADER] = index

            app.on_response_prepare.append(name_worker)
        return app

    # ---------------------------------------------------------------------------------------- lifecycle

    def start(self) -> EmulatedCloud:
        if self._started:
            return self
        if self._broker_link is not None:
            self._broker_link.start()
        if self.worker is not None and self._broker_link is None:
            self._link.start()  # type: ignore[attr-defined]
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
        elif self.worker is not None:
            self._link.stop()  # type: ignore[attr-defined]
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
        """The base URL, e.g. ``http://127.0.0.1:40123`` (``https://`` when the cloud serves TLS)."""
        if not self._http.port:
            raise RuntimeError("the cloud has not been started")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{_url_host(self.http_host)}:{self._http.port}"

    @property
    def plain_http_url(self) -> str | None:
        """The plain-HTTP listener beside HTTPS, for old firmware (None without one)."""
        port = self._http.plain_port
        return None if port is None else f"http://{_url_host(self.http_host)}:{port}"

    @property
    def mqtt_tls(self) -> bool:
        """Whether ``mqtt_port`` speaks MQTT over TLS (§11.1)."""
        remote = self.worker.broker if self.worker is not None else None
        return self.tls is not None and (self._broker_link is not None or remote is not None)

    @property
    def plain_mqtt_port(self) -> int | None:
        """The plain MQTT listener beside MQTT over TLS (None without one)."""
        remote = self.worker.broker if self.worker is not None else None
        if remote is not None:  # another worker's broker (cloud serve --workers)
            return remote.plain_port
        return self._broker_link.plain_port if self._broker_link is not None else None

    def client_tls_context(self) -> ssl.SSLContext | None:
        """A client context that trusts this cloud's lab CA (None when the cloud serves no TLS)."""
        return None if self.tls is None else self.tls.ca.client_context()

    @property
    def atop(self) -> AtopService:
        """The device-facing ATOP service (its :meth:`~AtopService.answer` is the activation handler without
        HTTP)."""
        return self._atop

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
        remote = self.worker.broker if self.worker is not None else None
        if remote is not None:
            return remote.port
        return self._broker_link.port if self._broker_link is not None else 0

    def broker_address(self) -> BrokerAddress | None:
        """Where this cloud's broker listens and the cloud's login on it, for its other workers (None: no
        broker)."""
        link = self._broker_link
        if link is None:
            return None
        username, password = link.cloud_login
        return BrokerAddress(host=link.host, port=link.port, username=username, password=password,
                             plain_port=link.plain_port, tls=link.tls)

    @property
    def connections(self) -> ConnectionGuard | None:
        """The HTTP server's connection guard (open, refused, timed-out and evicted connections), once started."""
        return self._http.guard

    @property
    def authority(self) -> object | None:
        """The broker's credential authority (None without a broker)."""
        return self._broker_link.authority if self._broker_link is not None else None

    def _addresses(self, request: web.Request) -> Addresses:
        """§11.2: what url_config names: the advertised host (else the host the request reached), https and the
        lab CA with TLS, and the plain listeners kept for old firmware."""
        host = self._advertise_host or (request.url.host if self._host in ("0.0.0.0", "::") else self._host)
        host = _url_host(host or self._host)
        port = self._http.port
        if self.tls is None:
            return Addresses(http_url=f"http://{host}:{port}/d.json", mqtt_host=host, mqtt_port=self.mqtt_port)
        # The SDKs force port 443 on httpsSelfUrl (§11.2): the port is written only when it is another.
        https = f"https://{host}/d.json" if port == 443 else f"https://{host}:{port}/d.json"
        plain = self._http.plain_port
        return Addresses(http_url=https, mqtt_host=host, mqtt_port=self.mqtt_port,
                         ca_der_base64=self.tls.ca.der_base64,
                         plain_http_url=None if plain is None else f"http://{host}:{plain}/d.json",
                         plain_mqtt_port=self.plain_mqtt_port)

    # ----------------------------------------------------------------------------------- broker events

    def _set_online(self, dev_id: str, online: bool) -> None:
        self.state.set_online(dev_id, online)

    def _record_report(self, dev_id: str, dps: dict[str, object], pv: str) -> None:
        self.state.record_dps(dev_id, dps, pv=pv)

    def device(self, dev_id: str) -> Device | None:
        """The registry's record of a device (keys included: this is the lab's own view)."""
        with self.state.lock:
            return self.state.devices.get(dev_id)


def _url_host(host: str) -> str:
    """``host`` as it goes into a URL or ``host:port`` (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = [
    "ACCOUNT_HEADER", "API_PREFIX", "CLOUD_FAULTS", "BindGrant", "CloudApp", "CloudBehaviour", "CloudInputError",
    "CloudState", "Device", "DpSchema", "EmulatedCloud", "LabAuth", "LabCa", "LicenceRecord", "Product",
    "ServerLimits", "TlsSettings", "TokenGrant", "behaviour_class", "register_cloud_fault",
]
