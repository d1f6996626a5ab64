"""The ``openapi`` cloud adapter: the cloud contract over Tuya's OpenAPI (PROTOCOL.md §10), the real Tuya cloud
as a vendor's cloud project sees it, or any cloud speaking the same subset (``paircert cloud serve
--openapi-client-file``).

It acts for the project's users through the Smart Home family (§10.12): ``create_account`` syncs a user into the
project's OEM app (``schema``) or hands out the linked user ids the profile lists (``uids``); ``create_home``
creates a home; ``get_token`` is ``POST /v1.0/device/paring/token`` and answers the 14-character
``region + token + secret``; ``token_attempts`` reads the success and failed lists of the token query; ``device``
reads the detail, its DP status and its activation events; ``remove_device`` is DELETE ("Remove device") or
``reset-factory`` ("Remove and wipe data"); ``send_dps`` is ``…/commands``. ``device_by_uuid`` looks among the
devices this adapter has seen (through token queries and device reads) and, for a uuid it never saw, among the
homes it created: that is how the lab releases the device between tests (harness.conformance.lab.release_device).

What the OpenAPI cannot do is declared (contracts.py capabilities, :class:`CapabilityMissing`, N/A with the
reason): ``time-travel`` (the real cloud runs on real time), ``issue-licences``/``revoke-licences`` and
``create-products`` (made in the Tuya console), ``add-members`` (§10.9: the body is not established),
``notifications`` (the medium-binding push is not in the OpenAPI, §10.12), ``fault-injection``, and
``token-refusals``: the token query lists only refusals of devices that have a devId (§10.7), so a refusal of a
device that never activated is not seen (the activator then times out, 1512, instead of naming the refusal).

How each OpenAPI error is taken (§10.10, §10.12):

| code | where | the adapter | verdict |
|---|---|---|---|
| 1010, 1011, 1012, 1002 | any call | one new login (``grant_type=1``), then the call once more | ERROR if again |
| 1013 | any call | resynchronise the clock from the answer's ``t``, then once more | ERROR if again |
| 1110, 1111, 1199 | any call | back off 1 s, then once more | ERROR if again |
| 1001, 1004, 1005, 1114, 2406, 288410xx, 288411xx | any call | :class:`OpenApiError` naming what to fix | ERROR |
| 500, 1000-1109 (others), 2002-2009 | any call but those below | :class:`OpenApiError` | ERROR |
| 2010, 1106 | ``device``, ``device_by_uuid``, ``list_devices`` entries | the device is not visible: ``None`` | data |
| 1000, 2007 | ``token_attempts`` | no such token: no attempts | data |
| 2001, 1103 | ``send_dps`` | not delivered (the device is offline), logged | data |
| a ``failed`` entry's code | ``token_attempts`` | a refused attempt with that errorCode | data: the suites judge it |
| no HTTP 200, not the envelope, no answer | any call | AdapterError | ERROR |

Under pytest-xdist each worker holds its own access token; whether a new login revokes another process's token
is not established (§10.4), and a 1010 that follows is cured by the one new login above.

DP ids and codes: the suites speak DP ids (§5), the OpenAPI codes (§10.8). The map is the profile's ``dp_codes``
(``{ "1" = "switch" }``), else what ``…/specifications`` names with a ``dp_id``; a code with no id stays the key.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness import redaction
from harness.adapters import wire
from harness.adapters.contracts import (
    AdapterError,
    CapabilityMissing,
    CloudCapability,
    DeviceRecord,
    Licence,
    Notification,
    Product,
    RawReply,
)
from harness.adapters.openapi_client import OpenApiClient, OpenApiError
from harness.clock import Clock, SystemClock
from harness.evidence import step
from harness.model import AttemptSummary, BindingMode, Role
from harness.protocol import openapi as oa
from harness.protocol.errors import ProtocolError
from harness.protocol.openapi import OpenApiCode

if TYPE_CHECKING:
    from harness.adapters.registry import WorldContext

log = logging.getLogger(__name__)

# §10.2: the OpenAPI base URL of each data centre.
DATA_CENTRES: Mapping[str, str] = {
    "cn": "https://openapi.tuyacn.com",
    "us": "https://openapi.tuyaus.com",
    "us-e": "https://openapi-ueaz.tuyaus.com",
    "eu": "https://openapi.tuyaeu.com",
    "eu-w": "https://openapi-weaz.tuyaeu.com",
    "in": "https://openapi.tuyain.com",
    "sg": "https://openapi-sg.iotbing.com",
}
# What this adapter cannot honour, beyond the CloudCapability members it leaves out (each is a CapabilityMissing).
ADD_MEMBERS = "add-members"
NOTIFICATIONS = "notifications"
FAULT_INJECTION = "fault-injection"
TOKEN_REFUSALS = "token-refusals"
CREATE_ACCOUNTS = "create-accounts"
NOT_VISIBLE = frozenset({OpenApiCode.DEVICE_NOT_EXIST, OpenApiCode.PERMISSION_DENY})
NO_SUCH_TOKEN = frozenset({OpenApiCode.DATA_NOT_EXIST, OpenApiCode.DEVICE_TOKEN_EXPIRED})
NOT_DELIVERED = frozenset({OpenApiCode.DEVICE_OFFLINE, OpenApiCode.COMMANDS_ISSUE_ERROR})
EVENT_ACTIVATION = 3  # §10.8 device log event ids: 3 activation
MAX_LOG_PAGES = 20


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


class OpenApiCloudAdapter:
    """The cloud contract over the OpenAPI of a Tuya cloud project (or of ``paircert cloud serve``)."""

    name = "openapi"

    def __init__(self, base_url: str, *, client_id: str, secret: str, clock: Clock | None = None,
                 timeout_s: float = 10.0, schema: str | None = None, uids: Sequence[str] = (),
                 country_code: str = "1", time_zone_id: str = "Europe/Berlin", paring_type: str = "EZ",
                 region: str | None = None, url_config: str | None = None,
                 dp_codes: Mapping[str, str] | None = None) -> None:
        self.client = OpenApiClient(base_url, client_id, secret, timeout_s=timeout_s)
        self.base_url = self.client.base_url
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.schema = schema
        self._uids = list(uids)
        self.country_code = country_code
        self.time_zone_id = time_zone_id
        self.paring_type = paring_type
        self._region = region or ""
        self.url_config = url_config
        self._dp_codes = {str(k): str(v) for k, v in (dp_codes or {}).items()}
        self._learned_codes: dict[str, dict[str, str]] = {}  # pid -> DP id -> code (from specifications)
        self._lock = threading.Lock()
        self._home_owners: dict[str, str] = {}  # home -> the account that created it through us
        self._token_homes: dict[str, str] = {}  # 8-character token -> its home
        self._attempts: dict[str, list[AttemptSummary]] = {}  # token -> attempts in the order first seen
        self._seen_counts: dict[str, tuple[int, int]] = {}  # token -> (success, failed) entries seen
        self._uuid_devices: dict[str, str] = {}  # licence uuid -> devId (from device reads)
        self._unresolved: set[str] = set()  # devIds from token queries whose uuid is not known yet
        self._device_pids: dict[str, str] = {}  # devId -> its product (from device reads)
        self._endpoints: dict[str, str] | None = None
        self._handed_out = itertools.count()
        # RAW_ATOP only where the profile names a url_config (a lab's OpenAPI): the production cloud's ATOP endpoint
        # is the devices', not the project's to probe.
        self.capabilities = frozenset({CloudCapability.INSPECT_DEVICES.value} |
                                      ({CloudCapability.RAW_ATOP.value} if url_config else set()))

    # -- helpers -------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (), body: Any = None) -> Any:
        return self.client.call(method, path, query=query, body=body)

    @property
    def region(self) -> str:
        """The region of the tokens this cloud issues: from the first token, else as configured (§10.12)."""
        return self._region

    # -- accounts and homes --------------------------------------------------------------------------------

    @step
    def create_account(self, name: str) -> str:
        """A new user: synced into the project's OEM app (§10.9), or the next linked user id the profile lists."""
        if self.schema:
            username = f"paircert-{secrets.token_hex(6)}"  # unique: the sync returns an existing user by name
            password = hashlib.md5(secrets.token_bytes(16)).hexdigest()  # §10.9: MD5 hex; never used to log in
            result = self._call("POST", f"/v1.0/apps/{_quote(self.schema)}/user",
                                body={"country_code": self.country_code, "username": username, "password": password,
                                      "username_type": 3, "nick_name": name[:64]})
            return str(_field(result, "uid"))
        index = next(self._handed_out)
        if index >= len(self._uids):
            raise CapabilityMissing(self.name, CREATE_ACCOUNTS + f" (no OEM app schema, and the {len(self._uids)} "
                                    "linked user ids of the profile are all used)")
        return self._uids[index]

    @step
    def create_home(self, account: str, name: str) -> str:
        result = self._call("POST", "/v1.0/home/create-home",
                            body={"uid": account, "home": {"name": name[:64], "geo_name": "", "lat": 0, "lon": 0},
                                  "rooms": []})
        if isinstance(result, dict):  # §10.9: "The result is the home id, a number" [M]; tolerate {home_id}
            result = result.get("home_id", result.get("id"))
        if isinstance(result, bool) or not isinstance(result, str | int) or not str(result):
            raise AdapterError(f"the OpenAPI's create-home answer is not a home id: {result!r}")
        home = str(result)
        with self._lock:
            self._home_owners[home] = account
        return home

    def add_member(self, home: str, account: str, role: Role) -> None:
        raise CapabilityMissing(self.name, ADD_MEMBERS)

    # -- pairing -------------------------------------------------------------------------------------------

    @step
    def get_token(self, home: str, account: str) -> str:
        """§10.6: a pairing token for ``account``'s ``home``; the 14-character region + token + secret."""
        result = self._call("POST", "/v1.0/device/paring/token",
                            body={"uid": account, "home_id": home, "paring_type": self.paring_type,
                                  "time_zone_id": self.time_zone_id})
        try:
            grant = oa.PairingTokenResult.from_result(result)
        except ProtocolError as exc:
            raise AdapterError(f"the OpenAPI's pairing token is malformed: {exc}") from None
        with self._lock:
            self._token_homes[grant.token] = home
            if grant.region != self._region:
                if self._region:
                    log.info("the cloud issues %s tokens, not %s: taking its word", grant.region, self._region)
                self._region = grant.region
        return grant.pairing_token

    def token_attempts(self, token: str) -> Sequence[AttemptSummary]:
        """§10.7: the token's success and failed lists as attempts, new entries appended in the order first seen
        (the lists carry no times: an entry's ``at`` is when this adapter first saw it)."""
        short = token[2:10] if len(token) == 14 else token
        try:
            lists = oa.TokenDevices.from_result(self._call("GET", f"/v1.0/device/paring/tokens/{_quote(short)}"))
        except OpenApiError as exc:
            if exc.code in NO_SUCH_TOKEN:
                with self._lock:
                    return list(self._attempts.get(short, ()))
            raise
        except ProtocolError as exc:
            raise AdapterError(f"the OpenAPI's token query answer is malformed: {exc}") from None
        now = self.clock.time()
        with self._lock:
            log_ = self._attempts.setdefault(short, [])
            seen_ok, seen_failed = self._seen_counts.get(short, (0, 0))
            at = max([now, *(a.at for a in log_[-1:])])
            home = self._token_homes.get(short)
            for entry in lists.success[seen_ok:]:
                log_.append(AttemptSummary(at=at, outcome="activated", error_code=None, error_msg=None,
                                           dev_id=entry.device_id, home=home))
                self._note_device(entry.device_id)
            for entry in lists.failed[seen_failed:]:
                log_.append(AttemptSummary(at=at, outcome="refused", error_code=entry.code or "UNKNOWN",
                                           error_msg=entry.msg or None, dev_id=entry.device_id, home=None))
                self._note_device(entry.device_id)
            self._seen_counts[short] = (max(seen_ok, len(lists.success)), max(seen_failed, len(lists.failed)))
            return list(log_)

    def _note_device(self, dev_id: str) -> None:
        if dev_id not in self._uuid_devices.values():
            self._unresolved.add(dev_id)

    # -- devices -------------------------------------------------------------------------------------------

    def device(self, dev_id: str) -> DeviceRecord | None:
        """The device's record; None when the project cannot see it (never activated, or unbound: 2010, 1106)."""
        try:
            detail = self._call("GET", f"/v1.0/devices/{_quote(dev_id)}")
        except OpenApiError as exc:
            if exc.code in NOT_VISIBLE:
                with self._lock:
                    self._unresolved.discard(dev_id)
                return None
            raise
        return self._record(detail)

    def list_devices(self, home: str) -> Sequence[DeviceRecord]:
        result = self._call("GET", f"/v1.0/homes/{_quote(home)}/devices")
        if not isinstance(result, list):
            raise AdapterError(f"the OpenAPI's device list of home {home} is not a list: {result!r}")
        return [self._record(raw) for raw in result]

    def device_by_uuid(self, uuid: str) -> DeviceRecord | None:
        """The device of licence ``uuid`` as the project sees it: through the devId this adapter learned for it
        (unbound: None), else through the devices of token queries and of the homes it created."""
        with self._lock:
            known = self._uuid_devices.get(uuid)
            unresolved = sorted(self._unresolved)
        if known is not None:
            return self.device(known)
        for dev_id in unresolved:
            record = self.device(dev_id)
            if record is not None and record.uuid == uuid:
                return record
        with self._lock:
            homes = list(reversed(self._home_owners))
        for home in homes:
            try:
                found = [r for r in self.list_devices(home) if r.uuid == uuid]
            except OpenApiError as exc:
                if exc.code in NOT_VISIBLE:
                    continue
                raise
            if found:
                return found[0]
        return None

    @step
    def remove_device(self, dev_id: str, *, account: str, wipe: bool = False) -> None:
        """§10.8: DELETE ("Remove device") or ``reset-factory`` ("Remove and wipe data"). The OpenAPI acts with the
        project's rights (§10.12): ``account`` is not checked by the cloud."""
        if wipe:
            self._call("PUT", f"/v1.0/devices/{_quote(dev_id)}/reset-factory")
        else:
            self._call("DELETE", f"/v1.0/devices/{_quote(dev_id)}")

    @step
    def release_device(self, uuid: str) -> DeviceRecord | None:
        """The device of licence ``uuid``, where the project sees it bound, removed with a data wipe (§10.8)."""
        record = self.device_by_uuid(uuid)
        if record is None or record.home is None:
            return None
        self.remove_device(record.dev_id, account=record.owner or "", wipe=True)
        return record

    def notifications(self, account: str) -> Sequence[Notification]:
        raise CapabilityMissing(self.name, NOTIFICATIONS)

    @step
    def send_dps(self, dev_id: str, dps: Mapping[str, Any], *, account: str) -> None:
        """§10.8: DPs as ``{"commands": [{"code", "value"}]}``; an offline device does not get them (no lab fault)."""
        codes = self._codes_for(dev_id)
        commands = [{"code": codes.get(str(dp), str(dp)), "value": value} for dp, value in dps.items()]
        try:
            self._call("POST", f"/v1.0/devices/{_quote(dev_id)}/commands", body={"commands": commands})
        except OpenApiError as exc:
            if exc.code not in NOT_DELIVERED:
                raise
            log.info("the cloud did not deliver DPs to %s: %s %s", dev_id, exc.code, exc.msg)

    # -- lab controls the OpenAPI does not have ------------------------------------------------------------

    def create_product(self, name: str, category: str, binding_mode: BindingMode) -> Product:
        raise CapabilityMissing(self.name, CloudCapability.CREATE_PRODUCTS.value)

    def issue_licence(self, pid: str) -> Licence:
        raise CapabilityMissing(self.name, CloudCapability.ISSUE_LICENCES.value)

    def revoke_licence(self, uuid: str) -> None:
        raise CapabilityMissing(self.name, CloudCapability.REVOKE_LICENCES.value)

    def advance_time(self, seconds: float) -> None:
        raise CapabilityMissing(self.name, CloudCapability.TIME_TRAVEL.value)

    def send_atop(self, query: str, body: bytes, *, method: str = "POST") -> RawReply:
        """A hand-built request to the ATOP endpoint the profile's url_config names (§4.1, §4.2)."""
        atop = self.endpoints().get("atop_url") if CloudCapability.RAW_ATOP.value in self.capabilities else None
        if atop is None:
            raise CapabilityMissing(self.name, CloudCapability.RAW_ATOP.value)
        return wire.send_atop(atop, query, body, method=method, timeout_s=self.client.timeout_s,
                              tls=wire.tls_for(self.endpoints().get("ca")))

    def bind_device_by_uuid(self, home: str, uuid: str, *, account: str) -> str:
        """Binding by UUID (§11.6) is an app-SDK call the OpenAPI subset here does not offer."""
        raise CapabilityMissing(self.name, CloudCapability.BIND_BY_UUID.value)

    # -- records -------------------------------------------------------------------------------------------

    def _record(self, raw: Any) -> DeviceRecord:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise AdapterError(f"the OpenAPI answered a device without an id: {raw!r}")
        dev_id, uuid, pid = raw["id"], str(raw.get("uuid") or ""), str(raw.get("product_id") or "")
        local_key = raw.get("local_key")
        if isinstance(local_key, str) and local_key:
            redaction.learn(local_key)  # §10.12: "local_key in every device detail" is a secret
        home = str(raw["owner_id"]) if raw.get("owner_id") not in (None, "") else None
        with self._lock:
            if uuid:
                self._uuid_devices[uuid] = dev_id
            self._unresolved.discard(dev_id)
            self._device_pids[dev_id] = pid
            owner = self._home_owners.get(home or "") or (str(raw["uid"]) if raw.get("uid") else None)
        name = str(raw.get("product_name") or raw.get("name") or pid)
        status = raw.get("status")
        if not isinstance(status, list):  # a detail without its status: ask the status route (§10.8)
            status = self._status(dev_id)
        return DeviceRecord(dev_id=dev_id, uuid=uuid, pid=pid, name=name, home=home, online=bool(raw.get("online")),
                            dps=self._dps(dev_id, pid, status), activations=self._activations(dev_id),
                            owner=owner if home else None)

    def _status(self, dev_id: str) -> Any:
        try:
            return self._call("GET", f"/v1.0/devices/{_quote(dev_id)}/status")
        except OpenApiError as exc:
            if exc.code in NOT_VISIBLE:
                return []
            raise

    def _dps(self, dev_id: str, pid: str, status: Any) -> dict[str, Any]:
        if not isinstance(status, list):
            return {}
        ids = {code: dp for dp, code in self._codes(dev_id, pid).items()}
        out: dict[str, Any] = {}
        for item in status:
            code = item.get("code") if isinstance(item, dict) else None
            if isinstance(code, str):
                out[ids.get(code, code)] = item.get("value")
        return out

    def _codes_for(self, dev_id: str) -> dict[str, str]:
        if self._dp_codes:
            return dict(self._dp_codes)
        with self._lock:
            pid = self._device_pids.get(dev_id)
        if pid is None:
            record = self.device(dev_id)
            pid = record.pid if record is not None else None
        return self._codes(dev_id, pid) if pid is not None else {}

    def _codes(self, dev_id: str, pid: str) -> dict[str, str]:
        """DP id -> code: the profile's ``dp_codes``, else learned once per product from ``…/specifications``."""
        if self._dp_codes:
            return dict(self._dp_codes)
        with self._lock:
            known = self._learned_codes.get(pid)
        if known is not None:
            return dict(known)
        learned: dict[str, str] = {}
        try:
            spec = self._call("GET", f"/v1.0/devices/{_quote(dev_id)}/specifications")
        except OpenApiError as exc:
            if exc.code not in NOT_VISIBLE:
                raise
            return {}
        for item in [*(spec.get("status") or []), *(spec.get("functions") or [])] if isinstance(spec, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("code"), str) and isinstance(item.get("dp_id"), int):
                learned[str(item["dp_id"])] = item["code"]
        with self._lock:
            self._learned_codes[pid] = learned
        return dict(learned)

    def _activations(self, dev_id: str) -> int:
        """How many times the device activated: event 3 of its log (§10.12 "The activation count can come from
        the log, event id 3")."""
        count, row_key = 0, ""
        for _ in range(MAX_LOG_PAGES):
            query = [("type", str(EVENT_ACTIVATION)), ("start_time", "0"), ("end_time", str(2**53)),
                     ("size", "100")] + ([("start_row_key", row_key)] if row_key else [])
            try:
                page = self._call("GET", f"/v1.0/devices/{_quote(dev_id)}/logs", query=query)
            except OpenApiError as exc:
                if exc.code in NOT_VISIBLE:
                    return count
                raise
            logs = page.get("logs") if isinstance(page, dict) else None
            if not isinstance(logs, list):
                raise AdapterError(f"the OpenAPI's device log is not a list: {page!r}")
            count += sum(1 for e in logs if isinstance(e, dict) and str(e.get("event_id")) == str(EVENT_ACTIVATION))
            row_key = str(page.get("current_row_key") or "")
            if not page.get("has_next") or not row_key:
                return count
        return count

    # -- where devices go ----------------------------------------------------------------------------------

    def endpoints(self) -> dict[str, str]:
        """Where devices activate and the CA they trust (``atop_url``, ``mqtt``, ``ca``: the first of ``caArr``),
        from the ``url_config`` the profile names (an emulated cloud's, §4.1, §11.2); the real cloud's devices find
        their own, so without ``url_config`` this is empty."""
        if self._endpoints is not None:
            return dict(self._endpoints)
        found: dict[str, str] = {}
        if self.url_config:
            from harness.protocol.iotdns import UrlConfigRequest, UrlConfigResponse

            status, raw = self.client.raw("POST", self.url_config, UrlConfigRequest().to_json().encode(),
                                          {"Content-Type": "application/json"})
            try:
                if status != 200:
                    raise AdapterError(f"{self.url_config} answered HTTP {status}")
                answer = UrlConfigResponse.from_json(raw)
            except (AdapterError, ProtocolError) as exc:
                raise AdapterError(f"the url_config at {self.url_config} is not usable: {exc}") from None
            atop = answer.addr("httpsSelfUrl") or answer.addr("httpUrl")
            mqtt = answer.addr("mqttsSelfUrl") or answer.addr("mqttUrl")
            ca = answer.ca_arr[0] if answer.ca_arr else None  # the CA devices trust (§11.2), as remote's
            found = {k: v for k, v in (("atop_url", atop), ("mqtt", mqtt), ("ca", ca)) if v}
        self._endpoints = found
        return dict(found)

    def info(self) -> Mapping[str, Any]:
        try:
            where: dict[str, str] = self.endpoints()
        except AdapterError as exc:
            where = {"endpoints_error": str(exc)}
        return {"adapter": self.name, "base_url": self.base_url, "client_id": self.client.client_id[:4] + "...",
                "region": self.region, "schema": self.schema, "time_zone_id": self.time_zone_id,
                "paring_type": self.paring_type, **where, "capabilities": sorted(self.capabilities),
                "cannot": sorted([CloudCapability.TIME_TRAVEL.value, CloudCapability.ISSUE_LICENCES.value,
                                  CloudCapability.REVOKE_LICENCES.value, CloudCapability.CREATE_PRODUCTS.value,
                                  ADD_MEMBERS, NOTIFICATIONS, FAULT_INJECTION, TOKEN_REFUSALS]),
                "logins": self.client.logins, "refreshes": self.client.refreshes}

    def close(self) -> None:
        self.client.close()


