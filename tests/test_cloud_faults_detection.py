"""Each cloud fault of the detection work observably changes behaviour against the conformant cloud: tokens
around a refused attempt and across outstanding tokens, the activation's own t against the cloud's clock, the
sign, remove-and-wipe, and the broker's wildcard and publish checks (tests/test_cloud_faults.py reads this file
for its every-fault-has-a-test check)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from _cloud_helpers import World, activate, build_activation, make_world, post_atop

from harness.clock import VirtualClock
from harness.emulator.broker.embedded import BrokerIdentity, CredentialAuthority
from harness.emulator.cloud import EmulatedCloud, LicenceRecord
from harness.emulator.cloud.token_faults import REFUSED_GRACE_S
from harness.model.token import DEFAULT_TOKEN_TTL_S
from harness.protocol.atop import ActivationRequest, AtopResponse, decode_response


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def faulted(*faults: str, broker: str = "none") -> EmulatedCloud:
    return EmulatedCloud(clock=VirtualClock(), broker=broker, faults=faults)


def clock_of(cloud: EmulatedCloud) -> VirtualClock:
    assert isinstance(cloud.clock, VirtualClock)
    return cloud.clock


def activate_at(cloud: EmulatedCloud, lic: LicenceRecord, token: str, t: int) -> AtopResponse:
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, token, t=t)  # the hid activate() uses
    return decode_response(post_atop(cloud, query, body), lic.auth_key, 1)


def strong_bound_elsewhere(world: World) -> LicenceRecord:
    """A licence whose device another account strong-bound: every token of world's owner is refused to it."""
    cloud, lic = world.cloud, world.licence()
    other = cloud.app.create_account("other")
    assert activate(cloud, lic, world.token(other, cloud.app.create_home(other, "theirs"))).success
    return lic


