"""Binding by UUID (PROTOCOL.md §11.6): the app names a device it sees waiting, the cloud pushes it a token.

A device without a token from QR, EZ, AP or BLE (the SDKs' default token source, and TuyaOpen's only one on
Linux) logs in to MQTT as ``acon_<uuid>`` and waits on ``d/ai/<uuid>`` while it shows a QR code holding its
UUID. The app scans it and asks the cloud to bind that UUID into a home
(``POST /app/v1/homes/{home}/devices/bind {"uuid": ...}``): the cloud issues a pairing token for the home, as
for any other pairing, and pushes it to the device as protocol 46, ``{"token","region","env"}`` sealed with
authKey[:16] in the envelope version of the device's login (2.3 with ``|pv=2.3``, 2.2 without, §11.9.1). The
device then activates with it (§4), and everything after is the ordinary flow: the token's lifetime and single
use, the binding rules, the activator's outcome from the token's attempts.

Emulator-defined (the real cloud's behaviour is not established):

- the bind call is refused before any push when the UUID is unknown or revoked (``UUID_NOT_EXISTS``), when the
  binding rules already refuse the caller (``DEVICE_ALREADY_BIND`` for a strong device bound to another
  account, ``GUEST_NOT_SUPPORT_STRONG_BIND``; the app shows 3711 and 3712), and when no ``acon_<uuid>`` login is
  connected (``DEVICE_OFFLINE``); the app API answers 404 or 409 with the code, never a 500;
- ``env`` in the push is the token's 4-character secret: TuyaOpen passes it on unchanged as the next
  url_config's ``env`` (§11.9.1), so region, token and secret reach the device as the 14-character token would.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.model.binding import Binding, Claim, decide_binding
from harness.model.errors import BindError, CloudError
from harness.protocol import mqtt as mq

from .records import CloudInputError, Home, LicenceRecord

if TYPE_CHECKING:
    from .state import CloudState

log = logging.getLogger(__name__)

MAX_UUID_LEN = 64


class PushLink(Protocol):
    """What binding by UUID needs of the MQTT side (:class:`~.link.BrokerLink` is one)."""

    def preactivation_login(self, uuid: str) -> Any: ...

    def push_active_token(self, uuid: str, auth_key: str, data: dict[str, Any], pv: mq.ProtocolVersion) -> bool: ...


@dataclass(frozen=True)
class BindGrant:
    """What the app gets for a bind by UUID: the token it pushed (all three parts), for whom and how."""

    uuid: str
    token: str
    region: str
    secret: str
    home: str
    expire_time: float
    pv: str

    @property
    def pairing_token(self) -> str:
        return f"{self.region}{self.token}{self.secret}"

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "token": self.token, "region": self.region, "secret": self.secret,
                "pairingToken": self.pairing_token, "home": self.home, "expireTime": self.expire_time,
                "pv": self.pv}


class UuidBindSteps:
    """The hooks of a bind by UUID, part of :class:`~harness.emulator.cloud.behaviour.CloudBehaviour`: the
    conformant answers, which a fault subclass overrides (:mod:`harness.emulator.cloud.faults`)."""

    def bind_checks_device(self) -> bool:
        """Whether the UUID must be a known licence whose device is connected and waiting (yes)."""
        return True

    def bind_checks_binding_rules(self) -> bool:
        """Whether the binding rules (§6) are applied before any token is pushed (yes)."""
        return True

    def bind_token_lifetime(self, ttl_s: float) -> float:
        """The lifetime of the token a bind issues: the cloud's token lifetime, as for any token (§0)."""
        return ttl_s

    def active_token_push_pv(self, login_pv: str | None) -> mq.ProtocolVersion:
        """The envelope of the protocol-46 push: the acon login's (§11.9.1)."""
        return mq.active_token_pv(login_pv)


def _check_uuid(uuid: Any) -> str:
    if not isinstance(uuid, str) or not 0 < len(uuid) <= MAX_UUID_LEN or any(c in uuid for c in "/+#\x00 "):
        raise CloudInputError("ILLEGAL_PARAM", f"uuid must be a device UUID of 1 to {MAX_UUID_LEN} characters")
    return uuid


