"""The ``remote`` cloud adapter: a cloud reached over the ``/app/v1/`` HTTP API of ``paircert cloud serve``.

Real cameras activate against a cloud on the lab LAN, so the harness talks to that cloud the way the app does:
JSON over HTTP (see :mod:`harness.emulator.cloud.app_api`). Every account the adapter creates gets a random
password; the adapter logs in as it (``POST /app/v1/login``) and sends that account's bearer token, logging in
again when the cloud forgets the session (a restart). Lab controls (creating accounts, licences, products, time
travel) carry the lab's admin key (``admin_key``, an ``env:`` reference in the profile) and are offered only when
``GET /app/v1/lab/capabilities`` says so; without an admin key, or against a cloud without the lab routes (a
third-party cloud that speaks only the app API), those capabilities are absent and the tests that need them N/A.
A cloud without logins (``paircert cloud serve --no-auth``, or one with no login route) is told the account in
the ``X-Paircert-Account`` header instead.

Faults are sorted by whose they are (DESIGN.md "Verdicts"): an unreachable cloud, a timeout, a 5xx or an answer
that is not the API's JSON is :class:`AdapterError` (the lab is broken); a 4xx the cloud explains is
:class:`RemoteCloudError`, an AdapterError carrying the cloud's ``errorCode``. Refusals the contract treats as
data are not errors: an unknown token has no attempts, a device the app cannot see is ``None``.

The app API authenticates by account, so the adapter remembers which account created each home, fetched each
token and sits in each home, and asks as that account (as the emulated adapter's ``_owners`` does).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness import redaction
from harness.adapters import wire
from harness.adapters.contracts import (
    AdapterError,
    BindRefused,
    CapabilityMissing,
    CloudCapability,
    DeviceRecord,
    Licence,
    Notification,
    Product,
    RawReply,
)
from harness.adapters.remote_answers import answer_attempt as _attempt
from harness.adapters.remote_answers import answer_field as _field
from harness.adapters.remote_answers import answer_list as _list
from harness.adapters.remote_answers import excerpt as _excerpt
from harness.adapters.remote_login import ACCOUNT_HEADER, LabLogins
from harness.clock import Clock, SystemClock
from harness.evidence import step
from harness.model import AttemptSummary, BindingMode, Role

if TYPE_CHECKING:
    from harness.adapters.registry import WorldContext

log = logging.getLogger(__name__)

API_PREFIX = "/app/v1"
URL_CONFIG_PATH = "/v2/url_config"
MAX_ANSWER_BYTES = 4 * 1024 * 1024

# ``GET /app/v1/lab/capabilities`` keys -> the contract's capabilities.
_LAB_CAPABILITIES: dict[str, tuple[CloudCapability, ...]] = {
    "time_travel": (CloudCapability.TIME_TRAVEL,),
    "issue_licences": (CloudCapability.ISSUE_LICENCES, CloudCapability.REVOKE_LICENCES),
    "create_products": (CloudCapability.CREATE_PRODUCTS,),
    "inspect_devices": (CloudCapability.INSPECT_DEVICES,),
    "bind_by_uuid": (CloudCapability.BIND_BY_UUID,),
}
# §11.6: the cloud's answers to a bind by UUID that the suites judge (BindRefused), not lab faults.
_BIND_REFUSALS = frozenset({"UUID_NOT_EXISTS", "DEVICE_OFFLINE", "DEVICE_ALREADY_BIND",
                            "GUEST_NOT_SUPPORT_STRONG_BIND", "PERMISSION_DENIED"})
RELEASE_PATH = "/lab/devices/release"  # owner-side removal by licence (harness.emulator.cloud.app_api)
# Statuses meaning "this route is not here": the cloud has no lab API (or not this part of it).
_NO_ROUTE = frozenset({404, 405, 501})


class RemoteCloudError(AdapterError):
    """The remote cloud refused a request with a 4xx and said why (``code`` is its ``errorCode``)."""

    def __init__(self, method: str, url: str, status: int, code: str, message: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"the cloud refused {method} {url}: HTTP {status} {code}: {message}")


def split_base_url(url: str) -> tuple[str, str]:
    """``(server root, app API URL)`` from either ``http://host:port`` or ``http://host:port/app/v1``."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise AdapterError(f"the remote cloud URL must be http(s)://host:port[/app/v1], got {url!r}")
    path = parsed.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    root = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
    return root, root + API_PREFIX


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class RemoteCloudAdapter:
    """The cloud contract over the app API of a cloud in another process or on another machine."""

    name = "remote"

    def __init__(self, base_url: str, *, clock: Clock | None = None, timeout_s: float = 10.0,
                 region: str | None = None, ca: str | None = None, admin_key: str | None = None) -> None:
        if not timeout_s > 0:
            raise AdapterError(f"timeout_s must be positive, got {timeout_s!r}")
        self.base_url, self.app_url = split_base_url(base_url)
        # -- TLS (§11.1): an https:// cloud is verified against the lab CA file ``ca`` (else the system's store)
        self._tls: ssl.SSLContext | None = None
        if ca is not None:
            try:
                self._tls = ssl.create_default_context(cafile=ca)
            except (OSError, ssl.SSLError) as exc:
                raise AdapterError(f"cannot read the lab CA {ca!r} for the remote cloud: {exc}") from exc
        # -- end TLS
        self._logins = LabLogins(admin_key)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.timeout_s = float(timeout_s)
        self._region = region
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}                # home -> the account that created it
        self._members: dict[str, dict[str, Role]] = {}   # home -> account -> role (as set through us)
        self._token_accounts: dict[str, str] = {}        # token -> the account that fetched it
        self._device_homes: dict[str, str] = {}          # devId -> the home it was last seen in
        self._uuid_devices: dict[str, str] = {}          # licence uuid -> devId (from records seen)
        self._accounts: list[str] = []
        self._pid_names: dict[str, str] = {}
        self._endpoints: dict[str, str] | None = None
        self.lab_capabilities: dict[str, Any] = {}
        self.capabilities = self._probe_capabilities() | self._atop_capability()

    # -- HTTP --------------------------------------------------------------------------------------------

    def _http(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """One exchange; ``(status, body)`` for any HTTP answer, AdapterError when there is none."""
        return wire.exchange(method, url, body, headers, timeout_s=self.timeout_s, tls=self._tls,
                             where=f"the remote cloud at {url}")

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
              account: str | None = None, admin: bool = False) -> Any:
        """An app API call as ``account`` (its bearer token) or, with ``admin``, with the lab's admin key; the
        ``result`` of a ``{"success": true}`` answer. A session the cloud forgot is logged in again, once."""
        try:
            return self._call_once(method, path, body, account=account, admin=admin)
        except RemoteCloudError as exc:
            if account is None or exc.status != 401 or exc.code != "TOKEN_INVALID" \
                    or not self._logins.forget_session(account):
                raise
            return self._call_once(method, path, body, account=account, admin=admin)

    def _call_once(self, method: str, path: str, body: Mapping[str, Any] | None, *, account: str | None,
                   admin: bool) -> Any:
        url = self.app_url + path
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if body is not None or method != "GET":
            headers["Content-Type"] = "application/json"
            data = json.dumps(dict(body or {})).encode("utf-8")
        headers.update(self._logins.headers(account, admin=admin, login=self._login))
        status, raw = self._http(method, url, data, headers)
        if status >= 500:
            raise AdapterError(f"the remote cloud failed {method} {url}: HTTP {status}: "
                               f"{_excerpt(raw)}")
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            if status >= 400:
                raise RemoteCloudError(method, url, status, f"HTTP_{status}", _excerpt(raw)) from None
            raise AdapterError(f"the remote cloud answered {method} {url} with something that is not JSON: "
                               f"{_excerpt(raw)}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            raise AdapterError(f"the remote cloud answered {method} {url} without the app API's "
                               f"{{success, result}} envelope: {_excerpt(raw)}")
        if status >= 400 or not answer["success"]:
            raise RemoteCloudError(method, url, status, str(answer.get("errorCode") or f"HTTP_{status}"),
                                   str(answer.get("errorMsg") or ""))
        return answer.get("result")

    def _login(self, account: str, password: str) -> str | None:
        """``POST /app/v1/login``: the account's bearer token (None: the cloud has no login route)."""
        try:
            result = self._call_once("POST", "/login", {"account": account, "password": password}, account=None,
                                     admin=False)
        except RemoteCloudError as exc:
            if exc.status not in _NO_ROUTE:
                raise
            log.info("the cloud at %s has no login route: accounts are named in %s", self.app_url, ACCOUNT_HEADER)
            return None
        return str(_field(result, "token"))

    def _probe_capabilities(self) -> frozenset[str]:
        try:
            found = self._call("GET", "/lab/capabilities", admin=True)
        except RemoteCloudError as exc:
            if exc.status in _NO_ROUTE:
                log.info("the cloud at %s has no lab API (%s): lab capabilities absent", self.app_url, exc.code)
                return frozenset()
            if exc.status in (401, 403) and self._logins.admin_key is None:
                log.info("no admin key for the cloud at %s: its lab controls are not offered (give the adapter "
                         "admin_key = \"env:NAME\")", self.app_url)
                return frozenset()
            if exc.status in (401, 403):
                raise AdapterError(f"the cloud at {self.app_url} refused the admin key ({exc.code}): check the "
                                   "adapter's admin_key against the cloud's admin key file") from exc
            raise
        if not isinstance(found, dict):
            raise AdapterError(f"{self.app_url}/lab/capabilities answered {found!r}, not an object")
        self.lab_capabilities = dict(found)
        if isinstance(found.get("region"), str) and found["region"]:
            self._region = found["region"]  # the cloud's own word beats the profile's
        return frozenset(c.value for key, caps in _LAB_CAPABILITIES.items() if found.get(key) is True for c in caps)

    def _atop_capability(self) -> frozenset[str]:
        """RAW_ATOP where the cloud's url_config names its ATOP endpoint (§4.1)."""
        try:
            return frozenset({CloudCapability.RAW_ATOP.value}) if self.endpoints().get("atop_url") else frozenset()
        except AdapterError:
            return frozenset()

    # -- who may ask -------------------------------------------------------------------------------------

    def _remember_account(self, account: str) -> None:
        with self._lock:
            if account not in self._accounts:
                self._accounts.append(account)

    def _home_caller(self, home: str, *, admin: bool = False) -> str:
        """An account that can ask about ``home``: its owner, else an admin (or any member, unless ``admin``)."""
        with self._lock:
            owner = self._owners.get(home)
            if owner is not None:
                return owner
            members = self._members.get(home, {})
        for account, role in members.items():
            if role in (Role.OWNER, Role.ADMIN) or not admin:
                return account
        raise AdapterError(f"the remote adapter does not know an account of home {home!r}; "
                           "create the home through this adapter")

    def _device_callers(self, dev_id: str) -> list[str]:
        """Accounts to ask about a device as: members of the home it was last seen in first, then every other."""
        with self._lock:
            home = self._device_homes.get(dev_id)
            first = [self._owners[home]] if home in self._owners else []
            if home is not None:
                first += list(self._members.get(home, {}))
            rest = [a for a in self._accounts if a not in first]
        return list(dict.fromkeys(first + rest))

    # -- the app API -------------------------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The cloud's region: as its lab API states it, else as configured, else from the first token it issued."""
        return self._region or ""

    @step
    def create_account(self, name: str) -> str:
        password = self._logins.new_password()
        result = self._call("POST", "/accounts", {"name": name, "password": password}, admin=True)
        account = str(_field(result, "account"))
        self._logins.remember(account, password)
        self._remember_account(account)
        return account

    @step
    def create_home(self, account: str, name: str) -> str:
        home = str(_field(self._call("POST", "/homes", {"name": name}, account=account), "home"))
        self._remember_account(account)
        with self._lock:
            self._owners[home] = account
            self._members.setdefault(home, {})[account] = Role.OWNER
        return home

    @step
    def add_member(self, home: str, account: str, role: Role) -> None:
        caller = self._home_caller(home, admin=True)
        self._call("POST", f"/homes/{_quote(home)}/members", {"account": account, "role": Role(role).value},
                   account=caller)
        self._remember_account(account)
        with self._lock:
            self._members.setdefault(home, {})[account] = Role(role)

    @step
    def get_token(self, home: str, account: str) -> str:
        grant = self._call("POST", f"/homes/{_quote(home)}/token", {}, account=account)
        token = str(_field(grant, "pairingToken"))
        self._remember_account(account)
        with self._lock:
            self._token_accounts[token] = account
            self._token_accounts[token[2:10]] = account  # the cut a device sends (§1.4), whatever the region
            if not self._region and isinstance(grant.get("region"), str):
                self._region = grant["region"]
        return token

    @step
    def bind_device_by_uuid(self, home: str, uuid: str, *, account: str) -> str:
        """§11.6: ask the cloud to push a token for ``home`` to the device waiting as ``acon_<uuid>``."""
        try:
            grant = self._call("POST", f"/homes/{_quote(home)}/devices/bind", {"uuid": uuid}, account=account)
        except RemoteCloudError as exc:
            if exc.code in _BIND_REFUSALS:
                raise BindRefused(exc.code, exc.message) from None
            if exc.status in _NO_ROUTE and exc.code in ("NOT_FOUND", f"HTTP_{exc.status}"):
                raise CapabilityMissing(self.name, CloudCapability.BIND_BY_UUID.value) from exc
            raise
        token = str(_field(grant, "pairingToken"))
        self._remember_account(account)
        with self._lock:
            self._token_accounts[token] = account
        return token

    def token_attempts(self, token: str) -> Sequence[AttemptSummary]:
        with self._lock:
            account = self._token_accounts.get(token) or self._token_accounts.get(token[2:10])
            if account is None and self._accounts:  # a token it never fetched (guessed): any account may ask
                account = self._accounts[0]
        if account is None:
            raise AdapterError("the remote adapter can only list attempts of tokens it fetched itself")
        try:
            raws = self._call("GET", f"/tokens/{_quote(token)}/attempts", account=account)
        except RemoteCloudError as exc:
            if exc.code == "TOKEN_NOT_EXISTS":
                return []  # as the emulated adapter: a token the cloud forgot has no attempts
            raise
        attempts = [_attempt(raw) for raw in _list(raws, "attempts")]
        with self._lock:
            for attempt in attempts:
                if attempt.dev_id and attempt.home:
                    self._device_homes[attempt.dev_id] = attempt.home
        return attempts

    def list_devices(self, home: str) -> Sequence[DeviceRecord]:
        raws = self._call("GET", f"/homes/{_quote(home)}/devices", account=self._home_caller(home))
        records = [self._record(raw) for raw in _list(raws, "devices")]
        return records

    def device(self, dev_id: str) -> DeviceRecord | None:
        """The device as the app sees it; None when it is unbound, unknown, or in no home our accounts see."""
        for account in self._device_callers(dev_id):
            try:
                return self._record(self._call("GET", f"/devices/{_quote(dev_id)}", account=account))
            except RemoteCloudError as exc:
                if exc.code == "DEVICE_NOT_EXISTS" or exc.status == 404:
                    return None
                if exc.code != "PERMISSION_DENIED" and exc.status != 403:
                    raise
        return None

    def device_by_uuid(self, uuid: str) -> DeviceRecord | None:
        if CloudCapability.INSPECT_DEVICES.value not in self.capabilities:
            raise CapabilityMissing(self.name, CloudCapability.INSPECT_DEVICES.value)
        try:
            return self._record(self._call("GET", f"/lab/devices?uuid={_quote(uuid)}", admin=True))
        except RemoteCloudError as exc:
            if exc.status == 404:
                return None
            raise

    @step
    def remove_device(self, dev_id: str, *, account: str, wipe: bool = False) -> None:
        self._call("POST", f"/devices/{_quote(dev_id)}/remove", {"wipe": bool(wipe)}, account=account)

    # -- releasing a device between tests (owner-side removal by licence) --

    @step
    def release_device(self, uuid: str) -> DeviceRecord | None:
        """The lab route ``POST /app/v1/lab/devices/release``; on a cloud without it, the owner (as this adapter
        knows it) removes the device it last saw hold the licence."""
        try:
            answer = self._call("POST", RELEASE_PATH, {"uuid": uuid, "wipe": True}, admin=True)
        except RemoteCloudError as exc:
            if exc.status not in _NO_ROUTE:
                raise
            return self._release_seen(uuid)
        released = _field(answer, "released")
        return None if released is None else self._record(released)

    def _release_seen(self, uuid: str) -> DeviceRecord | None:
        with self._lock:
            dev_id = self._uuid_devices.get(uuid)
        if dev_id is None:
            if CloudCapability.INSPECT_DEVICES.value in self.capabilities:
                found = self.device_by_uuid(uuid)
                dev_id = found.dev_id if found is not None else None
            if dev_id is None:
                return None  # never seen activated through this adapter: bound nowhere it knows of
        record = self.device(dev_id)
        if record is None or record.home is None:
            return None
        self.remove_device(record.dev_id, account=record.owner or self._home_caller(record.home, admin=True),
                           wipe=True)
        return record

    # -- end of releasing a device between tests --

    def notifications(self, account: str) -> Sequence[Notification]:
        raws = self._call("GET", "/notifications", account=account)
        out: list[Notification] = []
        for raw in _list(raws, "notifications"):
            if not isinstance(raw, dict):
                raise AdapterError(f"the remote cloud listed a notification that is not an object: {raw!r}")
            dev_id = raw.get("devId")
            out.append(Notification(account=account, kind=str(raw.get("kind", "")), text=str(raw.get("message", "")),
                                    dev_id=None if dev_id is None else str(dev_id), at=float(raw.get("at") or 0.0)))
        return out

    @step
    def send_dps(self, dev_id: str, dps: Mapping[str, Any], *, account: str) -> None:
        """Send DPs; a device that is offline does not get them (``sent`` false), which is no lab fault."""
        result = self._call("POST", f"/devices/{_quote(dev_id)}/dps", {"dps": dict(dps)}, account=account)
        if isinstance(result, dict) and result.get("sent") is False:
            log.info("the cloud did not deliver DPs to %s: the device is offline", dev_id)

    # -- lab controls ------------------------------------------------------------------------------------

    def _require(self, capability: CloudCapability) -> None:
        if capability.value not in self.capabilities:
            raise CapabilityMissing(self.name, capability.value)

    @step
    def create_product(self, name: str, category: str, binding_mode: BindingMode, *,
                       pid: str | None = None) -> Product:
        self._require(CloudCapability.CREATE_PRODUCTS)
        body: dict[str, Any] = {"name": name, "category": category, "binding_mode": BindingMode(binding_mode).value}
        if pid is not None:
            body["pid"] = pid
        raw = self._call("POST", "/lab/products", body, admin=True)
        product = Product(pid=str(_field(raw, "pid")), name=str(_field(raw, "name")),
                          category=str(_field(raw, "category")), binding_mode=BindingMode(_field(raw, "binding_mode")))
        with self._lock:
            self._pid_names[product.pid] = product.name
        return product

    def ensure_product(self, pid: str, name: str, category: str, binding_mode: BindingMode) -> None:
        """Create product ``pid`` unless the cloud has it already (the app API cannot list products)."""
        try:
            self.create_product(name, category, binding_mode, pid=pid)
        except RemoteCloudError as exc:
            if exc.status != 409:
                raise
            with self._lock:
                self._pid_names.setdefault(pid, name)

    @step
    def issue_licence(self, pid: str) -> Licence:
        self._require(CloudCapability.ISSUE_LICENCES)
        raw = self._call("POST", "/lab/licences", {"pid": pid}, admin=True)
        auth_key = str(_field(raw, "authKey"))
        redaction.learn(auth_key)
        return Licence(uuid=str(_field(raw, "uuid")), auth_key=auth_key, pid=str(raw.get("pid") or pid))

    @step
    def revoke_licence(self, uuid: str) -> None:
        self._require(CloudCapability.REVOKE_LICENCES)
        self._call("POST", f"/lab/licences/{_quote(uuid)}/revoke", {}, admin=True)

    @step
    def advance_time(self, seconds: float) -> None:
        self._require(CloudCapability.TIME_TRAVEL)
        self._call("POST", "/lab/clock/advance", {"seconds": seconds}, admin=True)

    def send_atop(self, query: str, body: bytes, *, method: str = "POST") -> RawReply:
        """A hand-built request to the ATOP endpoint the cloud's url_config names (§4.1, §4.2)."""
        atop = self.endpoints().get("atop_url")
        if atop is None:
            raise CapabilityMissing(self.name, CloudCapability.RAW_ATOP.value)
        tls = wire.tls_for(self.endpoints().get("ca")) or self._tls
        return wire.send_atop(atop, query, body, method=method, timeout_s=self.timeout_s, tls=tls)

    # -- where devices go --------------------------------------------------------------------------------

    def endpoints(self) -> dict[str, str]:
        """Where devices activate, from the cloud's own url_config (§4.1): ``atop_url`` and ``mqtt`` host:port.

        Empty when the cloud has no url_config at its root (a third-party cloud may keep it elsewhere).
        """
        if self._endpoints is not None:
            return dict(self._endpoints)
        from harness.protocol.errors import ProtocolError
        from harness.protocol.iotdns import UrlConfigRequest, UrlConfigResponse

        url = self.base_url + URL_CONFIG_PATH
        found: dict[str, str] = {}
        status, raw = self._http("POST", url, UrlConfigRequest().to_json().encode("utf-8"),
                                 {"Content-Type": "application/json"})
        if status == 200:
            try:
                answer = UrlConfigResponse.from_json(raw)
            except ProtocolError as exc:
                log.warning("the url_config answer of %s is not understood: %s", url, exc)
            else:
                atop = answer.addr("httpsSelfUrl") or answer.addr("httpUrl")
                mqtt = answer.addr("mqttsSelfUrl") or answer.addr("mqttUrl")
                ca = answer.ca_arr[0] if answer.ca_arr else None  # §11.2: the CA devices trust for ATOP and MQTT
                found = {k: v for k, v in (("atop_url", atop), ("mqtt", mqtt), ("ca", ca)) if v}
        else:
            log.info("the cloud at %s has no url_config (HTTP %s)", url, status)
        self._endpoints = found
        return dict(found)

    def info(self) -> Mapping[str, Any]:
        try:
            where = self.endpoints()
        except AdapterError as exc:
            where = {"endpoints_error": str(exc)}
        return {"adapter": "remote", "base_url": self.base_url, "app_url": self.app_url, "region": self.region,
                **where, "capabilities": sorted(self.capabilities), "lab": dict(self.lab_capabilities),
                "timeout_s": self.timeout_s}

    def close(self) -> None:
        return None  # one request, one connection: nothing stays open

    # -- records -----------------------------------------------------------------------------------------

    def _record(self, raw: Any) -> DeviceRecord:
        if not isinstance(raw, dict) or not isinstance(raw.get("devId"), str):
            raise AdapterError(f"the remote cloud answered a device without a devId: {raw!r}")
        pid = str(raw.get("productKey", ""))
        home = raw.get("home")
        uuid = str(raw.get("uuid", ""))
        with self._lock:
            if isinstance(home, str):
                self._device_homes[raw["devId"]] = home
            if uuid:
                self._uuid_devices[uuid] = raw["devId"]
            name = self._pid_names.get(pid, pid)
            owner = raw.get("owner") if isinstance(raw.get("owner"), str) else None
            if owner is None and isinstance(home, str):
                owner = self._owners.get(home)
        history = raw.get("history") or []
        return DeviceRecord(dev_id=raw["devId"], uuid=uuid, pid=pid, name=name,
                            home=home if isinstance(home, str) else None, online=bool(raw.get("online")),
                            dps=dict(raw.get("dps") or {}),
                            activations=len(history) if isinstance(history, list) else 0,
                            owner=owner if isinstance(home, str) else None,
                            report_pv=raw.get("reportPv") if isinstance(raw.get("reportPv"), str) else None)


