"""The binding decision table (PROTOCOL.md §6, DESIGN.md "Emulator-defined behaviour"): a test per row, totality."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.model import (
    BINDING_TABLE,
    Binding,
    BindingDecision,
    BindingMode,
    BindingModeNotAllowed,
    Claim,
    CloudError,
    Relation,
    Role,
    decide_binding,
    product_binding_mode,
    relation_of,
)
from harness.model.binding import BindingRow, row_for
from harness.protocol.errors import LocalProtocolError

ALICE_HOME = Binding(account="alice", home="alice-home")

# One claim per relation, made from ALICE_HOME's point of view; the role is filled in per case.
CLAIMS = {
    Relation.UNBOUND: ("bob", "bob-home", "bob"),
    Relation.SAME_HOME: ("alice", "alice-home", "alice"),
    Relation.SAME_OWNER: ("carol", "alice-cabin", "alice"),  # carol is an admin of alice's second home
    Relation.OTHER_ACCOUNT: ("bob", "bob-home", "bob"),
}


def situation(relation: Relation, role: Role) -> tuple[Binding | None, Claim]:
    account, home, owner = CLAIMS[relation]
    current = None if relation is Relation.UNBOUND else ALICE_HOME
    return current, Claim(account=account, role=role, home=home, home_owner=owner)


def decide(mode: BindingMode, relation: Relation, role: Role = Role.OWNER, *, wipe: bool = False) -> BindingDecision:
    current, claim = situation(relation, role)
    assert relation_of(current, claim) is relation
    return decide_binding(current, mode, claim, data_wipe_pending=wipe)


def test_strong_guest_is_refused_whatever_the_device_state() -> None:
    for relation in Relation:
        d = decide(BindingMode.STRONG, relation, Role.MEMBER)
        assert (d.allowed, d.error, d.rule) == (False, CloudError.GUEST_NOT_SUPPORT_STRONG_BIND, "strong-guest-refused")


@pytest.mark.parametrize("mode", list(BindingMode))
@pytest.mark.parametrize("wipe", [False, True])
def test_first_bind_is_allowed_and_resets_only_after_a_wipe(mode: BindingMode, wipe: bool) -> None:
    d = decide(mode, Relation.UNBOUND, Role.ADMIN, wipe=wipe)
    assert (d.allowed, d.error, d.reset_factory, d.notify_previous_home_admins) == (True, None, wipe, False)
    assert d.rule == f"{mode}-first-bind"


@pytest.mark.parametrize("mode", list(BindingMode))
def test_repairing_into_the_same_home_keeps_the_data(mode: BindingMode) -> None:
    d = decide(mode, Relation.SAME_HOME)
    assert (d.allowed, d.reset_factory, d.notify_previous_home_admins, d.rule) == (
        True, False, False, f"{mode}-repair-same-home")


@pytest.mark.parametrize("mode", list(BindingMode))
def test_the_owner_may_move_a_device_between_their_homes(mode: BindingMode) -> None:
    d = decide(mode, Relation.SAME_OWNER, Role.ADMIN)
    assert (d.allowed, d.reset_factory, d.notify_previous_home_admins, d.rule) == (
        True, False, False, f"{mode}-owner-moves-home")


def test_strong_refuses_another_account() -> None:
    d = decide(BindingMode.STRONG, Relation.OTHER_ACCOUNT)
    assert (d.allowed, d.error, d.reset_factory, d.rule) == (
        False, CloudError.DEVICE_ALREADY_BIND, False, "strong-other-account-refused")


def test_medium_rebinds_to_another_account_with_reset_and_notifies_the_previous_admins() -> None:
    d = decide(BindingMode.MEDIUM, Relation.OTHER_ACCOUNT)
    assert (d.allowed, d.reset_factory, d.notify_previous_home_admins, d.rule) == (
        True, True, True, "medium-other-account-rebinds")


def test_weak_rebinds_to_another_account_with_reset_and_no_notification() -> None:
    d = decide(BindingMode.WEAK, Relation.OTHER_ACCOUNT)
    assert (d.allowed, d.reset_factory, d.notify_previous_home_admins, d.rule) == (
        True, True, False, "weak-other-account-rebinds")


@pytest.mark.parametrize("mode", [BindingMode.MEDIUM, BindingMode.WEAK])
def test_guests_are_treated_like_anyone_for_medium_and_weak(mode: BindingMode) -> None:
    for relation in Relation:
        guest, owner = decide(mode, relation, Role.MEMBER), decide(mode, relation, Role.OWNER)
        assert guest == owner


def test_every_row_is_reached_and_names_are_unique() -> None:
    names = [row.name for row in BINDING_TABLE]
    assert len(names) == len(set(names))
    reached = {
        decide(mode, relation, role).rule
        for mode, relation, role in itertools.product(BindingMode, Relation, Role)
    }
    assert reached == set(names)


def test_the_table_is_total_and_its_rows_are_disjoint() -> None:
    for mode, role, relation in itertools.product(BindingMode, Role, Relation):
        matching = [row.name for row in BINDING_TABLE if row.matches(mode, role, relation)]
        assert len(matching) == 1, (mode, role, relation, matching)


def test_a_refusal_carries_an_error_and_an_allowance_none() -> None:
    for row in BINDING_TABLE:
        assert row.allowed == (row.error is None), row.name
        assert not (row.notify and not row.allowed), row.name


def test_a_combination_outside_the_table_is_a_local_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.model.binding.BINDING_TABLE", BINDING_TABLE[1:])
    with pytest.raises(LocalProtocolError, match="0 rows"):
        row_for(BindingMode.STRONG, Role.MEMBER, Relation.UNBOUND)
    extra = BindingRow("dup", frozenset(BindingMode), frozenset(Role), frozenset(Relation), True, None,
                       BINDING_TABLE[0].reset, False)
    monkeypatch.setattr("harness.model.binding.BINDING_TABLE", (*BINDING_TABLE, extra))
    with pytest.raises(LocalProtocolError, match="2 rows"):
        row_for(BindingMode.WEAK, Role.OWNER, Relation.UNBOUND)


def test_unknown_modes_and_roles_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        decide_binding(None, "sticky", Claim("a", Role.OWNER, "h", "a"))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        decide_binding(None, BindingMode.WEAK, Claim("a", "guest", "h", "a"))  # type: ignore[arg-type]


def test_plain_strings_are_accepted_for_modes_and_roles() -> None:
    d = decide_binding(ALICE_HOME, "strong", Claim("bob", "member", "bob-home", "bob"))  # type: ignore[arg-type]
    assert d.error is CloudError.GUEST_NOT_SUPPORT_STRONG_BIND


names = st.sampled_from(["alice", "bob", "carol"])
homes = st.sampled_from(["alice-home", "alice-cabin", "bob-home"])


@settings(max_examples=300, deadline=None)
@given(bound=st.none() | st.builds(Binding, account=names, home=homes), mode=st.sampled_from(list(BindingMode)),
       claim=st.builds(Claim, account=names, role=st.sampled_from(list(Role)), home=homes, home_owner=names),
       wipe=st.booleans())
def test_decide_binding_is_total_and_consistent(bound: Binding | None, mode: BindingMode, claim: Claim,
                                                wipe: bool) -> None:
    d = decide_binding(bound, mode, claim, data_wipe_pending=wipe)
    assert d.rule in {row.name for row in BINDING_TABLE}
    assert d.allowed == (d.error is None)
    if not d.allowed:
        assert not d.reset_factory and not d.notify_previous_home_admins
    if d.notify_previous_home_admins:
        assert mode is BindingMode.MEDIUM and bound is not None
    if mode is BindingMode.STRONG and d.allowed:
        assert claim.role is not Role.MEMBER
        assert bound is None or claim.home == bound.home or claim.home_owner == bound.account


@pytest.mark.parametrize("category", ["sp", "camera", "ipc", "SP"])
def test_cameras_are_always_strong(category: str) -> None:
    assert product_binding_mode(category, None) is BindingMode.STRONG
    assert product_binding_mode(category, BindingMode.STRONG) is BindingMode.STRONG
    for other in (BindingMode.MEDIUM, "weak"):
        with pytest.raises(BindingModeNotAllowed):
            product_binding_mode(category, other)


def test_the_camera_refusal_is_both_a_local_protocol_error_and_a_value_error() -> None:
    with pytest.raises(LocalProtocolError):
        product_binding_mode("sp", BindingMode.WEAK)
    with pytest.raises(ValueError):
        product_binding_mode("sp", BindingMode.WEAK)


def test_other_categories_keep_what_they_ask_for() -> None:
    assert product_binding_mode("cz", BindingMode.MEDIUM) is BindingMode.MEDIUM
    assert product_binding_mode("dj", "weak") is BindingMode.WEAK
    assert product_binding_mode("dj", None) is BindingMode.STRONG
    with pytest.raises(BindingModeNotAllowed):
        product_binding_mode("dj", "sticky")
