"""The emulated cloud's state: products, licences, accounts, homes, tokens, devices, notifications, attempts.

:class:`CloudState` is thread-safe (one re-entrant lock around every read and mutation), keeps everything in
memory, and writes each mutation's rows to its :class:`~harness.emulator.cloud.store.Store` in one transaction
(a no-op in memory, a SQLite file for ``paircert cloud serve --state``).

The decisions are the model's (``harness.model``): the cloud asks :func:`check_token` whether a token may be
used and :func:`decide_binding` whether a claim may bind, then applies the answer. Faults
(:class:`~harness.emulator.cloud.faults.CloudFault`) bend the inputs or the answers, never the rules.

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
import math
import secrets
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from harness import redaction
from harness.clock import Clock
from harness.errors import HarnessError
from harness.model.binding import (
    Binding,
    BindingMode,
    Claim,
    Relation,
    Role,
    decide_binding,
    product_binding_mode,
    relation_of,
)
from harness.model.errors import CloudError
from harness.model.outcomes import AttemptSummary
from harness.model.token import TokenRecord, check_token
from harness.protocol.atop import ActivationRequest, ActivationResult
from harness.protocol.errors import ProtocolError
from harness.protocol.mqtt import device_credentials, preactivation_credentials
from harness.protocol.token import TOKEN_LEN, PairingToken

from .faults import CloudFault
from .records import (
    DEFAULT_SCHEMA,
    Account,
    ActivationEvent,
    CloudInputError,
    Device,
    DpSchema,
    Home,
    LicenceRecord,
    Notification,
    Product,
)
from .store import Change, Store

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
MAX_ATTEMPTS_PER_TOKEN = 200
# sequential-tokens fault: 8 base-62 digits stepped by about 0.618 of their range (odd, so every id comes round).
TOKEN_ID_SPACE = len(ALNUM) ** 8
SEQUENTIAL_TOKEN_STRIDE = int(TOKEN_ID_SPACE * 0.6180339887) | 1

# The time-zone fields of the activation answer, per region (§4.3 "optional: stdTimeZone, timeZone").
REGION_TIME_ZONES = {"AY": "+08:00", "AZ": "-08:00", "UE": "-05:00", "EU": "+01:00", "WE": "+00:00",
                     "IN": "+05:30", "SG": "+08:00", "US": "-05:00"}


def random_text(length: int, alphabet: str = ALNUM) -> str:
    """``length`` characters of ``alphabet`` from a cryptographic RNG, uniformly (bytes past the largest
    multiple of the alphabet's size are rejected, so no character is likelier than another)."""
    size = len(alphabet)
    limit = 256 - 256 % size
    out: list[str] = []
    for _ in range(64):  # each round keeps over 3/4 of its bytes: 64 rounds never run out in practice
        out.extend(alphabet[b % size] for b in secrets.token_bytes(length) if b < limit)
        if len(out) >= length:
            return "".join(out[:length])
    raise RuntimeError("the system RNG kept returning rejected bytes")


class DeviceLink(Protocol):
    """What the state tells the MQTT side (the broker's credentials and the cloud's commands)."""

    def licence_issued(self, uuid: str, auth_key: str) -> None: ...

    def licence_revoked(self, uuid: str) -> None: ...

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None: ...

    def device_removed(self, dev_id: str) -> None: ...

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None) -> bool: ...


class NullLink:
    """No broker: credentials go nowhere and nothing is sent."""

    def licence_issued(self, uuid: str, auth_key: str) -> None:
        return None

    def licence_revoked(self, uuid: str) -> None:
        return None

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None:
        return None

    def device_removed(self, dev_id: str) -> None:
        return None

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None) -> bool:
        return False


@dataclass(frozen=True)
class ActivationOutcome:
    """What an activation came to: a result to encrypt back, or a DESIGN.md errorCode and message."""

    result: ActivationResult | None
    error: CloudError | None = None
    message: str = ""