class UuidBinder:
    """Binds a waiting device into a home by its UUID, on one cloud's state and MQTT link."""

    def __init__(self, state: CloudState, link: PushLink | None) -> None:
        self.state = state
        self.link = link

    def bind(self, caller: str, home_id: str, uuid: Any) -> BindGrant:
        """Issue a token for ``home_id`` and push it to the device ``uuid``; CloudInputError when refused."""
        uuid = _check_uuid(uuid)
        steps: UuidBindSteps = self.state.behaviour
        anyone = not steps.bind_checks_device()
        with self.state.lock:
            home = self.state.require_home(home_id)
            role = home.role_of(caller)
            if role is None:
                raise CloudInputError("PERMISSION_DENIED", f"{caller} is not a member of home {home_id}", status=403)
            lic = self.state.licences.get(uuid)
            if (lic is None or lic.revoked) and not anyone:
                raise CloudInputError(BindError.UUID_NOT_EXISTS.value, f"no device with UUID {uuid}", status=404)
            if lic is not None and steps.bind_checks_binding_rules():
                self._check_binding(lic, home, Claim(account=caller, role=role, home=home.home_id,
                                                     home_owner=home.owner))
        login = self.link.preactivation_login(uuid) if self.link is not None else None
        if login is None and not anyone:
            raise CloudInputError(BindError.DEVICE_OFFLINE.value, self._offline_reason(uuid, lic), status=409)
        pv = steps.active_token_push_pv(getattr(login, "pv", None))
        grant = self._issue(caller, home_id, uuid, pv)
        data = {"token": grant.token, "region": grant.region, "env": grant.secret}
        link = self.link
        if lic is not None and login is not None and link is not None \
                and not link.push_active_token(uuid, lic.auth_key, data, pv):
            raise CloudInputError("PUSH_FAILED", "the cloud could not publish the token to the device", status=503)
        log.info("bind by UUID: pushed a token for home %s to %s (pv %s)", home_id, uuid, pv)
        return grant

    def _check_binding(self, lic: LicenceRecord, home: Home, claim: Claim) -> None:
        """§6 up front: a claim the binding rules refuse is refused before any token is pushed (3711, 3712)."""
        product = self.state.products[lic.pid]
        dev = self.state.devices.get(lic.dev_id) if lic.dev_id else None
        current = None
        if dev is not None and dev.home is not None and dev.home in self.state.homes:
            current = Binding(account=self.state.homes[dev.home].owner, home=dev.home)
        decision = decide_binding(current, product.binding_mode, claim,
                                  data_wipe_pending=bool(dev and dev.data_wipe_pending))
        if not decision.allowed:
            error = decision.error or CloudError.DEVICE_ALREADY_BIND
            raise CloudInputError(error.value, f"binding refused ({decision.rule})", status=409)

    def _offline_reason(self, uuid: str, lic: LicenceRecord | None) -> str:
        with self.state.lock:
            dev = self.state.devices.get(lic.dev_id) if lic is not None and lic.dev_id else None
            if dev is not None and dev.bound:
                return (f"device {uuid} is activated as {dev.dev_id} and not waiting to be bound "
                        f"(it waits on {mq.TopicKind.PREACTIVATION.value}/<uuid> only before activation)")
        return f"device {uuid} is not connected: no acon_{uuid} login waits on d/ai/{uuid}"

    def _issue(self, caller: str, home_id: str, uuid: str, pv: str) -> BindGrant:
        token = self.state.create_token(home_id, caller)
        with self.state.lock:
            record = self.state.tokens[token.token]
            ttl_s = self.state.behaviour.bind_token_lifetime(record.ttl_s)
            if ttl_s != record.ttl_s:
                record = dataclasses.replace(record, ttl_s=ttl_s)
                self.state.tokens[token.token] = record
        return BindGrant(uuid=uuid, token=token.token, region=token.region, secret=token.secret, home=home_id,
                         expire_time=record.issued_at + record.ttl_s, pv=pv)


__all__ = ["BindGrant", "PushLink", "UuidBindSteps", "UuidBinder"]
