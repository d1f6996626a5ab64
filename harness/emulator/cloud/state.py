"""The emulated cloud's state: products, licences, accounts, homes, tokens, devices, notifications, attempts.

:class:`CloudState` is thread-safe (one re-entrant lock around every read and mutation), keeps everything in
memory, and writes each mutation's rows to its :class:`~harness.emulator.cloud.store.Store` in one transaction
(a no-op in memory, a SQLite file for ``paircert cloud serve --state``).

The decisions are the model's (``harness.model``), asked by the steps of an activation
(:mod:`harness.emulator.cloud.activation`) and by the hooks of the cloud's
:class:`~harness.emulator.cloud.behaviour.CloudBehaviour`; the state applies the answers. A faulty cloud has a
faulty behaviour (:mod:`harness.emulator.cloud.faults`): its hooks bend the inputs or the answers, never the rules,
and nothing here switches on a fault.

Emulator-defined choices (DESIGN.md "Emulator-defined behaviour"), documented here and in the README:
- a device that sends no ``hid`` is identified by its licence alone (it cannot be told from a clone);
- every successful activation issues a fresh secKey and localKey; the devId of a licence never changes;
- a device-initiated ``tuya.device.reset`` unbinds the device (releasing even a strong binding) and keeps
  its data; "remove and wipe" from the app clears the DPs and makes the next activation answer
  ``resetFactory: true``;
- a token's activation attempts are kept (the latest 200 per token) only for tokens this cloud issued.
"""

from __future__ import annotations

import dataclasses
import string
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from harness import redaction
from harness.clock import Clock
from harness.emulator.broker.authority import BrokerPolicy
from harness.model.binding import BindingMode, Role
from harness.model.errors import CloudError
from harness.model.outcomes import AttemptSummary
from harness.model.token import TokenRecord
from harness.protocol.atop import ActivationRequest, ActivationResult
from harness.protocol.errors import ProtocolError
from harness.protocol.mqtt import device_credentials, preactivation_credentials
from harness.protocol.token import TOKEN_LEN, PairingToken

from .activation import Activation, ActivationOutcome, announced
from .behaviour import CloudBehaviour
from .records import (
    ALNUM,
    DEFAULT_SCHEMA,
    LOWER_ALNUM,
    Account,
    ActivationEvent,
    CloudInputError,
    Device,
    DpSchema,
    Home,
    LicenceRecord,
    Notification,
    Product,
    random_text,
)
from .shared import NullLink, StateLock, StateReader, device_row
from .store import Change, Store

MAX_ATTEMPTS_PER_TOKEN = 200
# How long a pairing token is kept once it expired or was used, with its attempts (the lab reads them right
# after a test; a report never needs them hours later), and how often create_token looks for such tokens.
TOKEN_RETENTION_S = 3600.0
PURGE_EVERY_TOKENS = 1024

# The time-zone fields of the activation answer, per region (§4.3 "optional: stdTimeZone, timeZone").
REGION_TIME_ZONES = {"AY": "+08:00", "AZ": "-08:00", "UE": "-05:00", "EU": "+01:00", "WE": "+00:00",
                     "IN": "+05:30", "SG": "+08:00", "US": "-05:00"}


class DeviceLink(Protocol):
    """What the state tells the MQTT side (the broker's credentials and the cloud's commands)."""

    def licence_issued(self, uuid: str, auth_key: str) -> None: ...

    def licence_revoked(self, uuid: str) -> None: ...

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None: ...

    def device_removed(self, dev_id: str) -> None: ...

    def device_protocol(self, dev_id: str, protocol_ver: str) -> None: ...

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None, *, retain: bool = False) -> bool: ...

    def set_policy(self, policy: BrokerPolicy) -> None:
        """The broker decides by ``policy`` from now on; ValueError when it cannot."""


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        enum_value = getattr(value, "value", value)
        return enum_value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return getattr(value, "value", str(value))


