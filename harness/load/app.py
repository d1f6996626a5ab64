"""The app side of a load run: licences, pairing tokens, removals and DP commands through the cloud's app API.

Each load worker (one Locust process) is one app user: :class:`LabApp` creates an account and a home on the cloud
through the ``remote`` cloud adapter (:mod:`harness.adapters.remote`: the account logs in with a random password,
lab controls such as issuing licences carry the lab's admin key), hands its devices licences and fresh pairing
tokens for that home, removes and commands them, and at the end lists the home's devices for the invariants.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.adapters.contracts import AdapterError, CloudCapability, Licence, Product
from harness.adapters.probes import CloudEndpoints
from harness.adapters.remote import RemoteCloudAdapter
from harness.model import BindingMode

ADMIN_KEY_ENV = "PAIRCERT_ADMIN_KEY"
PRODUCT_NAME = "paircert load device"


class LoadSetupError(Exception):
    """The cloud cannot take a load run as configured (unreachable, no admin key, no lab controls): said before the
    first device starts."""


class LoadCloud(RemoteCloudAdapter):
    """The remote cloud adapter, with the device list of a home as the cloud answers it (every member kept: a lab
    cloud's count of DP reports, each device's activation history), which the invariants need."""

    def device_rows(self, home: str) -> list[Mapping[str, Any]]:
        raws = self._call("GET", f"/homes/{home}/devices", account=self._home_caller(home))
        if not isinstance(raws, list) or not all(isinstance(raw, dict) for raw in raws):
            raise AdapterError(f"the cloud's device list of home {home} is not a list of objects")
        return raws


def read_admin_key(path: str | None) -> str | None:
    """The lab's admin key: ``$PAIRCERT_ADMIN_KEY``, else the first line of ``path`` (the file given to
    ``cloud serve --admin-key-file``)."""
    key = os.environ.get(ADMIN_KEY_ENV, "").strip()
    if key or not path:
        return key or None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise LoadSetupError(f"--admin-key-file {path}: {exc.strerror or exc}") from None


def connect(url: str, *, admin_key: str | None, ca: str | None, timeout_s: float,
            licences_needed: bool = True) -> LoadCloud:
    """The cloud at ``url`` with its lab controls; LoadSetupError when it cannot issue licences to the run (and
    the run has no list of its own, ``licences_needed``)."""
    try:
        cloud = LoadCloud(url, admin_key=admin_key, ca=ca, timeout_s=timeout_s)
    except AdapterError as exc:
        raise LoadSetupError(str(exc)) from None
    if licences_needed and CloudCapability.ISSUE_LICENCES.value not in cloud.capabilities:
        why = (f"no admin key (set ${ADMIN_KEY_ENV} or --admin-key-file)" if admin_key is None
               else "its lab API does not offer it")
        raise LoadSetupError(f"the cloud at {cloud.app_url} cannot issue licences to the run's devices: {why}")
    return cloud


def ensure_product(cloud: LoadCloud) -> Product:
    """A strong-bound camera product for the run's devices (a camera is always strong-bound, PROTOCOL.md §6)."""
    try:
        return cloud.create_product(PRODUCT_NAME, "sp", BindingMode.STRONG)
    except AdapterError as exc:
        raise LoadSetupError(f"the cloud refused to create the run's product: {exc}") from None


def device_endpoints(cloud: LoadCloud) -> CloudEndpoints:
    """Where devices activate and log in, from the cloud's url_config as a device asks it (PROTOCOL.md §4.1, §11.2)."""
    found = cloud.endpoints()
    atop_url, mqtt = found.get("atop_url"), found.get("mqtt")
    if not atop_url or not mqtt or ":" not in mqtt:
        raise LoadSetupError(f"the cloud at {cloud.base_url} names no ATOP URL and MQTT broker in its url_config")
    host, _, port = mqtt.rpartition(":")
    return CloudEndpoints(atop_url, host.strip("[]"), int(port), found.get("ca"))


class LabApp:
    """One app user of the run: an account and a home, and the devices' licences, tokens, removals and commands."""

    def __init__(self, cloud: LoadCloud, pid: str, label: str, *,
                 licences: Callable[[], Licence] | None = None) -> None:
        self.cloud = cloud
        self.pid = pid
        self._licences = licences
        try:
            self.account = cloud.create_account(label)
            self.home = cloud.create_home(self.account, label)
        except AdapterError as exc:
            raise LoadSetupError(f"the cloud refused the run's account or home: {exc}") from None

    def licence(self) -> Licence:
        """The next licence of the run's list (``--licences``), else one the lab issues."""
        return self._licences() if self._licences is not None else self.cloud.issue_licence(self.pid)

    def token(self) -> tuple[str, str]:
        return self.cloud.get_token(self.home, self.account), self.home

    def remove(self, dev_id: str) -> None:
        self.cloud.remove_device(dev_id, account=self.account)

    def send_dps(self, dev_id: str, dps: Mapping[str, Any]) -> None:
        self.cloud.send_dps(dev_id, dps, account=self.account)

    def rows(self) -> list[Mapping[str, Any]]:
        """The home's devices as the cloud lists them."""
        return self.cloud.device_rows(self.home)


__all__ = ["ADMIN_KEY_ENV", "LabApp", "LoadCloud", "LoadSetupError", "connect", "device_endpoints", "ensure_product",
           "read_admin_key"]
