"""The binding decision (PROTOCOL.md §6, DESIGN.md "Emulator-defined behaviour") as ONE table.

Everything that decides whether a claim may bind a device lives in :data:`BINDING_TABLE`, in the manner of
h11's ``_state.py``: a claim is reduced to (binding mode, claimant's role, relation to the current binding),
exactly one row must match, and a combination no row covers is a :class:`LocalProtocolError`. The table is
total and its rows are disjoint; ``tests/test_model_binding.py`` checks both over every combination.

Sources, by row family:
- §6 "Strong binding: if the device is bound to account A, account B can bind it only after A removes it";
  DESIGN: "strong binding is about accounts: the same account may move its device between its homes".
- §6 "Medium binding: B can re-pair and bind without A removing it. A push notification goes to the
  administrator of the home ... of the previous account"; "Weak binding: ... No notification".
- §6 "Activation-time data reset ... fires when the app did 'remove and wipe' earlier, or when the re-pairing
  account is not in the same home as the original"; DESIGN: "medium and weak rebind (with resetFactory true)".
- §6/§7 "Guests: ...GuestNotSupportStrongBind = 3712. The Tuya FAQ says guest accounts cannot add such devices".

Emulator choices (PROTOCOL.md leaves them open), written as rows so they are visible:
- a guest here is a home ``member``; guests are refused for strong products whatever the device's state,
  and are treated like anyone else for medium and weak products;
- a move between two homes of the same owner is allowed without reset or notification in every mode: the
  binding modes differ only in what *another* account may do, and a weaker mode is never harsher than strong;
- a device still bound to a home has no pending wipe ("remove and wipe" unbinds it), so only the unbound
  rows follow ``data_wipe_pending``;
- the relation is decided by home id first: re-pairing into the very home the device is bound to is
  "same home" even if that home's owner has changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from harness.model.errors import CloudError
from harness.protocol.errors import LocalProtocolError

S_BIND: Final = "§6"


class BindingMode(StrEnum):
    """A product's binding mode (§6)."""

    STRONG = "strong"
    MEDIUM = "medium"
    WEAK = "weak"


class Role(StrEnum):
    """An account's role in a home. ``member`` is the guest of §6/§7."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Relation(StrEnum):
    """How a claim relates to the device's current binding."""

    UNBOUND = "unbound"
    SAME_HOME = "same-home"  # re-pair into the home it is bound to
    SAME_OWNER = "same-owner-other-home"  # into another home of the account that owns its current home
    OTHER_ACCOUNT = "other-account"  # into a home owned by another account


class Reset(StrEnum):
    """Whether the activation answers ``resetFactory: true`` (§4.3, §6)."""

    NEVER = "never"
    ALWAYS = "always"
    IF_WIPE_PENDING = "if-wipe-pending"  # the app did "remove and wipe" earlier


@dataclass(frozen=True)
class Binding:
    """The device's current binding: the owner account of the home it is bound to, and that home."""

    account: str
    home: str


@dataclass(frozen=True)
class Claim:
    """Who pairs (the token's account), their role in the target home, the target home, and its owner."""

    account: str
    role: Role
    home: str
    home_owner: str


@dataclass(frozen=True)
class BindingDecision:
    """The answer: may it bind, the errorCode if not, resetFactory, notify the previous home's admins, which row."""

    allowed: bool
    error: CloudError | None
    reset_factory: bool
    notify_previous_home_admins: bool
    rule: str


@dataclass(frozen=True)
class BindingRow:
    """One row: the combinations it covers, and what they decide."""

    name: str
    modes: frozenset[BindingMode]
    roles: frozenset[Role]
    relations: frozenset[Relation]
    allowed: bool
    error: CloudError | None
    reset: Reset
    notify: bool

    def matches(self, mode: BindingMode, role: Role, relation: Relation) -> bool:
        return mode in self.modes and role in self.roles and relation in self.relations


_S, _M, _W = BindingMode.STRONG, BindingMode.MEDIUM, BindingMode.WEAK
_ANY_ROLE = frozenset(Role)
_NOT_GUEST = frozenset({Role.OWNER, Role.ADMIN})
_GUEST = frozenset({Role.MEMBER})
_ANY_RELATION = frozenset(Relation)


def _row(name: str, mode: BindingMode, roles: frozenset[Role], relations: frozenset[Relation] | Relation,
         allowed: bool, error: CloudError | None, reset: Reset, notify: bool) -> BindingRow:
    rel = relations if isinstance(relations, frozenset) else frozenset({relations})
    return BindingRow(name, frozenset({mode}), roles, rel, allowed, error, reset, notify)


_OK, _NO = True, False
_U, _H, _O, _X = Relation.UNBOUND, Relation.SAME_HOME, Relation.SAME_OWNER, Relation.OTHER_ACCOUNT
_NEVER, _ALWAYS, _WIPE = Reset.NEVER, Reset.ALWAYS, Reset.IF_WIPE_PENDING
_GUEST_E, _BOUND_E = CloudError.GUEST_NOT_SUPPORT_STRONG_BIND, CloudError.DEVICE_ALREADY_BIND