def _attempt_from_dict(raw: dict[str, Any]) -> AttemptSummary:
    return AttemptSummary(**raw)


class CloudState:
    """Everything the cloud knows, behind one lock; ``behaviour`` decides (the conformant one by default)."""

    def __init__(self, *, clock: Clock, region: str = "EU", token_ttl_s: float = 600.0,
                 behaviour: CloudBehaviour | None = None, store: Store | None = None,
                 link: DeviceLink | None = None) -> None:
        PairingToken("EU" if region == "EU" else region, "A" * 8, "A" * 4)  # validates the region (§1.3)
        self.clock = clock
        self.region = region
        self.token_ttl_s = float(token_ttl_s)
        self.behaviour = behaviour if behaviour is not None else CloudBehaviour()
        self.link: DeviceLink = link or NullLink()
        self._store = store or Store()
        self._lock: StateLock | threading.RLock = StateLock(self) if self._store.shared else threading.RLock()
        self._reading = StateReader(self._lock) if isinstance(self._lock, StateLock) else self._lock  # lookups
        self.products: dict[str, Product] = {}
        self.licences: dict[str, LicenceRecord] = {}
        self.accounts: dict[str, Account] = {}
        self.homes: dict[str, Home] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.devices: dict[str, Device] = {}
        self.notifications: dict[str, list[Notification]] = {}
        self.attempts: dict[str, list[AttemptSummary]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}  # over a shared store: bearer digest -> account, until
        self.openapi_grants: dict[str, dict[str, Any]] = {}  # over a shared store: OpenAPI tokens (openapi_grants)
        self._next_notification = 1
        self.token_retention_s = TOKEN_RETENTION_S
        self._tokens_since_purge = 0
        self._load()

    # ------------------------------------------------------------------------------------- persistence

    @property
    def lock(self) -> StateLock | threading.RLock:
        return self._lock

    @property
    def reading(self) -> StateReader | StateLock | threading.RLock:
        """The lock of an operation that only reads (over a shared store: no write transaction)."""
        return self._reading

    @property
    def faults(self) -> tuple[str, ...]:
        """The names of the faults the behaviour makes (none for a conformant cloud)."""
        return self.behaviour.fault_names

    def set_behaviour(self, behaviour: CloudBehaviour) -> None:
        """Decide by ``behaviour`` from now on (the lab's fault switch); ValueError when the broker cannot."""
        with self._lock:
            self.link.set_policy(behaviour)
            self.behaviour = behaviour

    def _save(self, *changes: Change | Callable[[], Change]) -> None:
        """Write rows to the store; a row given as a function is built only when the store keeps rows (the
        in-memory store throws them away, and converting records to JSON rows was most of an activation's state
        work)."""
        if self._store.persistent:
            self._store.write([change() if callable(change) else change for change in changes])

    def _load(self) -> None:
        for kind, key, row in self._store.load():
            self._apply_row(kind, key, row)

    def _apply_row(self, kind: str, key: str, row: Any) -> None:
        """One stored row into memory (a row of None: deleted)."""
        if row is None:
            tables: dict[str, dict[str, Any]] = {
                "product": self.products, "licence": self.licences, "account": self.accounts, "home": self.homes,
                "token": self.tokens, "device": self.devices, "notifications": self.notifications,
                "attempts": self.attempts, "session": self.sessions, "openapi-grant": self.openapi_grants}
            tables.get(kind, {}).pop(key, None)
            return
        loaders: dict[str, Callable[[str, Any], None]] = {
            "product": lambda k, r: self.products.__setitem__(k, Product.from_dict(r)),
            "licence": lambda k, r: self.licences.__setitem__(k, LicenceRecord.from_dict(r)),
            "account": lambda k, r: self.accounts.__setitem__(k, Account.from_dict(r)),
            "home": lambda k, r: self.homes.__setitem__(k, Home.from_dict(r)),
            "token": lambda k, r: self.tokens.__setitem__(k, TokenRecord(**r)),
            "device": lambda k, r: self.devices.__setitem__(k, Device.from_dict(r)),
            "notifications": lambda k, r: self.notifications.__setitem__(k, [Notification.from_dict(n) for n in r]),
            "attempts": lambda k, r: self.attempts.__setitem__(k, [_attempt_from_dict(a) for a in r]),
            "session": lambda k, r: self.sessions.__setitem__(k, r),
            "openapi-grant": lambda k, r: self.openapi_grants.__setitem__(k, r),
            "meta": lambda k, r: setattr(self, "_next_notification", int(r["next_notification"])),
        }
        loaders[kind](key, row)

    def sync(self) -> None:
        """Apply what other processes changed (nothing to do unless the store is shared)."""
        if self._store.shared:
            with self._reading:
                pass

    def restore_links(self) -> None:
        """Tell the link every live credential (after a restart from a SQLite file)."""
        with self._lock:
            for lic in self.licences.values():
                if not lic.revoked:
                    self.link.licence_issued(lic.uuid, lic.auth_key)
            for dev in self.devices.values():
                if dev.bound:
                    self.link.device_activated(dev.dev_id, dev.sec_key, dev.local_key)
                    if dev.protocol_ver is not None:
                        self.link.device_protocol(dev.dev_id, dev.protocol_ver)

    def close(self) -> None:
        self._store.close()

    # ------------------------------------------------------------------------------------ products, licences

    def create_product(self, *, name: str, category: str, binding_mode: BindingMode | str | None = None,
                       pid: str | None = None, schema: Iterable[DpSchema] | None = None) -> Product:
        """A product; a camera is always strong-bound and asking otherwise is an error (the model's rule)."""
        try:
            mode = self.behaviour.product_binding_mode(category, binding_mode)
        except (ValueError, ProtocolError) as exc:
            raise CloudInputError("ILLEGAL_PARAM", str(exc)) from None
        with self._lock:
            pid = pid or random_text(16, LOWER_ALNUM)
            if pid in self.products:
                raise CloudInputError("ILLEGAL_PARAM", f"product {pid} exists already", status=409)
            product = Product(pid=pid, name=name, category=category, binding_mode=mode,
                              schema=tuple(schema) if schema is not None else DEFAULT_SCHEMA,
                              schema_id=random_text(10, string.digits))
            self.products[pid] = product
            self._save(lambda: ("product", pid, product.to_dict()))
            return product

    def issue_licence(self, pid: str) -> LicenceRecord:
        """A licence for a product: a 20-character UUID and a 32-character AuthKey from ``secrets`` (§8)."""
        with self._lock:
            if pid not in self.products:
                raise CloudInputError("NOT_EXISTS", f"no product {pid}", status=404)
            uuid = "pc" + random_text(18, LOWER_ALNUM)
            lic = LicenceRecord(uuid=uuid, auth_key=random_text(32), pid=pid)
            redaction.learn(lic.auth_key, preactivation_credentials(uuid, lic.auth_key).password)
            self.licences[uuid] = lic
            self._save(lambda: ("licence", uuid, lic.to_dict()))
            self.link.licence_issued(uuid, lic.auth_key)
            return lic

    def revoke_licence(self, uuid: str) -> LicenceRecord:
        with self._lock:
            lic = self.licences.get(uuid)
            if lic is None:
                raise CloudInputError("LICENSE_NOT_EXISTS", f"no licence {uuid}", status=404)
            lic.revoked = True
            self._save(lambda: ("licence", uuid, lic.to_dict()))
            self.link.licence_revoked(uuid)
            return lic

    # ------------------------------------------------------------------------------- accounts, homes

    def create_account(self, name: str, *, password_hash: str | None = None) -> Account:
        with self._lock:
            account = Account(account_id="acc" + random_text(9, LOWER_ALNUM), name=name, password_hash=password_hash)
            self.accounts[account.account_id] = account
            self._save(lambda: ("account", account.account_id, account.to_dict()))
            return account

    def create_home(self, owner: str, name: str) -> Home:
        with self._lock:
            self.require_account(owner)
            home = Home(home_id="home" + random_text(8, string.digits), name=name, owner=owner)
            self.homes[home.home_id] = home
            self._save(lambda: ("home", home.home_id, home.to_dict()))
            return home

    def set_member(self, home_id: str, account_id: str, role: Role | str) -> Home:
        with self._lock:
            home = self.require_home(home_id)
            self.require_account(account_id)
            role = Role(role)
            if account_id == home.owner or role is Role.OWNER:
                raise CloudInputError("ILLEGAL_PARAM", "a home has exactly one owner, fixed at creation")
            home.members[account_id] = role
            self._save(lambda: ("home", home_id, home.to_dict()))
            return home

    def require_account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise CloudInputError("USER_NOT_EXISTS", f"no account {account_id!r}", status=404)
        return account

    def password_hash(self, account_id: str) -> str | None:
        """The stored password hash of an account (None: no such account, or it has no password)."""
        with self._lock:
            account = self.accounts.get(account_id)
            return None if account is None else account.password_hash

    def require_home(self, home_id: str) -> Home:
        home = self.homes.get(home_id)
        if home is None:
            raise CloudInputError("HOME_NOT_EXISTS", f"no home {home_id!r}", status=404)
        return home

    def homes_of(self, account_id: str) -> list[Home]:
        """The homes the account owns, then those it is a member of, in creation order."""
        with self._lock:
            owned = [h for h in self.homes.values() if h.owner == account_id]
            joined = [h for h in self.homes.values() if account_id in h.members]
            return owned + joined

    # ----------------------------------------------------------------------------------------- tokens

    def create_token(self, home_id: str, account_id: str, *, region: str | None = None) -> PairingToken:
        """A single-use pairing token bound to ``home_id`` (§0 step 1): region + 8 random + 4-character secret.

        ``region`` other than this cloud's is a lab control: a token issued by another region's cloud.
        """
        with self._lock:
            home = self.require_home(home_id)
            self.require_account(account_id)
            if home.role_of(account_id) is None:
                raise CloudInputError("PERMISSION_DENIED", f"{account_id} is not a member of {home_id}", status=403)
            while True:
                token = PairingToken(region or self.region, self.behaviour.new_token_id(), random_text(4))
                if token.token not in self.tokens:
                    break
            record = TokenRecord(region=token.region, token=token.token, secret=token.secret, home=home_id,
                                 account=account_id, issued_at=self.clock.time(), ttl_s=self.token_ttl_s)
            self.tokens[token.token] = record
            self._save(lambda: ("token", token.token, _jsonable(record)))
            self._tokens_since_purge += 1
            if self._tokens_since_purge >= PURGE_EVERY_TOKENS:
                self.purge_tokens()
            return token

    def consume_token(self, token: str) -> None:
        """Mark ``token`` used now, if it is not already (an activation made with ``consume=False``)."""
        with self._lock:
            record = self.tokens.get(token)
            if record is not None and record.consumed_at is None:
                record = record.consume(self.clock.time())
                self.tokens[token] = record
                self._save(lambda: ("token", token, _jsonable(record)))

    def token_attempts(self, token: str) -> list[AttemptSummary]:
        with self._lock:
            return list(self.attempts.get(token, ()))

    def purge_tokens(self) -> int:
        """Forget the tokens that expired or were used more than ``token_retention_s`` ago, and their attempts,
        in memory and in the store (which then gives the space back). Returns how many were forgotten."""
        with self._lock:
            self._tokens_since_purge = 0
            horizon = self.clock.time() - self.token_retention_s
            retired_at = self.behaviour.token_retired_at
            gone = [key for key, record in self.tokens.items() if retired_at(record) <= horizon]
            if not gone:
                return 0
            for key in gone:
                del self.tokens[key]
                self.attempts.pop(key, None)
            # dicts keep their largest size: rebuilding them gives the memory of the forgotten entries back
            self.tokens = dict(self.tokens)
            self.attempts = dict(self.attempts)
            self._save(*[change for key in gone for change in (("token", key, None), ("attempts", key, None))])
            self._store.compact(len(gone))
            return len(gone)

    def _record_attempt(self, token: str, summary: AttemptSummary) -> None:
        if token not in self.tokens:
            return
        history = self.attempts.setdefault(token, [])
        history.append(summary)
        del history[:-MAX_ATTEMPTS_PER_TOKEN]
        self._save(lambda: ("attempts", token, _jsonable(history)))

    # ------------------------------------------------------------------------------------- activation

    def licence_key(self, uuid: str) -> str | None:
        """The AuthKey that signs and encrypts a request naming ``uuid`` (None: unknown licence)."""
        lic = self.licences.get(uuid)  # an AuthKey never changes: only an unknown licence is looked up anew
        if lic is None:
            with self._reading:
                lic = self.licences.get(uuid)
        return None if lic is None else lic.auth_key

    def activate(self, uuid: str, req: ActivationRequest, *, consume: bool = True,
                 protocol_ver: str | None = None) -> ActivationOutcome:
        """Check the licence, the token and the binding rules, then bind (§4, §6). Atomic. ``consume=False``
        leaves the token unused (:meth:`consume_token` marks it used later); ``protocol_ver``:
        the MQTT version the activation announced (§11.9.5; default: :func:`.activation.announcing`'s), recorded in
        the same transaction.
        """
        protocol_ver = announced() if protocol_ver is None else protocol_ver
        with self._lock:
            outcome, dev_id, home = self._activate_locked(uuid, req, consume=consume)
            if outcome.result is not None and protocol_ver is not None:
                self.record_device_info(outcome.result.dev_id, protocol_ver=protocol_ver)
            refused = outcome.result is None
            self._record_attempt(req.token, AttemptSummary(
                at=self.clock.time(), outcome="refused" if refused else "activated",
                error_code=outcome.error.value if refused and outcome.error is not None else None,
                error_msg=outcome.message if refused else None, dev_id=dev_id, home=home))
            return outcome

    def note_token_layout(self, uuid: str, text: str, message: str) -> None:
        """An activation refused ILLEGAL_PARAM because its token is not the 8-character token [2,10) (§1.4): when
        ``text`` holds a token this cloud issued (the whole QR token string, say), the refusal is recorded under
        that token, so that its attempts show the wrong cut (retrying with the right one can still succeed)."""
        with self._lock:
            issued = next((text[i:i + TOKEN_LEN] for i in range(min(len(text), 64) - TOKEN_LEN + 1)
                           if text[i:i + TOKEN_LEN] in self.tokens), None)
            if issued is None:
                return
            lic = self.licences.get(uuid)
            self._record_attempt(issued, AttemptSummary(
                at=self.clock.time(), outcome="refused", error_code=CloudError.ILLEGAL_PARAM.value,
                error_msg=f"{message} (sent {text!r}, {len(text)} characters)",
                dev_id=None if lic is None else lic.dev_id, home=None))

    def _activate_locked(self, uuid: str, req: ActivationRequest, *,
                         consume: bool = True) -> tuple[ActivationOutcome, str | None, str | None]:
        """The behaviour's steps decide (:mod:`harness.emulator.cloud.activation`), then the state binds."""
        activation = Activation(state=self, uuid=uuid, req=req, now=self.clock.time(), consume=consume)
        refusal = self.behaviour.decide_activation(activation)
        if refusal is not None:
            lic = activation.licence
            return refusal, None if lic is None else lic.dev_id, None
        return self._bind(activation)

    def _bind(self, a: Activation) -> tuple[ActivationOutcome, str, str]:
        """Apply an allowed activation: consume the token, bind, issue keys, notify (§4.3, §6)."""
        lic, product, record, target = a.found_licence, a.found_product, a.found_token, a.found_target
        decision = a.found_decision
        if a.consume:
            self._mark_used(record, a.now)
        previous_home = a.device.home if a.device else None
        dev = a.device or self._new_device(lic)
        lic.dev_id = dev.dev_id
        lic.hid = self.behaviour.licence_hardware_id(a)
        self._issue_keys(dev)
        dev.home, dev.account, dev.hid = target.home_id, record.account, a.req.hid or dev.hid
        dev.activated_at = a.now
        dev.reports = 0  # DP reports are counted per activation (record_dps)
        if decision.reset_factory:
            dev.dps = {}
        dev.data_wipe_pending = False
        dev.history.append(ActivationEvent(at=a.now, event="activated", home=target.home_id, account=record.account,
                                           hid=a.req.hid, reset_factory=decision.reset_factory))
        changes: list[Change | Callable[[], Change]] = [lambda: ("licence", lic.uuid, lic.to_dict()),
                                                         lambda: ("device", dev.dev_id, device_row(self, dev))]
        if a.notify and previous_home is not None and previous_home in self.homes:
            changes += self._notify_admins(self.homes[previous_home], dev.dev_id, a.now)
        self._save(*changes)
        self.link.device_activated(dev.dev_id, dev.sec_key, dev.local_key)
        tz = REGION_TIME_ZONES.get(self.region, "+00:00")
        result = ActivationResult(dev_id=dev.dev_id, sec_key=dev.sec_key, local_key=dev.local_key,
                                  schema_id=product.schema_id, schema=product.schema_json(),
                                  reset_factory=decision.reset_factory, time_zone=tz, std_time_zone=tz,
                                  dst_intervals=[])
        return ActivationOutcome(result=result), dev.dev_id, target.home_id

    def _mark_used(self, record: TokenRecord, now: float) -> None:
        record = record.consume(now)
        self.tokens[record.token] = record
        self._save(lambda: ("token", record.token, _jsonable(record)))

    def _new_device(self, lic: LicenceRecord) -> Device:
        dev_id = lic.dev_id or self._new_dev_id()
        dev = Device(dev_id=dev_id, uuid=lic.uuid, pid=lic.pid, sec_key="", local_key="")
        self.devices[dev_id] = dev
        return dev

    @staticmethod
    def _issue_keys(dev: Device) -> None:
        """A fresh secKey and localKey: secrets no report, log or evidence file may show (DESIGN "Evidence")."""
        dev.sec_key, dev.local_key = random_text(16), random_text(16)
        redaction.learn(dev.sec_key, dev.local_key, device_credentials(dev.dev_id, dev.sec_key).password)

    def _new_dev_id(self) -> str:
        while True:
            dev_id = "pc" + random_text(18, LOWER_ALNUM)
            if dev_id not in self.devices:
                return dev_id

    def _notify_admins(self, home: Home, dev_id: str, now: float) -> list[Change]:
        changes: list[Change] = []
        for account_id in home.admins():
            note = Notification(id=self._next_notification, at=now, kind="device_bound_elsewhere", dev_id=dev_id,
                                home=home.home_id,
                                message=f"Device {dev_id} of home {home.name!r} was bound by another account")
            self._next_notification += 1
            box = self.notifications.setdefault(account_id, [])
            box.append(note)
            changes.append(("notifications", account_id, [n.to_dict() for n in box]))
        changes.append(("meta", "counters", {"next_notification": self._next_notification}))
        return changes

    # ------------------------------------------------------------------------------ device lifecycle

    def device_key(self, dev_id: str) -> str | None:
        """The secKey that signs a request naming ``dev_id`` (None: unknown or unbound device)."""
        with self._reading:
            dev = self.devices.get(dev_id)
            return dev.sec_key if dev is not None and dev.bound else None

    def device_reset(self, dev_id: str, *, factory: bool = False) -> bool:
        """``tuya.device.reset`` from the device itself: unbind (and clear its DPs when ``factory``)."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is None or not dev.bound:
                return False
            self._unbind(dev, event="device-reset", wipe=factory)
            return True

    def remove_device(self, dev_id: str, *, wipe: bool) -> Device:
        """The app's "Remove device" (or "Remove and wipe data") (§6): tell the device when online, unbind."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is None or not dev.bound:
                raise CloudInputError("DEVICE_NOT_EXISTS", f"no bound device {dev_id!r}", status=404)
            if dev.online:
                if wipe:  # §5: protocol 11, root "type":"reset_factory" -> remote factory reset
                    self.link.send(dev_id, dev.local_key, 11, {"gwId": dev_id}, {"type": "reset_factory"})
                else:  # §5: protocol 8 unbind
                    self.link.send(dev_id, dev.local_key, 8, {"gwId": dev_id})
            if not self.behaviour.removal_releases_binding(self.products[dev.pid], dev, wipe=wipe):
                return dev  # the device was told; the cloud keeps its binding
            self._unbind(dev, event="removed+wiped" if wipe else "removed", wipe=wipe)
            if wipe:
                dev.data_wipe_pending = True
                self._save(lambda: ("device", dev_id, device_row(self, dev)))
            return dev

    def _unbind(self, dev: Device, *, event: str, wipe: bool) -> None:
        now = self.clock.time()
        dev.history.append(ActivationEvent(at=now, event=event, home=dev.home, account=dev.account, hid=dev.hid))
        dev.home = dev.account = None
        if wipe:
            dev.dps = {}
        self._save(lambda: ("device", dev.dev_id, device_row(self, dev)))
        self.link.device_removed(dev.dev_id)

    def set_online(self, dev_id: str, online: bool) -> None:
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is not None:
                dev.online = online and dev.bound
                dev.last_seen = self.clock.time()
                if self._store.shared:  # the other workers hear it from the store (the broker runs in one)
                    self._save(("device", dev_id, device_row(self, dev)))

    def record_dps(self, dev_id: str, dps: dict[str, Any], *, pv: str | None = None) -> None:
        """A protocol-4 DP report from the device (§5), counted in the device's ``reports`` since its activation,
        and the envelope version ``pv`` it came in."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is not None and dev.bound:
                dev.dps.update({str(k): v for k, v in dps.items()})
                dev.report_pv = pv if pv is not None else dev.report_pv
                dev.reports += 1
                dev.last_seen = self.clock.time()
                self._save(lambda: ("device", dev_id, device_row(self, dev)))

    def record_device_info(self, dev_id: str, *, versions: str | None = None, protocol_ver: str | None = None) -> bool:
        """What a bound device said of itself: §11.5 versions.update, §11.9.5 its activation's protocolVer."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is None or not dev.bound:
                return False
            dev.versions = versions if versions is not None else dev.versions
            dev.protocol_ver = protocol_ver if protocol_ver is not None else dev.protocol_ver
            self._save(lambda: ("device", dev_id, device_row(self, dev)))
            if protocol_ver is not None:
                self.link.device_protocol(dev_id, protocol_ver)
            return True

    def send_dps(self, dev_id: str, dps: dict[str, Any]) -> bool:
        """Send a protocol-5 DP command (§5); True when it went to the broker."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is None or not dev.bound:
                raise CloudInputError("DEVICE_NOT_EXISTS", f"no bound device {dev_id!r}", status=404)
            if not dev.online:
                return False
            return self.link.send(dev_id, dev.local_key, 5, {"dps": dps}, retain=self.behaviour.retains_command(5))

    def notifications_of(self, account_id: str) -> list[Notification]:
        with self._lock:
            return list(self.notifications.get(account_id, ()))


__all__ = ["ALNUM", "LOWER_ALNUM", "PURGE_EVERY_TOKENS", "REGION_TIME_ZONES", "TOKEN_RETENTION_S", "ActivationOutcome",
           "CloudState", "DeviceLink", "NullLink", "random_text"]