def test_refused_activation_consumes_token() -> None:
    for faults, pairs_after in (((), True), (("refused-activation-consumes-token",), False)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            assert activate(cloud, strong_bound_elsewhere(world), token).error_code == "DEVICE_ALREADY_BIND"
            assert activate(cloud, world.licence(), token, hid="bbbbbbbbbbbb").success is pairs_after


def test_newer_token_revokes_older() -> None:
    for faults, earlier_pairs in (((), True), (("newer-token-revokes-older",), False)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            earlier = world.token()
            world.token()
            assert activate(cloud, world.licence(), earlier).success is earlier_pairs


def test_sign_unchecked() -> None:
    for faults, accepted in (((), False), (("sign-unchecked",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic, forger = world.licence(), world.licence()
            query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
            forged_query, _ = build_activation(lic.uuid, forger.auth_key, lic.pid, world.token())
            forged = query.split("&sign=")[0] + "&sign=" + forged_query.split("&sign=")[1]
            assert decode_response(post_atop(cloud, forged, body), lic.auth_key, 1).success is accepted


def test_wipe_forgotten_on_reactivation() -> None:
    for faults, reset in (((), True), (("wipe-forgotten-on-reactivation",), False)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate(cloud, lic, world.token()).result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"], wipe=True)
            again = activate(cloud, lic, world.token()).result
            assert again is not None and again["resetFactory"] is reset


def test_presentation_renews_token() -> None:
    for faults, pairs_past_its_life in (((), False), (("presentation-renews-token",), True)):
        with faulted(*faults) as cloud:
            world, clock = make_world(cloud), clock_of(cloud)
            token, refused_to = world.token(), strong_bound_elsewhere(make_world(cloud))
            clock.advance(DEFAULT_TOKEN_TTL_S / 2)
            assert not activate_at(cloud, refused_to, token, int(clock.time())).success
            clock.advance(DEFAULT_TOKEN_TTL_S / 2 + 1)
            assert activate_at(cloud, world.licence(), token, int(clock.time())).success is pairs_past_its_life


def test_refused_presentation_leaves_a_minute() -> None:
    for faults, pairs_before_its_end in (((), True), (("refused-presentation-leaves-a-minute",), False)):
        with faulted(*faults) as cloud:
            world, clock = make_world(cloud), clock_of(cloud)
            token, refused_to = world.token(), strong_bound_elsewhere(make_world(cloud))
            assert not activate_at(cloud, refused_to, token, int(clock.time())).success
            clock.advance(REFUSED_GRACE_S + 1)
            assert activate_at(cloud, world.licence(), token, int(clock.time())).success is pairs_before_its_end


def test_token_aged_by_request_time() -> None:
    for faults, by_t in (((), False), (("token-aged-by-request-time",), True)):
        with faulted(*faults) as cloud:
            world, clock = make_world(cloud), clock_of(cloud)
            issued = int(clock.time())
            ahead = activate_at(cloud, world.licence(), world.token(), issued + 86_400)
            assert ahead.success is not by_t
            expired = world.token()
            clock.advance(DEFAULT_TOKEN_TTL_S + 1)
            assert activate_at(cloud, world.licence(), expired, issued + 1).success is by_t


def test_refuses_skewed_request_time() -> None:
    for faults, error in (((), None), (("refuses-skewed-request-time",), "ILLEGAL_PARAM")):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            assert activate_at(cloud, world.licence(), world.token(), 5803).error_code == error
            assert activate_at(cloud, world.licence(), world.token(), int(cloud.clock.time())).success


def test_the_broker_acl_faults_grant_wildcards_and_other_devices_topics() -> None:
    for faults, granted in (((), False), (("acl-wildcard-covers-own-topic", "acl-publish-any-device"), True)):
        cloud = EmulatedCloud(clock=VirtualClock(), faults=faults)
        authority = cloud.authority
        assert isinstance(authority, CredentialAuthority)
        authority.set_device("devA", os.urandom(8).hex())
        device = BrokerIdentity("device", "devA")
        assert authority.may_subscribe(device, "smart/device/in/devA")
        assert authority.may_subscribe(device, "smart/device/in/#") is granted
        assert authority.may_publish(device, "smart/device/in/devB") is granted


def test_cloud_commands_retained() -> None:
    from _tls_helpers import DeviceMqtt

    from harness.protocol import mqtt as mq

    for faults, handed_again in (((), False), (("cloud-commands-retained",), True)):
        with EmulatedCloud(clock=VirtualClock(), faults=faults) as cloud:
            world = make_world(cloud)
            result = activate(cloud, world.licence(), world.token()).result
            assert result is not None
            dev_id, creds = result["devId"], mq.device_credentials(result["devId"], result["secKey"])
            first = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password)
            first.subscribe(mq.topic_in(dev_id))
            wait_until(lambda dev=cloud.state.devices[dev_id]: dev.online, 5.0)
            assert cloud.app.send_dps(world.owner, dev_id, {"1": True})
            assert first.wait_message(mq.topic_in(dev_id))
            first.close()
            again = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password)
            again.subscribe(mq.topic_in(dev_id))
            wait_until(lambda dev=cloud.state.devices[dev_id]: dev.online, 5.0)
            assert cloud.app.send_dps(world.owner, dev_id, {"1": False})  # the sentinel: sent after any retained
            got = again.wait_message(mq.topic_in(dev_id))
            again.close()
            assert (len(got) == 2) is handed_again, got


def activate_as(cloud: EmulatedCloud, lic: LicenceRecord, token: str, hid: str,
                dev_id: str | None = None) -> AtopResponse:
    """An activation from the board ``hid`` (with ``dev_id`` in the body, as after a reset, §11.9.2)."""
    t = int(cloud.clock.time())
    body = ActivationRequest(token=token, soft_ver="1.0.0", product_key=lic.pid, protocol_ver="2.3",
                             baseline_ver="40.07", options="{}", cad_ver="1.0.3", cd_ver="1.0.0", t=t,
                             dev_attribute=2048, hid=hid, dev_id=dev_id).to_json().encode()
    query, form = build_activation(lic.uuid, lic.auth_key, lic.pid, token, t=t, body=body)
    return decode_response(post_atop(cloud, query, form), lic.auth_key, 1)


def test_removal_frees_licence() -> None:
    for faults, clone_ok in (((), False), (("removal-frees-licence",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate_as(cloud, lic, world.token(), "aaaaaaaaaaaa").result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"], wipe=True)
            assert activate_as(cloud, lic, world.token(), "bbbbbbbbbbbb").success is clone_ok


def test_revocation_spares_activated_licence() -> None:
    for faults, again_ok in (((), False), (("revocation-spares-activated-licence",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate_as(cloud, lic, world.token(), "aaaaaaaaaaaa").result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"])
            cloud.app.revoke_licence(lic.uuid)
            assert activate_as(cloud, lic, world.token(), "aaaaaaaaaaaa").success is again_ok


def test_old_devid_vouches() -> None:
    for faults, clone_ok in (((), False), (("old-devid-vouches",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate_as(cloud, lic, world.token(), "aaaaaaaaaaaa").result
            assert first is not None
            assert not activate_as(cloud, lic, world.token(), "bbbbbbbbbbbb").success  # a clone without the devId
            assert activate_as(cloud, lic, world.token(), "bbbbbbbbbbbb", first["devId"]).success is clone_ok