def _field(result: Any, key: str) -> Any:
    if not isinstance(result, dict) or key not in result:
        raise AdapterError(f"the OpenAPI's answer has no {key!r}: {result!r}")
    return result[key]


def openapi_cloud(context: WorldContext, *, client_id: str, secret: str, url: str | None = None,
                  data_centre: str | None = None, timeout_s: float = 10.0, schema: str | None = None,
                  uids: Sequence[str] = (), country_code: str = "1", time_zone_id: str = "Europe/Berlin",
                  paring_type: str = "EZ", region: str | None = None, url_config: str | None = None,
                  dp_codes: Mapping[str, str] | None = None, faults: Sequence[str] = (),
                  **_: Any) -> OpenApiCloudAdapter:
    """The registry's factory: ``cloud = { name = "openapi", args = { data_centre = "eu", client_id =
    "env:TUYA_ACCESS_ID", secret = "env:TUYA_ACCESS_SECRET", schema = "..." } }`` (or ``url = "http://..."``)."""
    if faults:
        raise CapabilityMissing("openapi", f"{FAULT_INJECTION} ({', '.join(faults)})")
    if url is None:
        if data_centre is None or data_centre.lower() not in DATA_CENTRES:
            raise AdapterError(f"the openapi cloud adapter needs url, or data_centre (one of "
                               f"{', '.join(DATA_CENTRES)}), got {data_centre!r}")
        url = DATA_CENTRES[data_centre.lower()]
    return OpenApiCloudAdapter(url, client_id=client_id, secret=secret, clock=context.clock, timeout_s=timeout_s,
                               schema=schema, uids=uids, country_code=country_code, time_zone_id=time_zone_id,
                               paring_type=paring_type, region=region or context.profile.parameters.region,
                               url_config=url_config, dp_codes=dp_codes)


__all__ = ["DATA_CENTRES", "OpenApiCloudAdapter", "OpenApiError", "openapi_cloud"]
