"""An activation's decision as a sequence of named steps (PROTOCOL.md §4.2, §6, §8), each a hook a fault overrides.

:class:`CloudState` makes an :class:`Activation` for each request and asks its behaviour to run
:meth:`ActivationSteps.activation_steps` in order: the licence (issued, not revoked, of the product, of this
hardware), the token (known, valid as checked), the home, the device and the binding decision, and whether the
previous home is told. A step either refuses (an :class:`ActivationOutcome` with an errorCode) or records what it
found on the :class:`Activation` and lets the next one run; the state then applies the decision. The decisions are
the model's (:func:`~harness.model.token.check_token`, :func:`~harness.model.binding.decide_binding`); the steps
feed them and refuse on their answers.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from harness.model.binding import Binding, BindingDecision, Claim, Role, decide_binding
from harness.model.errors import CloudError
from harness.model.token import TokenRecord, check_token
from harness.protocol.atop import ActivationRequest, ActivationResult

from .records import Device, Home, LicenceRecord, Product

if TYPE_CHECKING:
    from .state import CloudState

T = TypeVar("T")


@dataclass(frozen=True)
class ActivationOutcome:
    """What an activation came to: a result to encrypt back, or a DESIGN.md errorCode and message."""

    result: ActivationResult | None
    error: CloudError | None = None
    message: str = ""


def _found(value: T | None, step: str) -> T:
    if value is None:
        raise RuntimeError(f"an activation step ran before {step}")  # a harness bug: the steps run in order
    return value


@dataclass
class Activation:
    """One activation request on its way through the steps: what it names, and what the steps found so far.

    ``consume`` is whether success marks the token used (the caller's wish; a step may decide otherwise).
    """

    state: CloudState
    uuid: str
    req: ActivationRequest
    now: float
    consume: bool = True
    licence: LicenceRecord | None = None
    product: Product | None = None
    token: TokenRecord | None = None  # the token record as stored
    home: Home | None = None  # the token's home
    role: Role | None = None  # the token account's role in the home the device binds to
    target: Home | None = None  # the home the device binds to
    device: Device | None = None  # the licence's device, when it activated before
    current: Binding | None = None
    claim: Claim | None = None
    decision: BindingDecision | None = None
    notify: bool = False

    def refuse(self, error: CloudError, message: str) -> ActivationOutcome:
        return ActivationOutcome(result=None, error=error, message=message)

    @property
    def found_licence(self) -> LicenceRecord:
        return _found(self.licence, "find_licence")

    @property
    def found_product(self) -> Product:
        return _found(self.product, "find_licence")

    @property
    def found_token(self) -> TokenRecord:
        return _found(self.token, "check_token")

    @property
    def found_target(self) -> Home:
        return _found(self.target, "find_home")

    @property
    def found_claim(self) -> Claim:
        return _found(self.claim, "find_device")

    @property
    def found_decision(self) -> BindingDecision:
        return _found(self.decision, "decide_binding")


Step = Callable[[Activation], ActivationOutcome | None]


def binding_of(state: CloudState, dev: Device | None) -> Binding | None:
    """The model's view of a device's binding: the owner of the home it is bound to, and that home."""
    if dev is None or dev.home is None:
        return None
    home = state.homes.get(dev.home)
    return None if home is None else Binding(account=home.owner, home=home.home_id)


def model_decision(a: Activation, claim: Claim) -> BindingDecision:
    """The model's binding decision for ``claim`` on the activation's device (§6)."""
    return decide_binding(a.current, a.found_product.binding_mode, claim,
                          data_wipe_pending=bool(a.device and a.device.data_wipe_pending))


class ActivationSteps:
    """The conformant activation, step by step; every method is a hook a fault subclass may override."""

    def activation_steps(self) -> tuple[Step, ...]:
        """The steps, in order; the first that refuses ends the activation."""
        return (self.find_licence, self.check_revocation, self.check_product, self.check_hardware_id,
                self.find_token, self.check_token, self.find_home, self.choose_home, self.find_device,
                self.decide_binding, self.decide_notice)

    def decide_activation(self, a: Activation) -> ActivationOutcome | None:
        """Run the steps: the refusal, or None when the activation may bind."""
        for step in self.activation_steps():
            refusal = step(a)
            if refusal is not None:
                return refusal
        return None

    # -- the licence (§8) ---------------------------------------------------------------------------------

    def find_licence(self, a: Activation) -> ActivationOutcome | None:
        lic = a.state.licences.get(a.uuid)
        if lic is None:
            return a.refuse(CloudError.LICENSE_NOT_EXISTS, f"licence {a.uuid} was never issued")
        a.licence, a.product = lic, a.state.products[lic.pid]
        return None

    def check_revocation(self, a: Activation) -> ActivationOutcome | None:
        lic = a.found_licence
        return a.refuse(CloudError.LICENSE_REVOKED, f"licence {lic.uuid} is revoked") if lic.revoked else None

    def check_product(self, a: Activation) -> ActivationOutcome | None:
        if a.found_licence.pid in (a.req.product_key, a.req.product_key_str):
            return None
        return a.refuse(CloudError.FIRMWARE_NOT_MATCH, f"productKey {a.req.product_key} is not the licence's product")

    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        """One licence, one device: the hardware id of the first device that activated it (§8)."""
        lic = a.found_licence
        if lic.hid is not None and a.req.hid is not None and a.req.hid != lic.hid:
            return a.refuse(CloudError.LICENSE_IN_USE, "the licence is in use by another device (hardware id differs)")
        return None

    def licence_hardware_id(self, a: Activation) -> str | None:
        """The hardware id the licence is tied to after this activation: the first one it ever saw."""
        lic = a.found_licence
        return lic.hid if lic.hid is not None else a.req.hid

    # -- the token (§0, §1.3) -----------------------------------------------------------------------------

    def find_token(self, a: Activation) -> ActivationOutcome | None:
        a.token = a.state.tokens.get(a.req.token)
        return None

    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        """The token record the model's check sees: the stored one."""
        return a.token

    def check_token(self, a: Activation) -> ActivationOutcome | None:
        verdict = check_token(self.token_as_checked(a), now=a.now, region=a.state.region)
        if not verdict.ok:
            return a.refuse(verdict.error or CloudError.EXPIRE, verdict.reason)
        return None

    # -- the home and the binding (§6) --------------------------------------------------------------------

    def find_home(self, a: Activation) -> ActivationOutcome | None:
        record = a.found_token
        home = a.state.homes.get(record.home)
        role = None if home is None else home.role_of(record.account)
        if home is None or role is None:
            return a.refuse(CloudError.EXPIRE, "the token's home or membership no longer exists")
        a.home, a.target, a.role = home, home, role
        return None

    def choose_home(self, a: Activation) -> ActivationOutcome | None:
        """Where the device binds: the token's home (``find_home`` chose it already)."""
        return None

    def find_device(self, a: Activation) -> ActivationOutcome | None:
        lic, target = a.found_licence, a.found_target
        a.device = a.state.devices.get(lic.dev_id) if lic.dev_id else None
        a.current = binding_of(a.state, a.device)
        a.claim = Claim(account=a.found_token.account, role=_found(a.role, "find_home"), home=target.home_id,
                        home_owner=target.owner)
        return None

    def binding_decision(self, a: Activation) -> BindingDecision:
        """The binding rules' answer for this claim (§6)."""
        return model_decision(a, a.found_claim)

    def decide_binding(self, a: Activation) -> ActivationOutcome | None:
        decision = self.binding_decision(a)
        if not decision.allowed:
            return a.refuse(decision.error or CloudError.DEVICE_ALREADY_BIND, f"binding refused ({decision.rule})")
        a.decision = decision
        return None

    def notifies_previous_home(self, a: Activation) -> bool:
        """Whether the previous home's admins are told the device was bound elsewhere (§6: medium binding)."""
        return a.found_decision.notify_previous_home_admins

    def decide_notice(self, a: Activation) -> ActivationOutcome | None:
        a.notify = self.notifies_previous_home(a)
        return None


_ANNOUNCED: contextvars.ContextVar[str | None] = contextvars.ContextVar("paircert_announced_protocol", default=None)


@contextlib.contextmanager
def announcing(protocol_ver: str | None) -> Iterator[None]:
    """Around a behaviour's ``run_activation`` hook (the ATOP handler): the activation the hook makes records
    ``protocol_ver``, the MQTT version the request announced, in its own transaction; the hook's signature stays
    ``run_activation(state, uuid, req)`` for the faults written against it."""
    token = _ANNOUNCED.set(protocol_ver)
    try:
        yield
    finally:
        _ANNOUNCED.reset(token)


def announced() -> str | None:
    """The protocol version :func:`announcing` names here (None outside it)."""
    return _ANNOUNCED.get()


__all__ = ["Activation", "ActivationOutcome", "ActivationSteps", "Step", "announced", "announcing", "binding_of",
           "model_decision"]
