"""The broker's credential authority in isolation (PROTOCOL.md §5): who logs in, which topics each login reaches,
what Mosquitto's files are written from, and when the brokers are told of a change.

Each decision here is one a device, a broker client or the cloud sees through either broker (a CONNACK, a SUBACK,
a dropped PUBLISH, a reloaded Mosquitto); tests/test_broker.py shows the same over real sockets, these pin every
branch of :class:`CredentialAuthority` so that `make mutation` can tell a changed rule from an unchanged one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import pytest

from harness.emulator.broker.authority import (
    AclRule,
    BrokerIdentity,
    BrokerPolicy,
    CredentialAuthority,
    same_secret,
)
from harness.protocol import mqtt

DEV_A, SEC_A = "bf0a1b2c3d4e5f6a7b8c", "secAAAAAAAAAAAAA"
DEV_B, SEC_B = "bf9a8b7c6d5e4f3a2b1c", "secBBBBBBBBBBBBB"
UUID, AUTH_KEY = "uuidxxxxxxxxxxxxxxxx", "keyxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
CLOUD_USER, CLOUD_PASSWORD = "paircert-cloud", "cloud-password-for-tests"
PW_A = mqtt.device_credentials(DEV_A, SEC_A).password
PW_B = mqtt.device_credentials(DEV_B, SEC_B).password
PW_PRE = mqtt.preactivation_credentials(UUID, AUTH_KEY).password
ACON = f"acon_{UUID}"


def _authority(policy: BrokerPolicy | None = None) -> CredentialAuthority:
    authority = CredentialAuthority(policy=policy)
    authority.set_device(DEV_A, SEC_A)
    authority.set_preactivation(UUID, AUTH_KEY)
    authority.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    return authority


class _Open(BrokerPolicy):
    """A cloud whose broker checks no topic."""

    def enforces_acl(self) -> bool:
        return False


class _AnyRegisteredPassword(BrokerPolicy):
    """A cloud that lets a device in with any registered device's password; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, list[str]]] = []

    def admits_device(self, password: str, expected: str, registered: Collection[str]) -> bool:
        self.asked.append((password, expected, sorted(registered)))
        return password in registered


# -- identities ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["device", "preactivation", "cloud"])
def test_an_identity_of_each_kind_is_made(kind: str) -> None:
    identity = BrokerIdentity(kind, "x")  # type: ignore[arg-type]
    assert (identity.kind, identity.id, identity.pv) == (kind, "x", None)


def test_an_identity_of_another_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^unknown identity kind 'admin'$"):
        BrokerIdentity("admin", "x")  # type: ignore[arg-type]


def test_an_identity_with_an_empty_id_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^an identity needs a non-empty id$"):
        BrokerIdentity("device", "")


def test_identities_compare_by_kind_and_id_not_by_envelope_version() -> None:
    assert BrokerIdentity("preactivation", UUID, pv="2.3") == BrokerIdentity("preactivation", UUID)
    assert BrokerIdentity("device", UUID) != BrokerIdentity("preactivation", UUID)


# -- a fresh authority --------------------------------------------------------------------------------------


def test_a_fresh_authority_refuses_everyone_and_enforces_the_acl() -> None:
    authority = CredentialAuthority()
    assert authority.refresh is None
    assert type(authority.policy) is BrokerPolicy
    assert authority.enforce_acl is True
    assert authority.authenticate(DEV_A, DEV_A, PW_A) is None
    assert repr(authority) == "CredentialAuthority(devices=0, preactivation=0, cloud=0, enforce_acl=True)"
    snap = authority.snapshot()
    assert (snap.passwords, snap.acl, snap.identities, snap.enforce_acl) == ({}, {}, {}, True)


def test_the_policy_given_is_the_one_asked() -> None:
    policy = _Open()
    authority = CredentialAuthority(policy=policy)
    assert authority.policy is policy
    assert authority.enforce_acl is False


def test_repr_counts_logins_and_shows_no_password() -> None:
    authority = _authority(_Open())
    text = repr(authority)
    assert text == "CredentialAuthority(devices=1, preactivation=1, cloud=1, enforce_acl=False)"
    assert PW_A not in text and CLOUD_PASSWORD not in text


# -- logins -------------------------------------------------------------------------------------------------


def test_a_device_logs_in_with_its_own_client_id_and_password() -> None:
    authority = _authority()
    assert authority.authenticate(DEV_A, DEV_A, PW_A) == BrokerIdentity("device", DEV_A)
    assert authority.authenticate(DEV_A, DEV_A, PW_A + "x") is None
    assert authority.authenticate("other-client", DEV_A, PW_A) is None
    assert authority.authenticate(DEV_B, DEV_B, PW_B) is None


