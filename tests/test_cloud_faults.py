"""Each cloud fault observably changes behaviour against the conformant cloud."""

from __future__ import annotations

import os

import pytest
from _cloud_helpers import World, activate, build_activation, make_world, post_atop

from harness.clock import VirtualClock
from harness.emulator.cloud import CloudFault, EmulatedCloud
from harness.emulator.cloud.faults import parse_faults
from harness.protocol.atop import decode_response


def faulted(*faults: CloudFault) -> EmulatedCloud:
    return EmulatedCloud(clock=VirtualClock(), broker="none", faults=faults)


def _rebind(world: World) -> tuple[World, str, bool]:
    """Bind a device to world's home, then pair it from another account; (world, admin, rebind succeeded)."""
    cloud = world.cloud
    lic = world.licence()
    assert activate(cloud, lic, world.token()).success
    other = cloud.app.create_account("other")
    home = cloud.app.create_home(other, "other home")
    return world, other, activate(cloud, lic, world.token(other, home)).success


def test_token_never_expires() -> None:
    for faults, expect in (((), "EXPIRE"), ((CloudFault.TOKEN_NEVER_EXPIRES,), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            assert isinstance(cloud.clock, VirtualClock)
            cloud.clock.advance(3600)
            assert activate(cloud, world.licence(), token).error_code == expect


def test_token_reusable() -> None:
    for faults, expect in (((), "EXPIRE"), ((CloudFault.TOKEN_REUSABLE,), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            assert activate(cloud, world.licence(), token).success
            assert activate(cloud, world.licence(), token).error_code == expect


def test_token_not_bound_to_home() -> None:
    for faults, lands_in_token_home in (((), True), ((CloudFault.TOKEN_NOT_BOUND_TO_HOME,), False)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            cloud.app.create_home(world.owner, "second")
            result = activate(cloud, world.licence(), world.token()).result
            assert result is not None
            assert (cloud.state.devices[result["devId"]].home == world.home) is lands_in_token_home


def test_strong_allows_rebind() -> None:
    for faults, rebinds in (((), False), ((CloudFault.STRONG_ALLOWS_REBIND,), True)):
        with faulted(*faults) as cloud:
            assert _rebind(make_world(cloud))[2] is rebinds


@pytest.mark.parametrize(("mode", "fault", "notified_normally"), [
    ("medium", CloudFault.MEDIUM_NO_NOTIFY, True),
    ("weak", CloudFault.WEAK_NOTIFIES, False),
])
def test_rebind_notification_faults(mode: str, fault: CloudFault, notified_normally: bool) -> None:
    for faults, notified in (((), notified_normally), ((fault,), not notified_normally)):
        with faulted(*faults) as cloud:
            world, _, ok = _rebind(make_world(cloud, category="cz", mode=mode))
            assert ok
            assert bool(cloud.app.notifications(world.owner)) is notified


def test_licence_unchecked_accepts_a_bad_sign_and_a_cloned_key_under_a_made_up_uuid() -> None:
    for faults, accepted in (((), False), ((CloudFault.LICENCE_UNCHECKED,), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
            query = query[:-32] + "0" * 32
            assert decode_response(post_atop(cloud, query, body), lic.auth_key, 1).success is accepted
            clone = world.licence()
            query, body = build_activation("pcmadeupmadeupmadeup", clone.auth_key, clone.pid, world.token())
            assert decode_response(post_atop(cloud, query, body), clone.auth_key, 1).success is accepted


def test_licence_shared() -> None:
    for faults, second_hid_ok in (((), False), ((CloudFault.LICENCE_SHARED,), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            assert activate(cloud, lic, world.token(), hid="111111111111").success
            assert activate(cloud, lic, world.token(), hid="222222222222").success is second_hid_ok


def test_revoked_licence_accepted() -> None:
    for faults, ok in (((), False), ((CloudFault.REVOKED_LICENCE_ACCEPTED,), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            cloud.app.revoke_license(lic.uuid)
            assert activate(cloud, lic, world.token()).success is ok


def test_broker_no_acl_turns_off_the_authoritys_topic_checks() -> None:
    from harness.emulator.broker import BrokerIdentity, CredentialAuthority

    for faults, enforced in (((), True), ((CloudFault.BROKER_NO_ACL,), False)):
        cloud = EmulatedCloud(clock=VirtualClock(), faults=faults)
        authority = cloud.authority
        assert isinstance(authority, CredentialAuthority)
        assert authority.enforce_acl is enforced
        authority.set_device("devA", os.urandom(8).hex())
        assert authority.may_subscribe(BrokerIdentity("device", "devA"), "smart/device/in/devB") is not enforced


def test_fault_names_parse_and_unknown_ones_are_refused() -> None:
    assert parse_faults(["token-reusable"]) == {CloudFault.TOKEN_REUSABLE}
    with pytest.raises(ValueError, match="unknown cloud fault"):
        parse_faults(["nope"])
