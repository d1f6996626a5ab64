"""The app side of a load run behind one small interface, whichever way it reaches the cloud (``--via``).

:class:`RunApp` is what a load process needs of the app: licences for its devices, pairing tokens for its home,
removing a device and sending it DPs, and at the end the home's device list for the invariants. ``app``
(:class:`harness.load.app.LabApp`) is the cloud's app API with the lab's admin key; ``openapi``
(:class:`harness.load.openapi.OpenApiApp`) is Tuya's OpenAPI signed with a cloud project's client id and secret.
Licences come from ``--licences FILE`` when a run names one (:mod:`harness.load.licences`), else from the lab's
app API (the only way without a file: the OpenAPI issues none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.adapters.contracts import AdapterError, Licence
from harness.adapters.probes import CloudEndpoints
from harness.load import app as app_api
from harness.load import openapi
from harness.load.licences import LicenceFileError, LicencePool, read_licences
from harness.load.settings import MachineSettings

APP_PATH = "/app/v1"
DEFAULT_SCHEMA = "paircert"


class RunApp(Protocol):
    """What a load process needs of the app side (both ``--via`` forms)."""

    def licence(self) -> Licence: ...

    def token(self) -> tuple[str, str]:
        """A fresh pairing token and the home it pairs into."""

    def remove(self, dev_id: str) -> None: ...

    def send_dps(self, dev_id: str, dps: Mapping[str, Any]) -> None: ...

    def rows(self) -> list[Mapping[str, Any]]:
        """The home's devices as the cloud lists them (devId, uuid, home, dps, and history or activations)."""


def lab_url(machine: MachineSettings, via: str) -> str:
    """The lab's app API: ``--cloud`` itself with ``--via app``; with ``--via openapi`` ``--lab-api``, else the
    OpenAPI host's ``/app/v1`` (where ``paircert cloud serve`` has it)."""
    if via == "app":
        return machine.cloud
    return machine.lab or machine.cloud.rstrip("/") + APP_PATH


def file_licences(machine: MachineSettings) -> Callable[[], Licence] | None:
    """The licences file's pool, when the run names one; None: the lab issues them."""
    if not machine.licences:
        return None
    if not machine.claims:
        raise app_api.LoadSetupError("a licences file needs the run's claims file ($PAIRCERT_LOAD_CLAIMS)")
    try:
        pool = LicencePool(read_licences(Path(machine.licences), product_id=machine.product_id),
                           Path(machine.claims))
    except LicenceFileError as exc:
        raise app_api.LoadSetupError(str(exc)) from None

    def take() -> Licence:
        try:
            return pool.licence()
        except (LicenceFileError, OSError) as exc:
            raise AdapterError(f"no licence for the device: {exc}") from None

    return take


def _lab_licences(machine: MachineSettings, via: str, timeout_s: float) -> Callable[[], Licence]:
    cloud = app_api.connect(lab_url(machine, via), admin_key=machine.admin_key, ca=machine.ca, timeout_s=timeout_s)
    pid = app_api.ensure_product(cloud).pid
    return lambda: cloud.issue_licence(pid)


def open_app(machine: MachineSettings, via: str, label: str, timeout_s: float) -> tuple[RunApp, CloudEndpoints]:
    """This process's app user and the cloud's device endpoints; LoadSetupError when the cloud cannot take it."""
    licences = file_licences(machine)
    if via == "app":
        cloud = app_api.connect(machine.cloud, admin_key=machine.admin_key, ca=machine.ca, timeout_s=timeout_s,
                                licences_needed=licences is None)
        endpoints = app_api.device_endpoints(cloud)
        pid = app_api.ensure_product(cloud).pid if licences is None else ""
        return app_api.LabApp(cloud, pid, label, licences=licences), endpoints
    try:
        adapter = openapi.open_client(machine.cloud, client_id=machine.client_id, secret=machine.secret,
                                      schema=machine.schema or DEFAULT_SCHEMA, url_config=machine.url_config,
                                      timeout_s=timeout_s)
        try:
            endpoints = openapi.device_endpoints(adapter)
            source = licences or _lab_licences(machine, via, timeout_s)
            return openapi.OpenApiApp(adapter, source, label), endpoints
        except BaseException:
            adapter.close()
            raise
    except openapi.OpenApiSetupError as exc:
        raise app_api.LoadSetupError(str(exc)) from None


def check(machine: MachineSettings, via: str, timeout_s: float) -> None:
    """Before any Locust process: the cloud takes the run (reachable, trusted, logged in, licences to be had);
    LoadSetupError saying why not."""
    if via == "app":
        app_api.connect(machine.cloud, admin_key=machine.admin_key, ca=machine.ca, timeout_s=timeout_s,
                        licences_needed=not machine.licences).close()
        return
    try:
        adapter = openapi.open_client(machine.cloud, client_id=machine.client_id, secret=machine.secret,
                                      schema=machine.schema or DEFAULT_SCHEMA, url_config=machine.url_config,
                                      timeout_s=timeout_s)
        try:
            openapi.device_endpoints(adapter)
        finally:
            adapter.close()
    except openapi.OpenApiSetupError as exc:
        raise app_api.LoadSetupError(str(exc)) from None
    if not machine.licences:
        app_api.connect(lab_url(machine, via), admin_key=machine.admin_key, ca=machine.ca,
                        timeout_s=timeout_s).close()


__all__ = ["RunApp", "check", "file_licences", "lab_url", "open_app"]