def test_a_login_without_username_or_password_is_refused_without_refreshing() -> None:
    authority = _authority()
    calls: list[int] = []
    authority.refresh = lambda: calls.append(1)
    assert authority.authenticate(DEV_A, None, PW_A) is None
    assert authority.authenticate(DEV_A, DEV_A, None) is None
    assert calls == []


def test_each_login_refreshes_the_credentials_first() -> None:
    authority = CredentialAuthority()

    def refresh() -> None:  # a cloud of several processes learns what another worker issued
        authority.set_device(DEV_A, SEC_A)

    authority.refresh = refresh
    assert authority.authenticate(DEV_A, DEV_A, PW_A) == BrokerIdentity("device", DEV_A)


def test_the_policy_is_asked_with_every_registered_device_password() -> None:
    policy = _AnyRegisteredPassword()
    authority = _authority(policy)
    authority.set_device(DEV_B, SEC_B)
    assert authority.authenticate(DEV_A, DEV_A, PW_B) == BrokerIdentity("device", DEV_A)
    assert policy.asked == [(PW_B, PW_A, sorted([PW_A, PW_B]))]
    assert authority.authenticate(DEV_A, DEV_A, "not-a-password") is None
    assert authority.authenticate("other-client", DEV_A, PW_B) is None
    assert len(policy.asked) == 2


def test_the_cloud_logs_in_with_its_password_only() -> None:
    authority = _authority()
    assert authority.authenticate("any-client", CLOUD_USER, CLOUD_PASSWORD) == BrokerIdentity("cloud", CLOUD_USER)
    assert authority.authenticate("any-client", CLOUD_USER, CLOUD_PASSWORD + "x") is None


def test_a_cloud_username_that_is_also_a_device_is_decided_as_the_cloud() -> None:
    authority = _authority()
    authority.set_cloud(DEV_A, CLOUD_PASSWORD)
    assert authority.authenticate(DEV_A, DEV_A, PW_A) is None
    assert authority.authenticate(DEV_A, DEV_A, CLOUD_PASSWORD) == BrokerIdentity("cloud", DEV_A)


def test_a_licence_logs_in_with_the_bare_username_and_without_envelope_version() -> None:
    identity = _authority().authenticate(ACON, ACON, PW_PRE)
    assert identity == BrokerIdentity("preactivation", UUID)
    assert identity is not None and identity.pv is None


def test_a_licence_logs_in_with_the_pv_suffix_and_keeps_its_version() -> None:
    identity = _authority().authenticate(ACON, f"{ACON}|pv=2.3", PW_PRE)
    assert identity == BrokerIdentity("preactivation", UUID)
    assert identity is not None and identity.pv == "2.3"


@pytest.mark.parametrize("suffix", ["|pv=2", "|pv=x.3", "|pv=2.3x", "|v=2.3", "|", "|pv=2.3|pv=2.3"])
def test_a_licence_username_with_another_suffix_is_refused(suffix: str) -> None:
    assert _authority().authenticate(ACON, ACON + suffix, PW_PRE) is None


@pytest.mark.parametrize(("client_id", "username", "password"), [
    (f"{ACON}|pv=2.3", f"{ACON}|pv=2.3", PW_PRE),  # the client id is the username without its suffix
    ("other-client", ACON, PW_PRE),
    (ACON, ACON, PW_PRE + "x"),
    ("acon_other", "acon_other", PW_PRE),  # no such licence
])
def test_a_licence_login_is_refused_on_any_mismatch(client_id: str, username: str, password: str) -> None:
    assert _authority().authenticate(client_id, username, password) is None


# -- changes ------------------------------------------------------------------------------------------------


# What is removed: the remover, an unknown key it ignores, the login it refuses, and the right it takes away.
REMOVALS = {
    "device": (CredentialAuthority.remove_device, DEV_B, DEV_A, (DEV_A, DEV_A, PW_A),
               lambda a, i: a.may_publish(i, mqtt.topic_out(DEV_A))),
    "licence": (CredentialAuthority.remove_preactivation, "uuid-unknown", UUID, (ACON, ACON, PW_PRE),
                lambda a, i: a.may_subscribe(i, mqtt.preactivation_topic(UUID))),
}


@pytest.mark.parametrize("what", sorted(REMOVALS))
def test_removing_refuses_the_next_login_and_tells_the_brokers_once(what: str) -> None:
    remove, unknown, known, login, right = REMOVALS[what]
    authority = _authority()
    changes: list[int] = []
    authority.add_listener(lambda: changes.append(1))
    remove(authority, unknown)  # unknown: nothing changes, nobody is told
    assert changes == []
    identity = authority.authenticate(*login)
    assert identity is not None and authority.is_current(identity)
    remove(authority, known)
    assert changes == [1]
    assert authority.authenticate(*login) is None
    assert not authority.is_current(identity)
    assert right(authority, identity) is False
    remove(authority, known)  # again: nothing left to remove, nobody is told
    assert changes == [1]


