"""The app side of a load run through Tuya's OpenAPI (PROTOCOL.md §10): what a cloud project, not a phone, does.

Each load process is one user of the project: :class:`OpenApiApp` syncs a user into the project's OEM app
(``POST /v1.0/apps/{schema}/user``, §10.9), creates its homes (``POST /v1.0/home/create-home``; a new one every
100 tokens, so that a home's device list stays one answer), gets each device's
pairing token with ``POST /v1.0/device/paring/token`` (§10.6), removes devices (``DELETE /v1.0/devices/{id}``) and
sends them DPs (``…/commands``, §10.8), and at the end lists its homes' devices (``GET /v1.0/homes/{home}/devices``,
each with its DP status, §10.8) and each one's activations (event 3 of ``…/logs``, §10.12) for the invariants. The
signing, the access token and its refresh are :mod:`harness.adapters.openapi_client`'s, through the ``openapi``
cloud adapter (:class:`~harness.adapters.openapi.OpenApiCloudAdapter`), one token holder per process.

The OpenAPI issues no licences (they come from Tuya as a list): a run names a file of them (``--licences``), or,
against paircert's own cloud, the lab's app API issues them with its admin key. Devices learn where to activate
from the url_config (§4.1, §11.2), as they would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from harness.adapters.contracts import AdapterError, Licence
from harness.adapters.openapi import OpenApiCloudAdapter
from harness.adapters.probes import CloudEndpoints
from harness.load.ledger import COMMAND_DP, SEQ_DP
from harness.protocol import openapi as oa

URL_CONFIG_PATH = "/v2/url_config"
#: Pairing tokens per home: a home's device list is one answer, unpaged (§10.8), and a device's detail takes most of
#: a kilobyte, so a home of a few hundred devices would pass what the client reads of one answer (256 KiB,
#: harness.protocol.openapi.MAX_ANSWER_BYTES).
HOME_TOKENS = 100
#: The run's DPs keep their ids as their codes (§10.8: a numeric code is the DP id on paircert's cloud).
DP_CODES = {SEQ_DP: SEQ_DP, COMMAND_DP: COMMAND_DP}


class OpenApiSetupError(Exception):
    """The OpenAPI cannot take the run as configured: the message says what to fix."""


def url_config_of(base_url: str, url_config: str | None) -> str:
    """Where devices ask for their endpoints: ``url_config``, else the OpenAPI host's own (paircert's cloud)."""
    return url_config or base_url.rstrip("/") + URL_CONFIG_PATH


def open_client(base_url: str, *, client_id: str | None, secret: str | None, schema: str, url_config: str | None,
                timeout_s: float) -> OpenApiCloudAdapter:
    """The project's OpenAPI as the ``openapi`` adapter, logged in once (a wrong id, secret or clock says so here)."""
    if not client_id:
        raise OpenApiSetupError("--via openapi needs --client-id (the project's Access ID)")
    if not secret:
        raise OpenApiSetupError("--via openapi needs the project's secret: set $PAIRCERT_OPENAPI_SECRET or "
                                "--secret-file")
    try:
        adapter = OpenApiCloudAdapter(base_url, client_id=client_id, secret=secret, schema=schema,
                                      url_config=url_config_of(base_url, url_config), timeout_s=timeout_s,
                                      dp_codes=DP_CODES)
    except AdapterError as exc:
        raise OpenApiSetupError(str(exc)) from None
    try:
        adapter.client.call("GET", oa.TOKEN_PATH, query=(("grant_type", oa.GRANT_TYPE_SIMPLE),))
    except AdapterError as exc:
        adapter.close()
        raise OpenApiSetupError(f"the OpenAPI at {adapter.base_url} does not log the project in: {exc}") from None
    return adapter


def device_endpoints(adapter: OpenApiCloudAdapter) -> CloudEndpoints:
    """Where devices activate and log in, and the CA they trust, from the url_config (§4.1, §11.2), as the
    adapter reads it (:meth:`~harness.adapters.openapi.OpenApiCloudAdapter.endpoints`)."""
    if not adapter.url_config:
        raise OpenApiSetupError("no url_config: devices would not know where the cloud is")
    try:
        found = adapter.endpoints()
    except AdapterError as exc:
        raise OpenApiSetupError(str(exc)) from None
    atop_url, mqtt = found.get("atop_url"), found.get("mqtt")
    if not atop_url or not mqtt or ":" not in mqtt:
        raise OpenApiSetupError(f"the url_config at {adapter.url_config} names no ATOP URL and MQTT broker")
    host, _, port = mqtt.rpartition(":")
    if not port.isdigit():
        raise OpenApiSetupError(f"the url_config at {adapter.url_config} names an MQTT broker without a port: {mqtt}")
    return CloudEndpoints(atop_url, host.strip("[]"), int(port), found.get("ca"))


class OpenApiApp:
    """One user of the project and its homes (a new one every :data:`HOME_TOKENS` pairing tokens); the devices'
    licences come from ``licences``."""

    def __init__(self, adapter: OpenApiCloudAdapter, licences: Callable[[], Licence], label: str) -> None:
        self.adapter = adapter
        self._licences = licences
        self._label = label
        self._lock = threading.Lock()
        self._tokens = 0
        try:
            self.account = adapter.create_account(label)
            self.homes = [adapter.create_home(self.account, label)]
        except AdapterError as exc:
            raise OpenApiSetupError(f"the OpenAPI refused the run's user or home: {exc}") from None

    def licence(self) -> Licence:
        return self._licences()

    def _home(self) -> str:
        with self._lock:
            if self._tokens >= HOME_TOKENS:
                self.homes.append(self.adapter.create_home(self.account, f"{self._label}-{len(self.homes) + 1}"))
                self._tokens = 0
            self._tokens += 1
            return self.homes[-1]

    def token(self) -> tuple[str, str]:
        home = self._home()
        return self.adapter.get_token(home, self.account), home

    def remove(self, dev_id: str) -> None:
        self.adapter.remove_device(dev_id, account=self.account)

    def send_dps(self, dev_id: str, dps: Mapping[str, Any]) -> None:
        self.adapter.send_dps(dev_id, dps, account=self.account)

    def rows(self) -> list[Mapping[str, Any]]:
        """The home's devices as the OpenAPI lists them, in the invariants' terms (devId, uuid, home, DPs by id,
        and the activations its log counts)."""
        with self._lock:
            homes = list(self.homes)
        return [{"devId": r.dev_id, "uuid": r.uuid, "home": r.home, "dps": dict(r.dps), "activations": r.activations}
                for home in homes for r in self.adapter.list_devices(home)]

    def close(self) -> None:
        self.adapter.close()


__all__ = ["DP_CODES", "HOME_TOKENS", "OpenApiApp", "OpenApiSetupError", "device_endpoints", "open_client",
           "url_config_of"]
