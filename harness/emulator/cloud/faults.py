"""Named deviations of the emulated cloud: the cloud half of the fault zoo (DESIGN.md "Faults").

Each fault is a real change of behaviour, made by overriding some of the small hook methods of
:class:`~harness.emulator.cloud.behaviour.CloudBehaviour`: the activation steps
(:mod:`harness.emulator.cloud.activation`: ``check_revocation``, ``token_as_checked``, ``binding_decision``,
``notifies_previous_home``, ...), the state's (``new_token_id``, ``removal_releases_binding``, ...), ATOP's
(``served_apis``, ``find_licence_key``, ``open_activation_body``, ``run_activation``, ...) and the broker's
(``enforces_acl``, ``admits_device``). A fault is therefore just a subclass, and several combine by multiple
inheritance. :data:`CLOUD_FAULTS` lists every registered one with what it breaks; :func:`behaviour_class` builds the
behaviour for a list of fault names, ``package.module:Class`` specs or classes, and ``EmulatedCloud(faults=...)``
(``--fault`` of ``paircert cloud serve``, ``PUT /app/v1/lab/faults`` for registered names) runs it.

Adding a fault from outside the package takes a subclass, and (optionally) registering it by name::

    from harness.emulator.cloud.behaviour import CloudBehaviour
    from harness.emulator.cloud.faults import register_cloud_fault

    @register_cloud_fault("lab-tokens-never-used-up", "a used pairing token activates again",
                          requirement="PROTOCOL.md §0: a token is single-use")
    class TokensNeverUsedUp(CloudBehaviour):
        def find_token(self, a):
            a.consume = False
            return super().find_token(a)

        def token_as_checked(self, a):
            checked = super().token_as_checked(a)
            return None if checked is None else dataclasses.replace(checked, consumed_at=None)

    def token_retired_at(self, record: TokenRecord) -> float:
        return record.expires_at  # its use does not retire it

    cloud = EmulatedCloud(faults=["lab-tokens-never-used-up", "broker-no-acl"])  # or faults=[TokensNeverUsedUp]
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import secrets
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from aiohttp import web

from harness.clock import holding
from harness.emulator.broker.authority import device_subscribe_topics, same_secret
from harness.emulator.fault_registry import FaultEntry, FaultRegistry
from harness.model.binding import BindingDecision, BindingMode, Relation, Role, decide_binding, relation_of
from harness.model.errors import CloudError
from harness.model.token import TokenRecord
from harness.protocol import mqtt as mq
from harness.protocol.atop import API_OPENSDK_ACTIVE, ActivationRequest, AtopQuery
from harness.protocol.errors import ProtocolError

from .activation import Activation, ActivationOutcome, model_decision
from .behaviour import CloudBehaviour
from .licence_faults import LICENCE_LIFE_FAULTS
from .records import ALNUM, Device, Product
from .token_faults import TOKEN_TIME_FAULTS

if TYPE_CHECKING:
    from .atop import AtopService
    from .state import CloudState

#: A catalogue entry: the fault's name, what the cloud does wrong, the requirement it breaks, and its class.
CloudFault: TypeAlias = FaultEntry[CloudBehaviour]

REGISTRY: FaultRegistry[CloudBehaviour] = FaultRegistry("cloud", CloudBehaviour, composed_name="FaultyCloud")
#: Every registered cloud fault by name: the built-in ones, and those registered from outside the package.
CLOUD_FAULTS: dict[str, CloudFault] = REGISTRY.entries

B = TypeVar("B", bound=type[CloudBehaviour])


def register_cloud_fault(name: str, description: str, *, requirement: str) -> Callable[[B], B]:
    """Class decorator: list a fault subclass of :class:`CloudBehaviour` in :data:`CLOUD_FAULTS` under ``name``."""
    return REGISTRY.register(name, description, requirement=requirement)


def behaviour_class(faults: Iterable[str | type[CloudBehaviour]] = (), *,
                    search_path: Sequence[Path] = ()) -> type[CloudBehaviour]:
    """The behaviour that makes every one of ``faults``: registered names, ``package.module:Class`` specs
    (imported from the Python path, else from ``search_path``) or classes; ValueError for an unknown name."""
    return REGISTRY.compose(faults, search_path=search_path)


_fault = register_cloud_fault


# ------------------------------------------------------------------------------------------------- tokens


@_fault("token-never-expires", "the token lifetime is ignored: a token issued hours ago still activates",
        requirement="PROTOCOL.md §0 step 6: a pairing token lives 10 minutes")
class TokenNeverExpires(CloudBehaviour):
    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        checked = super().token_as_checked(a)
        return None if checked is None else dataclasses.replace(checked, ttl_s=math.inf)

    def token_retired_at(self, record: TokenRecord) -> float:
        return record.consumed_at if record.consumed_at is not None else math.inf


@_fault("token-reusable", "a successful activation does not consume its token: a second device can use it",
        requirement="PROTOCOL.md §0: a pairing token is single-use")
class TokenReusable(CloudBehaviour):
    def find_token(self, a: Activation) -> ActivationOutcome | None:
        a.consume = False
        return super().find_token(a)

    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        checked = super().token_as_checked(a)
        return None if checked is None else dataclasses.replace(checked, consumed_at=None)


def _consumed_by(state: CloudState, token: str, dev_id: str | None) -> bool:
    """Whether the token's successful activation was the device ``dev_id``'s."""
    return dev_id is not None and any(a.outcome == "activated" and a.dev_id == dev_id
                                      for a in state.attempts.get(token, ()))


@_fault("token-reusable-by-same-device", "a retry shortcut: a consumed token is accepted again when the licence's "
        "own device (the devId it activated) presents it", requirement="PROTOCOL.md §0: a pairing token is single-use")
class TokenReusableBySameDevice(CloudBehaviour):
    """A device removed from the app re-pairs with the token it already used."""

    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        checked = super().token_as_checked(a)
        stored = a.token
        if (checked is not None and stored is not None and stored.consumed_at is not None
                and _consumed_by(a.state, stored.token, a.found_licence.dev_id)):
            return dataclasses.replace(checked, consumed_at=None)  # "a retry of its activation"
        return checked

    def token_retired_at(self, record: TokenRecord) -> float:
        return record.expires_at  # its own device may use it again until it expires


@_fault("refused-activation-consumes-token", "an activation refused after its token was found (a binding "
        "refusal) marks the token used: the refused device spends the token its owner meant for another",
        requirement="PROTOCOL.md §0: a token is invalidated upon successful pairing, and only then")
class RefusedActivationConsumesToken(CloudBehaviour):
    def decide_activation(self, a: Activation) -> ActivationOutcome | None:
        refusal = super().decide_activation(a)
        if refusal is not None and a.token is not None and a.token.consumed_at is None:
            a.state.tokens[a.token.token] = a.token.consume(a.now)  # the state's lock is held by the caller
        return refusal


@_fault("newer-token-revokes-older", "issuing a pairing token for a home silently invalidates the home's earlier "
        "outstanding tokens: two phones adding devices to one home at once spoil each other's QR codes",
        requirement="PROTOCOL.md §0: a token lives its lifetime until it pairs a device")
class NewerTokenRevokesOlder(CloudBehaviour):
    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        checked = super().token_as_checked(a)
        if checked is None or checked.consumed_at is not None:
            return checked
        issued = list(a.state.tokens.values())  # in the order they were issued
        later = issued[next((i for i, t in enumerate(issued) if t.token == checked.token), len(issued)) + 1:]
        newer = any(t.home == checked.home for t in later)
        return dataclasses.replace(checked, consumed_at=checked.issued_at) if newer else checked


@_fault("token-not-bound-to-home", "the device is bound to another of the token account's homes (its first one "
        "other than the token's), not the token's home", requirement="PROTOCOL.md §0: a token is bound to one home")
class TokenNotBoundToHome(CloudBehaviour):
    def choose_home(self, a: Activation) -> ActivationOutcome | None:
        home, account = a.found_target, a.found_token.account
        others = [h for h in a.state.homes_of(account) if h.home_id != home.home_id]
        target = others[0] if others else home
        a.target, a.role = target, target.role_of(account) or a.role
        return super().choose_home(a)


@_fault("token-consume-race", "check-then-consume is not atomic: the device record is written first and the token "
        "is marked used only after that slow write, so two racing activations both bind",
        requirement="DESIGN.md: racing activations with one token, exactly one wins")
class TokenConsumeRace(CloudBehaviour):
    """A later, sequential reuse is still refused."""

    #: How long the (emulated) device-record write takes before the token is marked used.
    store_write_s = 0.5

    async def run_activation(self, state: CloudState, uuid: str, req: ActivationRequest) -> ActivationOutcome:
        outcome = state.activate(uuid, req, consume=False)
        if outcome.result is not None:
            with holding(state.clock):  # a slow write in real time: the world's clock waits for it
                await asyncio.sleep(self.store_write_s)
            state.consume_token(req.token)
        return outcome


# Sequential tokens: 8 base-62 digits stepped by about 0.618 of their range (odd, so every id comes round).
TOKEN_ID_SPACE = len(ALNUM) ** 8
SEQUENTIAL_TOKEN_STRIDE = int(TOKEN_ID_SPACE * 0.6180339887) | 1


@_fault("sequential-tokens", "token ids are a counter stepped by a fixed large stride instead of random: unique, "
        "every character varies, but each follows from the previous one",
        requirement="PROTOCOL.md §0, §1.3: the 8-character token is random")
class SequentialTokens(CloudBehaviour):
    def __init__(self) -> None:
        super().__init__()
        self._counter = secrets.randbelow(TOKEN_ID_SPACE)

    def new_token_id(self) -> str:
        self._counter = (self._counter + SEQUENTIAL_TOKEN_STRIDE) % TOKEN_ID_SPACE
        value, digits = self._counter, []
        for _ in range(8):
            value, digit = divmod(value, len(ALNUM))
            digits.append(ALNUM[digit])
        return "".join(reversed(digits))


@_fault("token-lookup-fails-open", "a token this cloud never issued is answered with the newest token it did issue, "
        "as if unused (a cache that serves its last entry on a miss), so a guessed token activates",
        requirement="PROTOCOL.md §0: only a token the cloud issued activates")
class TokenLookupFailsOpen(CloudBehaviour):
    def find_token(self, a: Activation) -> ActivationOutcome | None:
        refusal = super().find_token(a)
        tokens = a.state.tokens
        if a.token is None and tokens:
            newest = tokens[next(reversed(tokens))]  # the fault: a miss is served the newest entry
            a.token, a.consume = dataclasses.replace(newest, issued_at=a.now, consumed_at=None), False
        return refusal


# ----------------------------------------------------------------------------------------------- licences


def licence_opening(atop: AtopService, query: AtopQuery, body: bytes, *, check_sign: bool) -> tuple[str, str] | None:
    """Any issued licence whose AuthKey opens the body into an activation request (a cloned or another
    licence's key): its uuid and key."""
    with atop.state.lock:
        candidates = [(lic.uuid, lic.auth_key) for lic in atop.state.licences.values()]
    for uuid, key in candidates:
        opened = atop.open_body(query, body, key, check_sign=check_sign)
        if isinstance(opened, bytes):
            try:
                ActivationRequest.from_json(opened)
            except ProtocolError:
                continue
            return uuid, key
    return None


@_fault("licence-unchecked", "the licence is not checked: the sign is not verified, the product is not matched, and "
        "an unknown uuid is accepted when the body opens under any AuthKey the cloud issued",
        requirement="PROTOCOL.md §4.2, §8: the licence's sign, product and uuid are checked")
class LicenceUnchecked(CloudBehaviour):
    def checks_sign(self) -> bool:
        return False

    def find_licence_key(self, atop: AtopService, uuid: str, query: AtopQuery, body: bytes) -> tuple[str, str] | None:
        found = super().find_licence_key(atop, uuid, query, body)
        return found if found is not None else licence_opening(atop, query, body, check_sign=self.checks_sign())

    def check_product(self, a: Activation) -> ActivationOutcome | None:
        return None


@_fault("sign-unchecked", "the activation's sign is not verified: a request whose query is signed with any key "
        "activates as long as its body opens under the licence's AuthKey",
        requirement="PROTOCOL.md §4.2: the sign over the query is checked with the licence's AuthKey")
class SignUnchecked(CloudBehaviour):
    def checks_sign(self) -> bool:
        return False


@_fault("unknown-uuid-accepted", "an unknown licence uuid is looked up by its AuthKey instead: a body that opens "
        "under any issued AuthKey activates that licence", requirement="PROTOCOL.md §8: the uuid names the licence")
class UnknownUuidAccepted(CloudBehaviour):
    def find_licence_key(self, atop: AtopService, uuid: str, query: AtopQuery, body: bytes) -> tuple[str, str] | None:
        found = super().find_licence_key(atop, uuid, query, body)
        return found if found is not None else licence_opening(atop, query, body, check_sign=self.checks_sign())


@_fault("authkey-any-issued", "a key-ring fallback: a request whose sign or body fails under the named licence's "
        "AuthKey is tried under every other AuthKey the cloud issued, and accepted for the named licence",
        requirement="PROTOCOL.md §4.2, §8: the request is signed and sealed with its own licence's AuthKey")
class AuthkeyAnyIssued(CloudBehaviour):
    def open_activation_body(self, atop: AtopService, query: AtopQuery, body: bytes,
                             key: str) -> tuple[bytes, str] | web.Response:
        opened = super().open_activation_body(atop, query, body, key)
        if not isinstance(opened, web.Response):
            return opened
        found = licence_opening(atop, query, body, check_sign=True)
        if found is None:
            return opened
        other = found[1]  # another licence's key opened it; it still counts for the named licence
        reopened = atop.open_body(query, body, other, check_sign=True)
        return reopened if isinstance(reopened, web.Response) else (reopened, other)


@_fault("licence-product-unchecked", "the activation's productKey is not matched against the licence's product: "
        "another PID's licence activates", requirement="PROTOCOL.md §8: a licence belongs to one product")
class LicenceProductUnchecked(CloudBehaviour):
    def check_product(self, a: Activation) -> ActivationOutcome | None:
        return None


@_fault("licence-shared", "one licence activates any number of hardware ids",
        requirement="PROTOCOL.md §8: one licence per device")
class LicenceShared(CloudBehaviour):
    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        return None

    def licence_hardware_id(self, a: Activation) -> str | None:
        return a.req.hid if a.req.hid is not None else a.found_licence.hid


@_fault("revoked-licence-accepted", "a revoked licence still activates",
        requirement="PROTOCOL.md §8: a revoked licence activates nothing")
class RevokedLicenceAccepted(CloudBehaviour):
    def check_revocation(self, a: Activation) -> ActivationOutcome | None:
        return None


@_fault("opensdk-activation-unserved", "thing.device.opensdk.active (the TuyaOpen / GCM activation) is not routed: "
        "it answers UNKNOWN_API, so a device presenting a valid licence through it never activates",
        requirement="PROTOCOL.md §4.2: both activation APIs are served")
class OpensdkActivationUnserved(CloudBehaviour):
    def served_apis(self) -> frozenset[tuple[str, str]]:
        return super().served_apis() - {API_OPENSDK_ACTIVE}


@_fault("atop-500-on-malformed-body", "an activation request whose form body cannot be parsed or decoded crashes the "
        "handler: HTTP 500 with a plain-text body instead of an ATOP error",
        requirement="PROTOCOL.md §4.2: every ATOP answer is a well-formed error or success")
class Atop500OnMalformedBody(CloudBehaviour):
    def malformed_body_answer(self, error: ProtocolError) -> web.Response | None:
        # the handler's exception reaches the framework
        return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")


# ------------------------------------------------------------------------------------------------ binding


@_fault("strong-allows-rebind", "a strong-bound device can be re-bound by another account without removal",
        requirement="PROTOCOL.md §6 strong binding")
class StrongAllowsRebind(CloudBehaviour):
    def binding_decision(self, a: Activation) -> BindingDecision:
        decision = super().binding_decision(a)
        if not decision.allowed and decision.error is CloudError.DEVICE_ALREADY_BIND:
            return dataclasses.replace(decision, allowed=True, error=None, reset_factory=True)
        return decision


@_fault("guest-may-bind-strong", "the guest rule is missing: a home member (guest) adds a strong-binding device "
        "like an admin", requirement="PROTOCOL.md §6: a guest cannot add a strong device (3712)")
class GuestMayBindStrong(CloudBehaviour):
    def binding_decision(self, a: Activation) -> BindingDecision:
        decision = super().binding_decision(a)
        if decision.error is CloudError.GUEST_NOT_SUPPORT_STRONG_BIND:
            return model_decision(a, dataclasses.replace(a.found_claim, role=Role.ADMIN))
        return decision


@_fault("strong-refuses-owner-move", "strong binding is checked per home, not per account: its owner cannot move the "
        "device to another of their own homes (DEVICE_ALREADY_BIND)",
        requirement="DESIGN.md: strong binding is about accounts; the owner may move a device between their homes")
class StrongRefusesOwnerMove(CloudBehaviour):
    def binding_decision(self, a: Activation) -> BindingDecision:
        decision = super().binding_decision(a)
        if (decision.allowed and a.found_product.binding_mode is BindingMode.STRONG
                and relation_of(a.current, a.found_claim) is Relation.SAME_OWNER):
            return dataclasses.replace(decision, allowed=False, error=CloudError.DEVICE_ALREADY_BIND,
                                       rule="strong-bound-to-its-home")
        return decision


def _removed_from(dev: Device) -> set[str]:
    """The homes the app removed ``dev`` from (a device-side reset is not a removal and leaves no entry)."""
    return {e.home for e in dev.history if e.event in ("removed", "removed+wiped") and e.home is not None}


@_fault("removed-device-stays-indexed", "a stale home-device index: removal from the app unbinds the device but "
        "leaves it in its home's index, so adding it back to that home is refused (DEVICE_ALREADY_BIND)",
        requirement="PROTOCOL.md §6: a removed device can be added again")
class RemovedDeviceStaysIndexed(CloudBehaviour):
    def binding_decision(self, a: Activation) -> BindingDecision:
        decision = super().binding_decision(a)
        if decision.allowed and a.device is not None and a.found_target.home_id in _removed_from(a.device):
            return dataclasses.replace(decision, allowed=False, error=CloudError.DEVICE_ALREADY_BIND,
                                       rule="still-in-the-homes-index")
        return decision


@_fault("strong-remove-keeps-binding", "a plain \"Remove device\" of a strong-bound device tells the device but keeps "
        "the cloud's binding (only \"remove and wipe\" releases it)",
        requirement="PROTOCOL.md §6: removal releases a strong binding")
class StrongRemoveKeepsBinding(CloudBehaviour):
    def removal_releases_binding(self, product: Product, device: Device, *, wipe: bool) -> bool:
        if not wipe and product.binding_mode is BindingMode.STRONG:
            return False
        return super().removal_releases_binding(product, device, wipe=wipe)


@_fault("wipe-forgotten-on-reactivation", "\"Remove and wipe data\" is not remembered: the device's next "
        "activation does not say resetFactory, so it keeps the data its owner asked to wipe",
        requirement="PROTOCOL.md §6: after remove-and-wipe the next activation resets the device's data")
class WipeForgottenOnReactivation(CloudBehaviour):
    def binding_decision(self, a: Activation) -> BindingDecision:
        return decide_binding(a.current, a.found_product.binding_mode, a.found_claim, data_wipe_pending=False)


@_fault("camera-binding-changeable", "a camera product keeps the binding mode it is created with: medium and weak "
        "cameras can be made", requirement="PROTOCOL.md §6: a camera is always strong-bound")
class CameraBindingChangeable(CloudBehaviour):
    def product_binding_mode(self, category: str, requested: BindingMode | str | None) -> BindingMode:
        if requested is not None:
            return BindingMode(requested)  # the requested mode is stored whatever the category
        return super().product_binding_mode(category, requested)


# ------------------------------------------------------------------------------------------ notifications


@_fault("medium-no-notify", "a medium rebind does not notify the previous home's admins",
        requirement="PROTOCOL.md §6 medium binding")
class MediumNoNotify(CloudBehaviour):
    def notifies_previous_home(self, a: Activation) -> bool:
        if a.found_product.binding_mode is BindingMode.MEDIUM:
            return False
        return super().notifies_previous_home(a)


@_fault("weak-notifies", "a weak rebind notifies the previous home's admins, which weak binding must not",
        requirement="PROTOCOL.md §6 weak binding")
class WeakNotifies(CloudBehaviour):
    def notifies_previous_home(self, a: Activation) -> bool:
        if (a.found_product.binding_mode is BindingMode.WEAK and a.current is not None
                and a.current.home != a.found_target.home_id):
            return True
        return super().notifies_previous_home(a)


@_fault("owner-move-notifies", "the rebind notice is keyed on the home, not the account: an owner moving a device "
        "between their own homes sends the previous home's admins \"bound by another account\"",
        requirement="PROTOCOL.md §6: only a medium rebind by another account notifies")
class OwnerMoveNotifies(CloudBehaviour):
    def notifies_previous_home(self, a: Activation) -> bool:
        if relation_of(a.current, a.found_claim) is Relation.SAME_OWNER:
            return True  # the owner left one of their homes for another, "bound by another account"
        return super().notifies_previous_home(a)


# ------------------------------------------------------------------------------------------------- broker


@_fault("broker-no-acl", "the broker does not enforce topic ACLs: a device may subscribe and publish to others' "
        "topics", requirement="PROTOCOL.md §5: a device reaches only its own topics")
class BrokerNoAcl(CloudBehaviour):
    def enforces_acl(self) -> bool:
        return False


def filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 §4.7: whether ``topic_filter`` (with ``+`` and ``#``) matches ``topic``."""
    parts, levels = topic_filter.split("/"), topic.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(parts) == len(levels)


_EMBEDDED_ONLY = "needs the embedded broker (amqtt): Mosquitto's ACL file is written from the conformant rules"


@_fault("cloud-commands-retained", "the cloud publishes DP commands (protocol 5) retained: every later login of the "
        "device, a reconnect or a reboot, is handed the last command again",
        requirement="PROTOCOL.md §5: a command is for the session it is sent to")
class CloudCommandsRetained(CloudBehaviour):
    def retains_command(self, protocol: int) -> bool:
        return protocol == 5


@_fault("acl-wildcard-covers-own-topic", "the subscribe ACL grants any filter that matches one of the device's own "
        "topics, wildcards included: smart/device/in/# reaches every device's commands",
        requirement="PROTOCOL.md §5: a device subscribes only to its own topics, never with wildcards")
class AclWildcardCoversOwnTopic(CloudBehaviour):
    def device_may_subscribe(self, dev_id: str, topic_filter: str) -> bool:
        return super().device_may_subscribe(dev_id, topic_filter) or any(
            filter_matches(topic_filter, own) for own in device_subscribe_topics(dev_id))

    def unsupported_by(self, broker_kind: str) -> str | None:
        return f"acl-wildcard-covers-own-topic {_EMBEDDED_ONLY}" if broker_kind == "mosquitto" else \
            super().unsupported_by(broker_kind)


@_fault("acl-publish-any-device", "the publish ACL checks only the topic's smart/device/ prefix: a device publishes "
        "commands on another device's smart/device/in/<devId>",
        requirement="PROTOCOL.md §5: a device publishes only on its own report and RPC topics")
class AclPublishAnyDevice(CloudBehaviour):
    def device_may_publish(self, dev_id: str, topic: str) -> bool:
        return topic.startswith("smart/device/") or super().device_may_publish(dev_id, topic)

    def unsupported_by(self, broker_kind: str) -> str | None:
        return f"acl-publish-any-device {_EMBEDDED_ONLY}" if broker_kind == "mosquitto" else \
            super().unsupported_by(broker_kind)


@_fault("broker-password-any-device", "the broker matches a device login's password against every registered "
        "device, not the one the client id names: a device logs in under another's identity with its own password",
        requirement="PROTOCOL.md §5: the password is md5(secKey)[8:24] of the device the client id names")
class BrokerPasswordAnyDevice(CloudBehaviour):
    def admits_device(self, password: str, expected: str, registered: Collection[str]) -> bool:
        return super().admits_device(password, expected, registered) or any(
            same_secret(password, known) for known in registered)

    def unsupported_by(self, broker_kind: str) -> str | None:
        if broker_kind == "mosquitto":
            return ("the broker-password-any-device fault needs the embedded broker (amqtt): Mosquitto checks "
                    "logins against its own password file")
        return super().unsupported_by(broker_kind)


# -------------------------------------------------------------------------------------- binding by UUID (§11.6)

#: bind-token-never-expires: ten years, a lifetime that is still a finite number in JSON answers.
FOREVER_S = 10 * 365 * 86400.0


@_fault("bind-token-never-expires", "the token a bind by UUID issues never expires",
        requirement="PROTOCOL.md §11.6, §0: a pushed token is a pairing token, valid for the token lifetime")
class BindTokenNeverExpires(CloudBehaviour):
    def bind_token_lifetime(self, ttl_s: float) -> float:
        return FOREVER_S


@_fault("bind-skips-binding-rules", "a bind by UUID skips the binding rules: a strong-bound device of another "
        "account is not refused 3711 up front, the request goes on as if the device were free",
        requirement="PROTOCOL.md §11.6, §6: binding by UUID follows the binding rules")
class BindSkipsBindingRules(CloudBehaviour):
    def bind_checks_binding_rules(self) -> bool:
        return False


@_fault("bind-pushes-to-anyone", "a bind by UUID never checks the UUID: an unknown or unconnected UUID is answered "
        "with a token (and a push that reaches nobody) instead of an error the app can show",
        requirement="PROTOCOL.md §11.6: a UUID not connected is a clear error to the app")
class BindPushesToAnyone(CloudBehaviour):
    def bind_checks_device(self) -> bool:
        return False


@_fault("active-token-push-always-2.3", "the protocol-46 push is always a 2.3 envelope, whatever the acon login "
        "said: a device that logged in without |pv=2.3 (the connect-kit) cannot open it",
        requirement="PROTOCOL.md §11.9.1: the push's version follows the acon login")
class ActiveTokenPushAlways23(CloudBehaviour):
    def active_token_push_pv(self, login_pv: str | None) -> mq.ProtocolVersion:
        return "2.3"


# The faults of a token's time and of a licence's life live in modules of their own (no cycle: they import none
# of this one); registered here like the others.
for _name, _cls, _description, _requirement in (*TOKEN_TIME_FAULTS, *LICENCE_LIFE_FAULTS):
    _fault(_name, _description, requirement=_requirement)(_cls)

__all__ = ["CLOUD_FAULTS", "REGISTRY", "SEQUENTIAL_TOKEN_STRIDE", "TOKEN_ID_SPACE", "CloudFault", "behaviour_class",
           "licence_opening", "register_cloud_fault"]