def _refused(error: CloudError, message: str) -> ActivationOutcome:
    return ActivationOutcome(result=None, error=error, message=message)


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
    """Everything the cloud knows, behind one lock."""

    def __init__(self, *, clock: Clock, region: str = "EU", token_ttl_s: float = 600.0,
                 faults: Iterable[CloudFault] = (), store: Store | None = None, link: DeviceLink | None = None) -> None:
        PairingToken("EU" if region == "EU" else region, "A" * 8, "A" * 4)  # validates the region (§1.3)
        self.clock = clock
        self.region = region
        self.token_ttl_s = float(token_ttl_s)
        self.faults: frozenset[CloudFault] = frozenset(faults)
        self.link: DeviceLink = link or NullLink()
        self._store = store or Store()
        self._lock = threading.RLock()
        self.products: dict[str, Product] = {}
        self.licences: dict[str, LicenceRecord] = {}
        self.accounts: dict[str, Account] = {}
        self.homes: dict[str, Home] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.devices: dict[str, Device] = {}
        self.notifications: dict[str, list[Notification]] = {}
        self.attempts: dict[str, list[AttemptSummary]] = {}
        self._next_notification = 1
        self._token_counter = secrets.randbelow(TOKEN_ID_SPACE)  # only the sequential-tokens fault uses it
        self._load()

    # ------------------------------------------------------------------------------------- persistence

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def _save(self, *changes: Change) -> None:
        self._store.write(changes)

    def _load(self) -> None:
        loaders: dict[str, Callable[[str, Any], None]] = {
            "product": lambda k, r: self.products.__setitem__(k, Product.from_dict(r)),
            "licence": lambda k, r: self.licences.__setitem__(k, LicenceRecord.from_dict(r)),
            "account": lambda k, r: self.accounts.__setitem__(k, Account.from_dict(r)),
            "home": lambda k, r: self.homes.__setitem__(k, Home.from_dict(r)),
            "token": lambda k, r: self.tokens.__setitem__(k, TokenRecord(**r)),
            "device": lambda k, r: self.devices.__setitem__(k, Device.from_dict(r)),
            "notifications": lambda k, r: self.notifications.__setitem__(k, [Notification.from_dict(n) for n in r]),
            "attempts": lambda k, r: self.attempts.__setitem__(k, [_attempt_from_dict(a) for a in r]),
            "meta": lambda k, r: setattr(self, "_next_notification", int(r["next_notification"])),
        }
        for kind, key, row in self._store.load():
            loaders[kind](key, row)

    def restore_links(self) -> None:
        """Tell the link every live credential (after a restart from a SQLite file)."""
        with self._lock:
            for lic in self.licences.values():
                if not lic.revoked:
                    self.link.licence_issued(lic.uuid, lic.auth_key)
            for dev in self.devices.values():
                if dev.bound:
                    self.link.device_activated(dev.dev_id, dev.sec_key, dev.local_key)

    def close(self) -> None:
        self._store.close()

    # ------------------------------------------------------------------------------------ products, licences

    def create_product(self, *, name: str, category: str, binding_mode: BindingMode | str | None = None,
                       pid: str | None = None, schema: Iterable[DpSchema] | None = None) -> Product:
        """A product; a camera is always strong-bound and asking otherwise is an error (the model's rule)."""
        try:
            if CloudFault.CAMERA_BINDING_CHANGEABLE in self.faults and binding_mode is not None:
                mode = BindingMode(binding_mode)  # the fault: the requested mode is stored whatever the category
            else:
                mode = product_binding_mode(category, binding_mode)
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
            self._save(("product", pid, product.to_dict()))
            return product

    def issue_licence(self, pid: str) -> LicenceRecord:
        """A licence for a product: a 20-character UUID and a 32-character AuthKey from ``secrets`` (§8)."""
        with self._lock:
            if pid not in self.products:
                raise CloudInputError("NOT_EXISTS", f"no product {pid}", status=404)
            uuid = "pc" + random_text(18, LOWER_ALNUM)
            lic = LicenceRecord(uuid=uuid, auth_key=random_text(32), pid=pid)
            redaction.learn(lic.auth_key)
            redaction.learn(preactivation_credentials(uuid, lic.auth_key).password)
            self.licences[uuid] = lic
            self._save(("licence", uuid, lic.to_dict()))
            self.link.licence_issued(uuid, lic.auth_key)
            return lic

    def revoke_licence(self, uuid: str) -> LicenceRecord:
        with self._lock:
            lic = self.licences.get(uuid)
            if lic is None:
                raise CloudInputError("LICENSE_NOT_EXISTS", f"no licence {uuid}", status=404)
            lic.revoked = True
            self._save(("licence", uuid, lic.to_dict()))
            self.link.licence_revoked(uuid)
            return lic

    # ------------------------------------------------------------------------------- accounts, homes

    def create_account(self, name: str) -> Account:
        with self._lock:
            account = Account(account_id="acc" + random_text(9, LOWER_ALNUM), name=name)
            self.accounts[account.account_id] = account
            self._save(("account", account.account_id, account.to_dict()))
            return account

    def create_home(self, owner: str, name: str) -> Home:
        with self._lock:
            self.require_account(owner)
            home = Home(home_id="home" + random_text(8, string.digits), name=name, owner=owner)
            self.homes[home.home_id] = home
            self._save(("home", home.home_id, home.to_dict()))
            return home

    def set_member(self, home_id: str, account_id: str, role: Role | str) -> Home:
        with self._lock:
            home = self.require_home(home_id)
            self.require_account(account_id)
            role = Role(role)
            if account_id == home.owner or role is Role.OWNER:
                raise CloudInputError("ILLEGAL_PARAM", "a home has exactly one owner, fixed at creation")
            home.members[account_id] = role
            self._save(("home", home_id, home.to_dict()))
            return home

    def require_account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise CloudInputError("USER_NOT_EXISTS", f"no account {account_id!r}", status=404)
        return account

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
                token = PairingToken(region or self.region, self._next_token_id(), random_text(4))
                if token.token not in self.tokens:
                    break
            record = TokenRecord(region=token.region, token=token.token, secret=token.secret, home=home_id,
                                 account=account_id, issued_at=self.clock.time(), ttl_s=self.token_ttl_s)
            self.tokens[token.token] = record
            self._save(("token", token.token, _jsonable(record)))
            return token

    def _next_token_id(self) -> str:
        """The 8-character token: random, or under the sequential-tokens fault the next value of a counter."""
        if CloudFault.SEQUENTIAL_TOKENS not in self.faults:
            return random_text(8)
        self._token_counter = (self._token_counter + SEQUENTIAL_TOKEN_STRIDE) % TOKEN_ID_SPACE
        value, digits = self._token_counter, []
        for _ in range(8):
            value, digit = divmod(value, len(ALNUM))
            digits.append(ALNUM[digit])
        return "".join(reversed(digits))

    def consume_token(self, token: str) -> None:
        """Mark ``token`` used now (the second half of a token-consume-race activation)."""
        with self._lock:
            record = self.tokens.get(token)
            if record is not None and record.consumed_at is None:
                record = record.consume(self.clock.time())
                self.tokens[token] = record
                self._save(("token", token, _jsonable(record)))

    def _consumed_by(self, token: str, dev_id: str | None) -> bool:
        """Whether the token's successful activation was the device ``dev_id``'s."""
        return dev_id is not None and any(a.outcome == "activated" and a.dev_id == dev_id
                                          for a in self.attempts.get(token, ()))

    def token_attempts(self, token: str) -> list[AttemptSummary]:
        with self._lock:
            return list(self.attempts.get(token, ()))

    def _record_attempt(self, token: str, summary: AttemptSummary) -> None:
        if token not in self.tokens:
            return
        history = self.attempts.setdefault(token, [])
        history.append(summary)
        del history[:-MAX_ATTEMPTS_PER_TOKEN]
        self._save(("attempts", token, _jsonable(history)))

    # ------------------------------------------------------------------------------------- activation

    def licence_key(self, uuid: str) -> str | None:
        """The AuthKey that signs and encrypts a request naming ``uuid`` (None: unknown licence)."""
        with self._lock:
            lic = self.licences.get(uuid)
            return None if lic is None else lic.auth_key

    def activate(self, uuid: str, req: ActivationRequest, *, consume: bool = True) -> ActivationOutcome:
        """Check the licence, the token and the binding rules, then bind (§4, §6). Atomic.

        ``consume=False`` leaves the token unused (the token-consume-race fault consumes it later, apart).
        """
        with self._lock:
            outcome, dev_id, home = self._activate_locked(uuid, req, consume=consume)
            now = self.clock.time()
            if outcome.result is not None:
                summary = AttemptSummary(at=now, outcome="activated", error_code=None, error_msg=None,
                                         dev_id=dev_id, home=home)
            else:
                summary = AttemptSummary(at=now, outcome="refused",
                                         error_code=None if outcome.error is None else outcome.error.value,
                                         error_msg=outcome.message, dev_id=dev_id, home=home)
            self._record_attempt(req.token, summary)
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
        faults = self.faults
        now = self.clock.time()
        lic = self.licences.get(uuid)
        if lic is None:
            return _refused(CloudError.LICENSE_NOT_EXISTS, f"licence {uuid} was never issued"), None, None
        if lic.revoked and CloudFault.REVOKED_LICENCE_ACCEPTED not in faults:
            return _refused(CloudError.LICENSE_REVOKED, f"licence {uuid} is revoked"), lic.dev_id, None
        product = self.products[lic.pid]
        if (lic.pid not in (req.product_key, req.product_key_str) and CloudFault.LICENCE_UNCHECKED not in faults
                and CloudFault.LICENCE_PRODUCT_UNCHECKED not in faults):
            return _refused(CloudError.FIRMWARE_NOT_MATCH,
                            f"productKey {req.product_key} is not the licence's product"), lic.dev_id, None
        if (lic.hid is not None and req.hid is not None and req.hid != lic.hid
                and CloudFault.LICENCE_SHARED not in faults):
            return _refused(CloudError.LICENSE_IN_USE,
                            "the licence is in use by another device (hardware id differs)"), lic.dev_id, None
        record = self.tokens.get(req.token)
        served_stale = False
        if record is None and CloudFault.TOKEN_LOOKUP_FAILS_OPEN in faults and self.tokens:
            newest = self.tokens[next(reversed(self.tokens))]  # the fault: a miss is served the newest entry
            record, served_stale = dataclasses.replace(newest, issued_at=now, consumed_at=None), True
        checked = record
        if record is not None:
            if CloudFault.TOKEN_NEVER_EXPIRES in faults:
                checked = dataclasses.replace(record, ttl_s=math.inf)
            if CloudFault.TOKEN_REUSABLE in faults:
                checked = dataclasses.replace(checked or record, consumed_at=None)
            if (CloudFault.TOKEN_REUSABLE_BY_SAME_DEVICE in faults and record.consumed_at is not None
                    and self._consumed_by(record.token, lic.dev_id)):
                checked = dataclasses.replace(checked or record, consumed_at=None)  # "a retry of its activation"
        verdict = check_token(checked, now=now, region=self.region)
        if not verdict.ok:
            return _refused(verdict.error or CloudError.EXPIRE, verdict.reason), lic.dev_id, None
        if record is None:
            raise HarnessError("broken invariant: record is not None")
        home = self.homes.get(record.home)
        role = None if home is None else home.role_of(record.account)
        if home is None or role is None:
            return _refused(CloudError.EXPIRE, "the token's home or membership no longer exists"), lic.dev_id, None
        target = home
        if CloudFault.TOKEN_NOT_BOUND_TO_HOME in faults:
            others = [h for h in self.homes_of(record.account) if h.home_id != home.home_id]
            target = others[0] if others else home
            role = target.role_of(record.account) or role
        dev = self.devices.get(lic.dev_id) if lic.dev_id else None
        current = self._binding_of(dev)
        claim = Claim(account=record.account, role=role, home=target.home_id, home_owner=target.owner)
        decision = decide_binding(current, product.binding_mode, claim,
                                  data_wipe_pending=bool(dev and dev.data_wipe_pending))
        if decision.error is CloudError.GUEST_NOT_SUPPORT_STRONG_BIND and CloudFault.GUEST_MAY_BIND_STRONG in faults:
            decision = decide_binding(current, product.binding_mode, dataclasses.replace(claim, role=Role.ADMIN),
                                      data_wipe_pending=bool(dev and dev.data_wipe_pending))
        if (decision.allowed and product.binding_mode is BindingMode.STRONG
                and CloudFault.STRONG_REFUSES_OWNER_MOVE in faults
                and relation_of(current, claim) is Relation.SAME_OWNER):
            decision = dataclasses.replace(decision, allowed=False, error=CloudError.DEVICE_ALREADY_BIND,
                                           rule="strong-bound-to-its-home")
        if (not decision.allowed and decision.error is CloudError.DEVICE_ALREADY_BIND
                and CloudFault.STRONG_ALLOWS_REBIND in faults):
            decision = dataclasses.replace(decision, allowed=True, error=None, reset_factory=True)
        if (decision.allowed and CloudFault.REMOVED_DEVICE_STAYS_INDEXED in faults and dev is not None
                and target.home_id in self._removed_from(dev)):
            decision = dataclasses.replace(decision, allowed=False, error=CloudError.DEVICE_ALREADY_BIND,
                                           rule="still-in-the-homes-index")
        if not decision.allowed:
            error = decision.error or CloudError.DEVICE_ALREADY_BIND
            return _refused(error, f"binding refused ({decision.rule})"), lic.dev_id, None
        notify = decision.notify_previous_home_admins
        if product.binding_mode is BindingMode.MEDIUM and CloudFault.MEDIUM_NO_NOTIFY in faults:
            notify = False
        if (product.binding_mode is BindingMode.WEAK and CloudFault.WEAK_NOTIFIES in faults
                and current is not None and current.home != target.home_id):
            notify = True
        if CloudFault.OWNER_MOVE_NOTIFIES in faults and relation_of(current, claim) is Relation.SAME_OWNER:
            notify = True  # the fault: the owner left one of their homes for another, "bound by another account"
        # Apply: consume the token, bind, issue keys, notify.
        if CloudFault.TOKEN_REUSABLE not in faults and consume and not served_stale:
            record = dataclasses.replace(record, consumed_at=now)
            self.tokens[record.token] = record
            self._save(("token", record.token, _jsonable(record)))
        previous_home = dev.home if dev else None
        if dev is None:
            dev_id = lic.dev_id or self._new_dev_id()
            dev = Device(dev_id=dev_id, uuid=uuid, pid=lic.pid, sec_key="", local_key="")
            self.devices[dev_id] = dev
        lic.dev_id = dev.dev_id
        if lic.hid is None or CloudFault.LICENCE_SHARED in faults:
            lic.hid = req.hid if req.hid is not None else lic.hid
        dev.sec_key, dev.local_key = random_text(16), random_text(16)
        # Every key the cloud makes is a secret no report, log or evidence file may show (DESIGN "Evidence").
        for secret in (dev.sec_key, dev.local_key, device_credentials(dev.dev_id, dev.sec_key).password):
            redaction.learn(secret)
        dev.home, dev.account, dev.hid = target.home_id, record.account, req.hid or dev.hid
        dev.activated_at = now
        if decision.reset_factory:
            dev.dps = {}
        dev.data_wipe_pending = False
        dev.history.append(ActivationEvent(at=now, event="activated", home=target.home_id, account=record.account,
                                           hid=req.hid, reset_factory=decision.reset_factory))
        changes: list[Change] = [("licence", uuid, lic.to_dict()), ("device", dev.dev_id, dev.to_dict())]
        if notify and previous_home is not None and previous_home in self.homes:
            changes += self._notify_admins(self.homes[previous_home], dev.dev_id, now)
        self._save(*changes)
        self.link.device_activated(dev.dev_id, dev.sec_key, dev.local_key)
        tz = REGION_TIME_ZONES.get(self.region, "+00:00")
        result = ActivationResult(dev_id=dev.dev_id, sec_key=dev.sec_key, local_key=dev.local_key,
                                  schema_id=product.schema_id, schema=product.schema_json(),
                                  reset_factory=decision.reset_factory, time_zone=tz, std_time_zone=tz,
                                  dst_intervals=[])
        return ActivationOutcome(result=result), dev.dev_id, target.home_id

    def _binding_of(self, dev: Device | None) -> Binding | None:
        """The model's view of a device's binding: the owner of the home it is bound to, and that home."""
        if dev is None or dev.home is None:
            return None
        home = self.homes.get(dev.home)
        return None if home is None else Binding(account=home.owner, home=home.home_id)

    @staticmethod
    def _removed_from(dev: Device) -> set[str]:
        """The homes the app removed ``dev`` from (the removed-device-stays-indexed fault's stale index entries);
        a device-side reset is not a removal and leaves no entry."""
        return {e.home for e in dev.history if e.event in ("removed", "removed+wiped") and e.home is not None}

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
        with self._lock:
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
            if (not wipe and CloudFault.STRONG_REMOVE_KEEPS_BINDING in self.faults
                    and self.products[dev.pid].binding_mode is BindingMode.STRONG):
                return dev  # the fault: the device was told, the strong binding is kept
            self._unbind(dev, event="removed+wiped" if wipe else "removed", wipe=wipe)
            if wipe:
                dev.data_wipe_pending = True
                self._save(("device", dev_id, dev.to_dict()))
            return dev

    def _unbind(self, dev: Device, *, event: str, wipe: bool) -> None:
        now = self.clock.time()
        dev.history.append(ActivationEvent(at=now, event=event, home=dev.home, account=dev.account, hid=dev.hid))
        dev.home = dev.account = None
        if wipe:
            dev.dps = {}
        self._save(("device", dev.dev_id, dev.to_dict()))
        self.link.device_removed(dev.dev_id)

    def set_online(self, dev_id: str, online: bool) -> None:
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is not None:
                dev.online = online and dev.bound
                dev.last_seen = self.clock.time()

    def record_dps(self, dev_id: str, dps: dict[str, Any]) -> None:
        """A protocol-4 DP report from the device (§5)."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is not None and dev.bound:
                dev.dps.update({str(k): v for k, v in dps.items()})
                dev.last_seen = self.clock.time()
                self._save(("device", dev_id, dev.to_dict()))

    def send_dps(self, dev_id: str, dps: dict[str, Any]) -> bool:
        """Send a protocol-5 DP command (§5); True when it went to the broker."""
        with self._lock:
            dev = self.devices.get(dev_id)
            if dev is None or not dev.bound:
                raise CloudInputError("DEVICE_NOT_EXISTS", f"no bound device {dev_id!r}", status=404)
            if not dev.online:
                return False
            return self.link.send(dev_id, dev.local_key, 5, {"dps": dps})

    def notifications_of(self, account_id: str) -> list[Notification]:
        with self._lock:
            return list(self.notifications.get(account_id, ()))


__all__ = ["REGION_TIME_ZONES", "ActivationOutcome", "CloudState", "DeviceLink", "NullLink", "random_text"]