# fmt: off
BINDING_TABLE: Final[tuple[BindingRow, ...]] = (
    #     name                           mode roles       relation       allowed error    reset    notify
    _row("strong-guest-refused",         _S,  _GUEST,     _ANY_RELATION, _NO,    _GUEST_E, _NEVER,  False),
    _row("strong-first-bind",            _S,  _NOT_GUEST, _U,            _OK,    None,     _WIPE,   False),
    _row("strong-repair-same-home",      _S,  _NOT_GUEST, _H,            _OK,    None,     _NEVER,  False),
    _row("strong-owner-moves-home",      _S,  _NOT_GUEST, _O,            _OK,    None,     _NEVER,  False),
    _row("strong-other-account-refused", _S,  _NOT_GUEST, _X,            _NO,    _BOUND_E, _NEVER,  False),
    _row("medium-first-bind",            _M,  _ANY_ROLE,  _U,            _OK,    None,     _WIPE,   False),
    _row("medium-repair-same-home",      _M,  _ANY_ROLE,  _H,            _OK,    None,     _NEVER,  False),
    _row("medium-owner-moves-home",      _M,  _ANY_ROLE,  _O,            _OK,    None,     _NEVER,  False),
    _row("medium-other-account-rebinds", _M,  _ANY_ROLE,  _X,            _OK,    None,     _ALWAYS, True),
    _row("weak-first-bind",              _W,  _ANY_ROLE,  _U,            _OK,    None,     _WIPE,   False),
    _row("weak-repair-same-home",        _W,  _ANY_ROLE,  _H,            _OK,    None,     _NEVER,  False),
    _row("weak-owner-moves-home",        _W,  _ANY_ROLE,  _O,            _OK,    None,     _NEVER,  False),
    _row("weak-other-account-rebinds",   _W,  _ANY_ROLE,  _X,            _OK,    None,     _ALWAYS, False),
)
# fmt: on


def relation_of(current: Binding | None, claim: Claim) -> Relation:
    """Reduce (current binding, claim) to the table's relation column."""
    if current is None:
        return Relation.UNBOUND
    if claim.home == current.home:
        return Relation.SAME_HOME
    if claim.home_owner == current.account:
        return Relation.SAME_OWNER
    return Relation.OTHER_ACCOUNT


class BindingModeNotAllowed(LocalProtocolError, ValueError):
    """A product asked for a binding mode its category cannot have (a camera asking for medium or weak)."""


_E = TypeVar("_E", bound=StrEnum)


def _coerce(kind: type[_E], value: str, what: str, error: type[LocalProtocolError] = LocalProtocolError) -> _E:
    if type(value) is kind:  # already a member (the cloud's records hold members): no enum lookup
        return value
    try:
        return kind(value)
    except ValueError:
        raise error(f"{what} {value!r} is not one of {[m.value for m in kind]}", section=S_BIND) from None


# The row found for each combination, with the table it was found in (a table swapped in replaces them all).
_ROWS: dict[tuple[BindingMode, Role, Relation], tuple[tuple[BindingRow, ...], BindingRow]] = {}


def row_for(mode: BindingMode, role: Role, relation: Relation) -> BindingRow:
    """The one row covering the combination; LocalProtocolError if none or several do."""
    table = BINDING_TABLE
    known = _ROWS.get((mode, role, relation))
    if known is not None and known[0] is table:
        return known[1]
    found = [row for row in table if row.matches(mode, role, relation)]
    if len(found) != 1:
        names = [row.name for row in found]
        raise LocalProtocolError(f"binding table has {len(found)} rows for ({mode}, {role}, {relation}): {names}",
                                 section=S_BIND)
    _ROWS[(mode, role, relation)] = (table, found[0])
    return found[0]


def decide_binding(current: Binding | None, mode: BindingMode, claim: Claim, *,
                   data_wipe_pending: bool = False) -> BindingDecision:
    """May ``claim`` bind a device of binding ``mode`` currently bound as ``current``? (§6)."""
    mode = _coerce(BindingMode, mode, "binding mode")
    role = _coerce(Role, claim.role, "role")
    row = row_for(mode, role, relation_of(current, claim))
    reset = row.reset is Reset.ALWAYS or (row.reset is Reset.IF_WIPE_PENDING and data_wipe_pending)
    return BindingDecision(allowed=row.allowed, error=row.error, reset_factory=reset,
                           notify_previous_home_admins=row.notify, rule=row.name)


# Tuya's category code for smart cameras (IPC) is "sp"; profiles may also say "camera" or "ipc".
CAMERA_CATEGORIES: Final = frozenset({"sp", "camera", "ipc"})
# PROTOCOL.md names no default for other categories; the emulator picks the most protective mode.
DEFAULT_BINDING_MODE: Final = BindingMode.STRONG


def product_binding_mode(category: str, requested: BindingMode | str | None = None) -> BindingMode:
    """The binding mode of a product of ``category``; cameras are always strong.

    Seed: "Powered by Tuya cameras support the strong binding mode, and cannot change to other modes".
    """
    mode = None if requested is None else _coerce(BindingMode, requested, "binding mode", BindingModeNotAllowed)
    if category.strip().lower() in CAMERA_CATEGORIES:
        if mode not in (None, BindingMode.STRONG):
            raise BindingModeNotAllowed(f"a camera ({category!r}) is always strong-bound, not {mode}", section=S_BIND)
        return BindingMode.STRONG
    return DEFAULT_BINDING_MODE if mode is None else mode


__all__ = [
    "BINDING_TABLE", "CAMERA_CATEGORIES", "DEFAULT_BINDING_MODE", "Binding", "BindingDecision", "BindingMode",
    "BindingModeNotAllowed", "BindingRow", "Claim", "Relation", "Reset", "Role", "decide_binding",
    "product_binding_mode", "relation_of", "row_for",
]