def remote_cloud(context: WorldContext, *, url: str, timeout_s: float = 10.0, region: str | None = None,
                 create_product: bool = True, ca: str | None = None,
                 admin_key: str | None = None) -> RemoteCloudAdapter:
    """The registry's factory (``cloud = { name = "remote", args = { url = "http://host:port",
    admin_key = "env:PAIRCERT_ADMIN_KEY" } }``).

    ``region`` defaults to the profile's; with ``create_product`` (the default) the profile's product is
    created on the cloud when the cloud can create products and does not have it yet. ``ca`` is the lab CA
    (``ca.pem`` of ``paircert cloud serve --tls --ca DIR``) an ``https://`` cloud is verified against.
    ``admin_key`` is the lab cloud's admin key (its lab controls, and creating the accounts the tests use).
    """
    from harness.adapters.emulated import CATEGORY_BY_KIND

    profile = context.profile
    adapter = RemoteCloudAdapter(url, clock=context.clock, timeout_s=timeout_s,
                                 region=region or profile.parameters.region, ca=ca, admin_key=admin_key)
    if create_product and CloudCapability.CREATE_PRODUCTS.value in adapter.capabilities:
        adapter.ensure_product(profile.device.pid, profile.device.name,
                               CATEGORY_BY_KIND.get(profile.device.kind, "qt"),
                               BindingMode(profile.capabilities.binding_mode))
    return adapter


__all__ = ["RemoteCloudAdapter", "RemoteCloudError", "remote_cloud", "split_base_url"]