def test_every_registration_and_policy_switch_tells_each_listener() -> None:
    authority = CredentialAuthority()
    first: list[int] = []
    second: list[int] = []
    authority.add_listener(lambda: first.append(1))
    authority.add_listener(lambda: second.append(1))
    authority.set_device(DEV_A, SEC_A)
    authority.set_preactivation(UUID, AUTH_KEY)
    authority.set_cloud(CLOUD_USER, CLOUD_PASSWORD)
    authority.set_policy(_Open())
    assert first == second == [1, 1, 1, 1]
    assert authority.enforce_acl is False


def test_a_removed_listener_is_told_nothing_and_removing_an_unknown_one_is_harmless() -> None:
    authority = CredentialAuthority()
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    authority.add_listener(listener)
    authority.remove_listener(listener)
    authority.remove_listener(listener)
    authority.set_device(DEV_A, SEC_A)
    assert calls == []


def test_a_failing_listener_is_logged_and_the_others_are_still_told(caplog: pytest.LogCaptureFixture) -> None:
    authority = CredentialAuthority()
    calls: list[int] = []

    def failing() -> None:
        raise RuntimeError("broken listener")

    authority.add_listener(failing)
    authority.add_listener(lambda: calls.append(1))
    with caplog.at_level(logging.ERROR, logger="harness.emulator.broker.authority"):
        authority.set_device(DEV_A, SEC_A)
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records] == ["credential authority listener failed"]
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize("username", ["", "acon_cloud", "a b", "a\tb", "a\nb", "a:b", "a#b"])
def test_a_cloud_username_a_broker_cannot_tell_apart_is_refused(username: str) -> None:
    authority = CredentialAuthority()
    with pytest.raises(ValueError, match=r"^a cloud username must be non-empty, without whitespace, ':' or '#', "
                                         r"and not start with 'acon_'$"):
        authority.set_cloud(username, CLOUD_PASSWORD)
    assert authority.snapshot().passwords == {}


@pytest.mark.parametrize("username", ["X", "XX-cloud", "cloud_acon_", "c", "paircert-cloud.2"])
def test_any_other_cloud_username_is_accepted(username: str) -> None:
    authority = CredentialAuthority()
    authority.set_cloud(username, CLOUD_PASSWORD)
    assert authority.authenticate("c", username, CLOUD_PASSWORD) == BrokerIdentity("cloud", username)


# -- topics -------------------------------------------------------------------------------------------------


def test_a_device_subscribes_to_its_own_three_topics_exactly() -> None:
    authority = _authority()
    device = BrokerIdentity("device", DEV_A)
    for topic in (mqtt.topic_in(DEV_A), mqtt.rpc_rsp(DEV_A), mqtt.rpc_file(DEV_A)):
        assert authority.may_subscribe(device, topic) is True
    for topic in (mqtt.topic_out(DEV_A), mqtt.topic_in(DEV_B), "smart/device/in/+", "#",
                  mqtt.preactivation_topic(UUID)):
        assert authority.may_subscribe(device, topic) is False


def test_a_device_publishes_to_its_own_two_topics_only() -> None:
    authority = _authority()
    device = BrokerIdentity("device", DEV_A)
    assert authority.may_publish(device, mqtt.topic_out(DEV_A)) is True
    assert authority.may_publish(device, mqtt.rpc_req(DEV_A)) is True
    for topic in (mqtt.topic_in(DEV_A), mqtt.topic_out(DEV_B), mqtt.rpc_rsp(DEV_A), "anything"):
        assert authority.may_publish(device, topic) is False


def test_a_licence_subscribes_to_its_own_topic_and_never_publishes() -> None:
    authority = _authority()
    licence = BrokerIdentity("preactivation", UUID, pv="2.3")
    own = mqtt.preactivation_topic(UUID)
    assert authority.may_subscribe(licence, own) is True
    for topic in (own + "/x", "#", own.rpartition("/")[0] + "/+", mqtt.topic_in(DEV_A)):
        assert authority.may_subscribe(licence, topic) is False
    for topic in (own, mqtt.topic_out(DEV_A), "anything"):
        assert authority.may_publish(licence, topic) is False


