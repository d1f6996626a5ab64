"""Who may log in to the emulated cloud's MQTT broker and which topics each login reaches (PROTOCOL.md §5, §8).

The cloud updates one :class:`CredentialAuthority` as licences are issued, devices activate and devices are
removed; both brokers (:mod:`harness.emulator.broker.embedded`) consult it. Only derived MQTT passwords are kept, and
no secret ever appears in a log line or a ``repr``.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal, Protocol

from harness.protocol import mqtt

log = logging.getLogger(__name__)

IdentityKind = Literal["device", "preactivation", "cloud"]
ConnectionCallback = Callable[[str, "BrokerIdentity | None"], None]

PREACTIVATION_PREFIX = "acon_"
# §5: the pre-activation username is ``acon_<uuid>`` (CK) or ``acon_<uuid>|pv=2.3`` (TO, AK).
_PV_SUFFIX = re.compile(r"\|pv=\d+\.\d+")
_WILDCARDS = ("+", "#")


@dataclass(frozen=True)
class BrokerIdentity:
    """Who an authenticated MQTT connection is: a device (devId), a pre-activation licence (uuid) or the cloud.

    ``pv`` is the ``|pv=`` suffix of a pre-activation login (``"2.3"`` for TO's ``acon_<uuid>|pv=2.3``, None for
    CK's bare ``acon_<uuid>``): the protocol-46 push must use that envelope version (§11.9.1).
    """

    kind: IdentityKind
    id: str
    pv: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("device", "preactivation", "cloud"):
            raise ValueError(f"unknown identity kind {self.kind!r}")
        if not self.id:
            raise ValueError("an identity needs a non-empty id")


@dataclass(frozen=True)
class AclRule:
    """What one username may do, in Mosquitto's terms: ``read`` covers subscribe and receive."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthoritySnapshot:
    """A consistent copy of the authority, for brokers driven by files (Mosquitto).

    ``passwords`` maps each username to its MQTT password (kept out of ``repr``); ``acl`` maps the same
    usernames to their rules, ``identities`` to who logs in under them. With ``enforce_acl`` false every
    user may read and write every topic.
    """

    passwords: dict[str, str] = field(repr=False)
    acl: dict[str, AclRule]
    identities: dict[str, BrokerIdentity]
    enforce_acl: bool


def device_subscribe_topics(dev_id: str) -> tuple[str, ...]:
    """§5: a device subscribes to its command topic and its RPC answers, nothing else."""
    return (mqtt.topic_in(dev_id), mqtt.rpc_rsp(dev_id), mqtt.rpc_file(dev_id))


def device_publish_topics(dev_id: str) -> tuple[str, ...]:
    """§5: a device publishes its reports and its RPC requests, nothing else."""
    return (mqtt.topic_out(dev_id), mqtt.rpc_req(dev_id))


class BrokerPolicy:
    """The authority's decisions a faulty cloud may bend: small hook methods, conformant here (§5).

    The emulated cloud's ``CloudBehaviour`` is one; a fault subclass overrides a hook (DESIGN.md "Faults").
    """

    def enforces_acl(self) -> bool:
        """Whether topics are checked against the §5 ACL (logins are checked either way)."""
        return True

    def admits_device(self, password: str, expected: str, registered: Collection[str]) -> bool:
        """Whether a device login whose client id and username name a registered device may log in with
        ``password``: §5, only with that device's own password ``expected``. ``registered`` holds every
        registered device's password."""
        return same_secret(password, expected)

    def device_may_subscribe(self, dev_id: str, topic_filter: str) -> bool:
        """§5: a device's filter names one of its own topics exactly (no wildcards)."""
        return not any(w in topic_filter for w in _WILDCARDS) and topic_filter in device_subscribe_topics(dev_id)

    def device_may_publish(self, dev_id: str, topic: str) -> bool:
        """§5: a device writes only its own report and RPC topics."""
        return topic in device_publish_topics(dev_id)

    def unsupported_by(self, broker_kind: str) -> str | None:
        """Why a broker of this kind (``amqtt``, ``mosquitto``) cannot follow this policy, or None when it can."""
        return None


class CredentialAuthority:
    """Who may log in to the broker and which topics each login reaches. Thread-safe.

    Only derived MQTT passwords are kept (md5(secKey)[8:24], md5(authKey)[8:24]), never the keys. The decisions
    a fault may bend are asked of ``policy`` (:class:`BrokerPolicy`). Only the embedded broker asks
    :meth:`authenticate`; Mosquitto reads the :meth:`snapshot` (its password file cannot express a policy's
    :meth:`~BrokerPolicy.admits_device`).
    """

    def __init__(self, *, policy: BrokerPolicy | None = None) -> None:
        self._lock = threading.RLock()
        #: called before each login is decided: a cloud of several processes learns the credentials the others
        #: issued (``paircert cloud serve --workers``); None: everything is set here already
        self.refresh: Callable[[], None] | None = None
        self._devices: dict[str, str] = {}
        self._preactivation: dict[str, str] = {}
        self._cloud: dict[str, str] = {}
        self._policy = policy if policy is not None else BrokerPolicy()
        self._listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"CredentialAuthority(devices={len(self._devices)}, preactivation={len(self._preactivation)}, "
                f"cloud={len(self._cloud)}, enforce_acl={self.enforce_acl})"
            )

    # -- updates (the cloud calls these) ---------------------------------------------------------------

    def set_device(self, dev_id: str, sec_key: str) -> None:
        """Let an activated device log in (§5: clientId = username = devId, password md5(secKey)[8:24])."""
        password = mqtt.device_credentials(dev_id, sec_key).password
        with self._lock:
            self._devices[dev_id] = password
        self._changed()

    def remove_device(self, dev_id: str) -> None:
        """Refuse the device's next login; a connection it already has loses its topics too."""
        with self._lock:
            removed = self._devices.pop(dev_id, None) is not None
        if removed:
            self._changed()

    def set_preactivation(self, uuid: str, auth_key: str) -> None:
        """Let a licence log in before activation (§5: ``acon_<uuid>``, password md5(authKey)[8:24])."""
        password = mqtt.preactivation_credentials(uuid, auth_key).password
        with self._lock:
            self._preactivation[uuid] = password
        self._changed()

    def remove_preactivation(self, uuid: str) -> None:
        with self._lock:
            removed = self._preactivation.pop(uuid, None) is not None
        if removed:
            self._changed()

    def set_cloud(self, username: str, password: str) -> None:
        """Register a privileged cloud login: it may subscribe and publish anywhere."""
        if not username or username.startswith(PREACTIVATION_PREFIX) or any(c in username for c in " \t\n:#"):
            raise ValueError(f"a cloud username must be non-empty, without whitespace, ':' or '#', and not start "
                             f"with {PREACTIVATION_PREFIX!r}")
        with self._lock:
            self._cloud[username] = password
        self._changed()

    @property
    def policy(self) -> BrokerPolicy:
        with self._lock:
            return self._policy

    def set_policy(self, policy: BrokerPolicy) -> None:
        """Decide by ``policy`` from now on (a cloud whose faults were switched at run time)."""
        with self._lock:
            self._policy = policy
        self._changed()

    @property
    def enforce_acl(self) -> bool:
        """Whether the policy checks topics (§5 ACL)."""
        return self.policy.enforces_acl()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from the updating thread) after every change."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("credential authority listener failed")

    # -- decisions (the brokers call these) ------------------------------------------------------------

    def authenticate(self, client_id: str, username: str | None, password: str | None) -> BrokerIdentity | None:
        """The identity behind a CONNECT, or None when the broker must answer "not authorised"."""
        if username is None or password is None:
            return None
        if self.refresh is not None:
            self.refresh()
        with self._lock:
            cloud_password = self._cloud.get(username)
            if cloud_password is not None:
                return BrokerIdentity("cloud", username) if same_secret(password, cloud_password) else None
            if username.startswith(PREACTIVATION_PREFIX):
                return self._authenticate_preactivation(client_id, username, password)
            expected = self._devices.get(username)
            if (expected is not None and client_id == username
                    and self._policy.admits_device(password, expected, self._devices.values())):
                return BrokerIdentity("device", username)
        return None

    def _authenticate_preactivation(self, client_id: str, username: str, password: str) -> BrokerIdentity | None:
        base, bar, suffix = username.partition("|")
        if bar and not _PV_SUFFIX.fullmatch(bar + suffix):
            return None
        uuid = base.removeprefix(PREACTIVATION_PREFIX)
        expected = self._preactivation.get(uuid)
        if expected is None or client_id != base or not same_secret(password, expected):
            return None
        return BrokerIdentity("preactivation", uuid, pv=suffix.removeprefix("pv=") if bar else None)

    def is_current(self, identity: BrokerIdentity) -> bool:
        """True while the identity's credentials are still registered."""
        with self._lock:
            match identity.kind:
                case "device":
                    return identity.id in self._devices
                case "preactivation":
                    return identity.id in self._preactivation
                case _:
                    return identity.id in self._cloud

    def may_subscribe(self, identity: BrokerIdentity | None, topic_filter: str) -> bool:
        """§5 ACL for SUBSCRIBE. A device's filter must name one of its own topics exactly (no wildcards)."""
        if not self.enforce_acl:
            return True
        if identity is None or not self.is_current(identity):
            return False
        if identity.kind == "cloud":
            return True
        if identity.kind == "device":
            return self._policy.device_may_subscribe(identity.id, topic_filter)
        if any(w in topic_filter for w in _WILDCARDS):
            return False
        return topic_filter == mqtt.preactivation_topic(identity.id)

    def may_publish(self, identity: BrokerIdentity | None, topic: str) -> bool:
        """§5 ACL for PUBLISH: a device writes only its own report and RPC topics; pre-activation never."""
        if not self.enforce_acl:
            return True
        if identity is None or not self.is_current(identity):
            return False
        if identity.kind == "cloud":
            return True
        if identity.kind == "device":
            return self._policy.device_may_publish(identity.id, topic)
        return False

    def snapshot(self) -> AuthoritySnapshot:
        """Users, passwords and ACL rules, for Mosquitto's password and ACL files."""
        with self._lock:
            passwords: dict[str, str] = {}
            acl: dict[str, AclRule] = {}
            identities: dict[str, BrokerIdentity] = {}
            for dev_id, password in self._devices.items():
                passwords[dev_id] = password
                acl[dev_id] = AclRule(read=device_subscribe_topics(dev_id), write=device_publish_topics(dev_id))
                identities[dev_id] = BrokerIdentity("device", dev_id)
            for uuid, password in self._preactivation.items():
                rule = AclRule(read=(mqtt.preactivation_topic(uuid),))
                for pv in (None, "2.3"):
                    username = f"{PREACTIVATION_PREFIX}{uuid}" + ("" if pv is None else f"|pv={pv}")
                    passwords[username] = password
                    acl[username] = rule
                    identities[username] = BrokerIdentity("preactivation", uuid, pv=pv)
            for username, password in self._cloud.items():
                passwords[username] = password
                acl[username] = AclRule(read=("#",), write=("#",))
                identities[username] = BrokerIdentity("cloud", username)
            return AuthoritySnapshot(passwords=passwords, acl=acl, identities=identities,
                                     enforce_acl=self._policy.enforces_acl())


def same_secret(given: str, expected: str) -> bool:
    """``given == expected`` in constant time (``given`` may hold any code point a client sent)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


class MqttBroker(Protocol):
    """What the cloud needs of a broker, whichever one runs."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def disconnect(self, client_id: str) -> bool: ...

    def connected_clients(self) -> set[str]: ...

    def identity_of(self, client_id: str) -> BrokerIdentity | None: ...