def test_the_cloud_reaches_every_topic_while_registered() -> None:
    authority = _authority()
    cloud = BrokerIdentity("cloud", CLOUD_USER)
    for topic in ("#", "smart/device/in/+", mqtt.topic_in(DEV_A), "anything/else"):
        assert authority.may_subscribe(cloud, topic) is True
    for topic in (mqtt.topic_in(DEV_A), mqtt.preactivation_topic(UUID), "anything/else"):
        assert authority.may_publish(cloud, topic) is True
    stranger = BrokerIdentity("cloud", "not-registered")
    assert not authority.is_current(stranger)
    assert authority.may_subscribe(stranger, "#") is False
    assert authority.may_publish(stranger, "anything") is False


def test_an_unauthenticated_connection_reaches_nothing() -> None:
    authority = _authority()
    assert authority.may_subscribe(None, mqtt.topic_in(DEV_A)) is False
    assert authority.may_publish(None, mqtt.topic_out(DEV_A)) is False


def test_without_acl_every_connection_reaches_every_topic() -> None:
    authority = CredentialAuthority(policy=_Open())
    gone = BrokerIdentity("device", DEV_A)  # not even registered
    for identity in (None, gone, BrokerIdentity("preactivation", UUID)):
        assert authority.may_subscribe(identity, "#") is True
        assert authority.may_publish(identity, "smart/device/in/x") is True


def test_is_current_checks_each_kind_against_its_own_register() -> None:
    authority = _authority()
    assert authority.is_current(BrokerIdentity("device", DEV_A))
    assert authority.is_current(BrokerIdentity("preactivation", UUID))
    assert authority.is_current(BrokerIdentity("cloud", CLOUD_USER))
    assert not authority.is_current(BrokerIdentity("device", UUID))
    assert not authority.is_current(BrokerIdentity("preactivation", DEV_A))
    assert not authority.is_current(BrokerIdentity("cloud", DEV_A))


# -- Mosquitto's files ---------------------------------------------------------------------------------------


def test_the_snapshot_holds_every_login_its_rules_and_who_it_is() -> None:
    authority = _authority()
    snap = authority.snapshot()
    bare, versioned = ACON, f"{ACON}|pv=2.3"
    assert snap.passwords == {DEV_A: PW_A, bare: PW_PRE, versioned: PW_PRE, CLOUD_USER: CLOUD_PASSWORD}
    assert list(snap.passwords) == [DEV_A, bare, versioned, CLOUD_USER]
    licence_rule = AclRule(read=(mqtt.preactivation_topic(UUID),), write=())
    assert snap.acl == {
        DEV_A: AclRule(read=(mqtt.topic_in(DEV_A), mqtt.rpc_rsp(DEV_A), mqtt.rpc_file(DEV_A)),
                       write=(mqtt.topic_out(DEV_A), mqtt.rpc_req(DEV_A))),
        bare: licence_rule,
        versioned: licence_rule,
        CLOUD_USER: AclRule(read=("#",), write=("#",)),
    }
    assert snap.identities == {DEV_A: BrokerIdentity("device", DEV_A), bare: BrokerIdentity("preactivation", UUID),
                               versioned: BrokerIdentity("preactivation", UUID),
                               CLOUD_USER: BrokerIdentity("cloud", CLOUD_USER)}
    assert [(i.kind, i.id, i.pv) for i in snap.identities.values()] == [
        ("device", DEV_A, None), ("preactivation", UUID, None), ("preactivation", UUID, "2.3"),
        ("cloud", CLOUD_USER, None)]
    assert snap.enforce_acl is True
    assert PW_A not in repr(snap) and CLOUD_PASSWORD not in repr(snap)


def test_the_snapshot_follows_the_policy_and_removals() -> None:
    authority = _authority(_Open())
    authority.remove_device(DEV_A)
    authority.remove_preactivation(UUID)
    snap = authority.snapshot()
    assert snap.enforce_acl is False
    assert snap.passwords == {CLOUD_USER: CLOUD_PASSWORD}
    assert set(snap.acl) == set(snap.identities) == {CLOUD_USER}


# -- the conformant policy and the comparison ----------------------------------------------------------------


def test_the_conformant_policy_supports_every_broker_and_admits_only_the_own_password() -> None:
    policy = BrokerPolicy()
    assert policy.unsupported_by("amqtt") is None
    assert policy.unsupported_by("mosquitto") is None
    assert policy.admits_device(PW_A, PW_A, [PW_A, PW_B]) is True
    assert policy.admits_device(PW_B, PW_A, [PW_A, PW_B]) is False


def test_secrets_compare_exactly_even_with_code_points_no_encoder_accepts() -> None:
    assert same_secret("abc", "abc") is True
    assert same_secret("abc", "abd") is False
    assert same_secret("ab", "abc") is False
    assert same_secret("\udcff", "x") is False  # a lone surrogate a client sent: refused, not an exception
    assert same_secret("é", "é") is True
