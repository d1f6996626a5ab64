"""Each cloud fault observably changes behaviour against the conformant cloud."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _cloud_helpers import World, activate, build_activation, make_world, post, post_atop
from _tls_helpers import DeviceMqtt

import harness.emulator.cloud
from harness.clock import VirtualClock
from harness.emulator.broker.authority import CredentialAuthority
from harness.emulator.cloud import (
    CLOUD_FAULTS,
    CloudBehaviour,
    CloudInputError,
    EmulatedCloud,
    behaviour_class,
    register_cloud_fault,
)
from harness.emulator.cloud.activation import Activation, ActivationOutcome
from harness.emulator.cloud.faults import SEQUENTIAL_TOKEN_STRIDE, TOKEN_ID_SPACE
from harness.emulator.cloud.records import ALNUM
from harness.model.token import TokenRecord
from harness.protocol.atop import decode_response


def faulted(*faults: str) -> EmulatedCloud:
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
    for faults, expect in (((), "EXPIRE"), (("token-never-expires",), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            assert isinstance(cloud.clock, VirtualClock)
            cloud.clock.advance(3600)
            assert activate(cloud, world.licence(), token).error_code == expect


def test_token_reusable() -> None:
    for faults, expect in (((), "EXPIRE"), (("token-reusable",), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            assert activate(cloud, world.licence(), token).success
            assert activate(cloud, world.licence(), token).error_code == expect


def test_token_not_bound_to_home() -> None:
    for faults, lands_in_token_home in (((), True), (("token-not-bound-to-home",), False)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            cloud.app.create_home(world.owner, "second")
            result = activate(cloud, world.licence(), world.token()).result
            assert result is not None
            assert (cloud.state.devices[result["devId"]].home == world.home) is lands_in_token_home


def test_strong_allows_rebind() -> None:
    for faults, rebinds in (((), False), (("strong-allows-rebind",), True)):
        with faulted(*faults) as cloud:
            assert _rebind(make_world(cloud))[2] is rebinds


@pytest.mark.parametrize(("mode", "fault", "notified_normally"), [
    ("medium", "medium-no-notify", True),
    ("weak", "weak-notifies", False),
])
def test_rebind_notification_faults(mode: str, fault: str, notified_normally: bool) -> None:
    for faults, notified in (((), notified_normally), ((fault,), not notified_normally)):
        with faulted(*faults) as cloud:
            world, _, ok = _rebind(make_world(cloud, category="cz", mode=mode))
            assert ok
            assert bool(cloud.app.notifications(world.owner)) is notified


def test_licence_unchecked_accepts_a_bad_sign_and_a_cloned_key_under_a_made_up_uuid() -> None:
    for faults, accepted in (((), False), (("licence-unchecked",), True)):
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
    for faults, second_hid_ok in (((), False), (("licence-shared",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            assert activate(cloud, lic, world.token(), hid="111111111111").success
            assert activate(cloud, lic, world.token(), hid="222222222222").success is second_hid_ok


def test_revoked_licence_accepted() -> None:
    for faults, ok in (((), False), (("revoked-licence-accepted",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            cloud.app.revoke_licence(lic.uuid)
            assert activate(cloud, lic, world.token()).success is ok


def test_broker_no_acl_turns_off_the_authoritys_topic_checks() -> None:
    from harness.emulator.broker.embedded import BrokerIdentity, CredentialAuthority

    for faults, enforced in (((), True), (("broker-no-acl",), False)):
        cloud = EmulatedCloud(clock=VirtualClock(), faults=faults)
        authority = cloud.authority
        assert isinstance(authority, CredentialAuthority)
        assert authority.enforce_acl is enforced
        authority.set_device("devA", os.urandom(8).hex())
        assert authority.may_subscribe(BrokerIdentity("device", "devA"), "smart/device/in/devB") is not enforced


def test_token_consume_race_lets_two_racing_activations_win_but_not_a_later_one() -> None:
    for faults, winners in (((), 1), (("token-consume-race",), 2)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token = world.token()
            licences = [world.licence() for _ in range(3)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                racing = [pool.submit(activate, cloud, lic, token, hid=os.urandom(6).hex()) for lic in licences[:2]]
                answers = [future.result() for future in racing]
            assert sum(a.success for a in answers) == winners
            assert activate(cloud, licences[2], token, hid=os.urandom(6).hex()).error_code == "EXPIRE"


def test_token_reusable_by_same_device_only() -> None:
    for faults, same_device_ok in (((), False), (("token-reusable-by-same-device",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            token, lic = world.token(), world.licence()
            first = activate(cloud, lic, token).result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"], wipe=True)
            assert activate(cloud, world.licence(), token, hid="bbbbbbbbbbbb").error_code == "EXPIRE"
            assert activate(cloud, lic, token).success is same_device_ok


def test_sequential_tokens_step_by_a_fixed_stride() -> None:
    def value(token: str) -> int:
        out = 0
        for char in token:
            out = out * len(ALNUM) + ALNUM.index(char)
        return out

    for faults, sequential in (((), False), (("sequential-tokens",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            values = [value(world.token()) for _ in range(3)]
            steps = {(b - a) % TOKEN_ID_SPACE for a, b in itertools.pairwise(values)}
            assert (steps == {SEQUENTIAL_TOKEN_STRIDE}) is sequential


def test_opensdk_activation_unserved() -> None:
    for faults, opensdk_error in (((), None), (("opensdk-activation-unserved",), "UNKNOWN_API")):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            assert activate(cloud, world.licence(), world.token(), et=3).error_code == opensdk_error
            assert activate(cloud, world.licence(), world.token(), hid="bbbbbbbbbbbb", et=1).success


def test_unknown_uuid_accepted_under_a_cloned_key_but_not_a_bad_sign() -> None:
    for faults, accepted in (((), False), (("unknown-uuid-accepted",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            clone = world.licence()
            query, body = build_activation("pcmadeupmadeupmadeup", clone.auth_key, clone.pid, world.token())
            assert decode_response(post_atop(cloud, query, body), clone.auth_key, 1).success is accepted
            query, body = build_activation("pcmadeupmadeupmadeuq", clone.auth_key, clone.pid, world.token())
            assert not decode_response(post_atop(cloud, query[:-32] + "0" * 32, body), clone.auth_key, 1).success


def test_authkey_any_issued_accepts_another_licences_key_not_a_made_up_one() -> None:
    for faults, accepted in (((), False), (("authkey-any-issued",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic, other = world.licence(), world.licence()
            query, body = build_activation(lic.uuid, other.auth_key, lic.pid, world.token())
            assert decode_response(post_atop(cloud, query, body), other.auth_key, 1).success is accepted
            made_up = "k" * len(lic.auth_key)
            query, body = build_activation(lic.uuid, made_up, lic.pid, world.token())
            assert decode_response(post_atop(cloud, query, body), lic.auth_key, 1).error_code == "SIGN_INVALID"


def test_licence_product_unchecked() -> None:
    for faults, expect in (((), "FIRMWARE_NOT_MATCH"), (("licence-product-unchecked",), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            other = cloud.app.create_product(name="other", category="sp")
            assert activate(cloud, world.licence(), world.token(), pid=other.pid).error_code == expect


@pytest.mark.parametrize("wipe", [False, True], ids=["remove", "remove-and-wipe"])
def test_strong_remove_keeps_binding_unless_wiped(wipe: bool) -> None:
    for faults, released in (((), True), (("strong-remove-keeps-binding",), wipe)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate(cloud, lic, world.token()).result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"], wipe=wipe)
            other = cloud.app.create_account("other")
            answer = activate(cloud, lic, world.token(other, cloud.app.create_home(other, "theirs")))
            assert answer.error_code == (None if released else "DEVICE_ALREADY_BIND")


def test_guest_may_bind_strong() -> None:
    for faults, expect in (((), "GUEST_NOT_SUPPORT_STRONG_BIND"), (("guest-may-bind-strong",), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            guest = cloud.app.create_account("guest")
            cloud.app.set_member(world.owner, world.home, guest, "member")
            assert activate(cloud, world.licence(), world.token(guest)).error_code == expect


def test_strong_refuses_owner_move() -> None:
    for faults, expect in (((), None), (("strong-refuses-owner-move",), "DEVICE_ALREADY_BIND")):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            assert activate(cloud, lic, world.token()).success
            assert activate(cloud, lic, world.token()).success  # the same home: allowed either way
            attic = cloud.app.create_home(world.owner, "attic")
            assert activate(cloud, lic, world.token(home=attic)).error_code == expect


@pytest.mark.parametrize("wipe", [False, True], ids=["remove", "remove-and-wipe"])
def test_removed_device_stays_indexed_refuses_its_old_home_only(wipe: bool) -> None:
    for faults, expect in (((), None), (("removed-device-stays-indexed",), "DEVICE_ALREADY_BIND")):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            first = activate(cloud, lic, world.token()).result
            assert first is not None
            cloud.app.remove_device(world.owner, first["devId"], wipe=wipe)
            assert cloud.app.list_devices(world.owner, world.home) == []  # unbound and unlisted, either way
            assert activate(cloud, lic, world.token()).error_code == expect  # back into the same home
            attic = cloud.app.create_home(world.owner, "attic")
            assert activate(cloud, lic, world.token(home=attic)).success  # another home: fine either way


def test_removed_device_stays_indexed_spares_a_device_side_reset() -> None:
    with faulted("removed-device-stays-indexed") as cloud:
        world = make_world(cloud)
        lic = world.licence()
        first = activate(cloud, lic, world.token()).result
        assert first is not None
        assert cloud.state.device_reset(first["devId"])  # tuya.device.reset from the device: not a removal
        assert activate(cloud, lic, world.token()).success


@pytest.mark.parametrize("mode", ["strong", "medium", "weak"])
def test_owner_move_notifies_the_previous_homes_admins(mode: str) -> None:
    for faults, notified in (((), False), (("owner-move-notifies",), True)):
        with faulted(*faults) as cloud:
            world = make_world(cloud, category="sp" if mode == "strong" else "cz", mode=mode)
            lic = world.licence()
            assert activate(cloud, lic, world.token()).success
            assert activate(cloud, lic, world.token()).success  # the same home again: nobody is told either way
            assert cloud.app.notifications(world.owner) == []
            attic = cloud.app.create_home(world.owner, "attic")
            assert activate(cloud, lic, world.token(home=attic)).success
            assert bool(cloud.app.notifications(world.owner)) is notified


def test_camera_binding_changeable() -> None:
    with faulted() as cloud, pytest.raises(CloudInputError):
        cloud.app.create_product(name="cam", category="sp", binding_mode="medium")
    with faulted("camera-binding-changeable") as cloud:
        assert cloud.app.create_product(name="cam", category="sp", binding_mode="weak").binding_mode == "weak"
        assert cloud.app.create_product(name="cam", category="sp").binding_mode == "strong"


def test_broker_password_any_device_admits_another_devices_password_under_an_identity() -> None:
    from harness.emulator.broker.embedded import BrokerIdentity, CredentialAuthority
    from harness.protocol.mqtt import device_credentials

    for faults, posing_admitted in (((), False), (("broker-password-any-device",), True)):
        authority = EmulatedCloud(clock=VirtualClock(), faults=faults).authority
        assert isinstance(authority, CredentialAuthority)
        keys = {"devA": os.urandom(8).hex(), "devB": os.urandom(8).hex()}
        for dev_id, key in keys.items():
            authority.set_device(dev_id, key)
        posing = device_credentials("devA", keys["devB"])
        identity = authority.authenticate("devA", "devA", posing.password)
        assert (identity == BrokerIdentity("device", "devA")) is posing_admitted
        assert authority.authenticate("devA", "devA", "0" * 16) is None
    with pytest.raises(ValueError, match="embedded broker"):
        EmulatedCloud(clock=VirtualClock(), broker="mosquitto", faults=["broker-password-any-device"])


def test_fault_names_resolve_combine_and_unknown_ones_are_refused() -> None:
    assert behaviour_class() is CloudBehaviour
    assert behaviour_class(["token-reusable"]).fault_names == ("token-reusable",)
    both = behaviour_class(["token-reusable", "broker-no-acl"])
    assert both.fault_names == ("token-reusable", "broker-no-acl")
    behaviour = both()
    assert not behaviour.enforces_acl() and behaviour.served_apis() == CloudBehaviour().served_apis()
    with pytest.raises(ValueError, match="unknown cloud fault 'nope'"):
        behaviour_class(["nope"])
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_here'"):
        behaviour_class(["no_such_module_here:Fault"])
    with pytest.raises(ValueError, match="not a subclass of CloudBehaviour"):
        behaviour_class(["harness.emulator.cloud.records:Device"])
    with faulted("token-reusable", "sequential-tokens") as cloud:
        assert cloud.faults == ("token-reusable", "sequential-tokens")


def test_every_catalogued_fault_says_what_it_breaks_and_has_a_test_here() -> None:
    here = Path(__file__).parent
    source = "".join((here / n).read_text(encoding="utf-8") for n in ("test_cloud_faults.py",
                                                                      "test_cloud_faults_detection.py"))
    for name, entry in CLOUD_FAULTS.items():
        assert entry.description and entry.requirement and issubclass(entry.cls, CloudBehaviour)
        if entry.cls.__module__ in ("harness.emulator.cloud.faults", "harness.emulator.cloud.token_faults",
                                    "harness.emulator.cloud.licence_faults"):
            assert f'"{name}"' in source, f"the cloud fault {name} has no test here"


def test_the_conformant_path_carries_no_fault_switches() -> None:
    """The modules that decide import no fault: faults are subclasses of the behaviour, not branches."""
    package = Path(harness.emulator.cloud.__file__).parent
    for path in [*(package / f"{m}.py" for m in ("state", "atop", "activation", "behaviour", "link", "records")),
                 package.parent / "broker" / "authority.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.endswith("faults")}, f"{path.name} imports the faults"
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        switches = {n for n in names if re.search(r"(^|_)fault", n.lower())} - {"fault_names"}
        assert not switches, f"{path.name} switches on a fault: {switches}"
        texts = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert not texts & set(CLOUD_FAULTS), f"{path.name} names a fault"


def test_the_lab_switches_faults_at_run_time_broker_included_but_only_by_registered_name() -> None:
    cloud = EmulatedCloud(clock=VirtualClock(), faults=["token-reusable"])
    authority = cloud.authority
    assert isinstance(authority, CredentialAuthority) and authority.enforce_acl
    assert cloud.app.set_faults(["broker-no-acl"]) == ["broker-no-acl"]
    assert cloud.faults == ("broker-no-acl",) and not authority.enforce_acl
    with pytest.raises(CloudInputError, match="unknown cloud faults"):
        cloud.app.set_faults(["harness.emulator.cloud.faults:TokenReusable"])
    assert cloud.app.set_faults([]) == [] and authority.enforce_acl


# ------------------------------------------------------------------------------------------ from outside


class TokensNeverUsedUp(CloudBehaviour):
    """A fault defined outside the package, the documented way (README): subclass, override two hooks."""

    def find_token(self, a: Activation) -> ActivationOutcome | None:
        a.consume = False
        return super().find_token(a)

    def token_as_checked(self, a: Activation) -> TokenRecord | None:
        checked = super().token_as_checked(a)
        return None if checked is None else dataclasses.replace(checked, consumed_at=None)


@pytest.fixture
def never_used_up() -> Iterator[type[CloudBehaviour]]:
    """Registered for this test only: the catalogue is global, and other tests check it lists the built-ins."""
    register_cloud_fault("test-tokens-never-used-up", "a used token activates again",
                         requirement="PROTOCOL.md §0")(TokensNeverUsedUp)
    try:
        yield TokensNeverUsedUp
    finally:
        CLOUD_FAULTS.pop("test-tokens-never-used-up", None)


@pytest.mark.parametrize("spec", ["test-tokens-never-used-up", f"{__name__}:TokensNeverUsedUp", "class"])
def test_a_fault_from_outside_works_and_is_named_like_a_built_in_one(never_used_up: type[CloudBehaviour],
                                                                      spec: str) -> None:
    fault: str | type[CloudBehaviour] = never_used_up if spec == "class" else spec
    with EmulatedCloud(clock=VirtualClock(), broker="none", faults=[fault, "broker-no-acl"]) as cloud:
        assert cloud.faults == ("test-tokens-never-used-up", "broker-no-acl")
        world = make_world(cloud)
        token = world.token()
        assert activate(cloud, world.licence(), token).success
        assert activate(cloud, world.licence(), token, hid="bbbbbbbbbbbb").success  # the fault: used again


def test_token_lookup_fails_open_lets_a_never_issued_token_activate() -> None:
    for faults, expect in (((), "EXPIRE"), (("token-lookup-fails-open",), None)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            issued = world.token()
            guessed = issued[:2] + ("a" if issued[2] != "a" else "b") + issued[3:]
            reply = activate(cloud, world.licence(), guessed)
            assert reply.error_code == expect
            if expect is None:  # served the newest token's home, and that token is still unused
                assert reply.result is not None and cloud.state.devices[reply.result["devId"]].home == world.home
                assert activate(cloud, world.licence(), issued, hid="bbbbbbbbbbbb").success


@pytest.mark.parametrize("body", [b"not a form body", b"data=zz-not-hex", b"data=abc"])
def test_atop_500_on_malformed_body(body: bytes) -> None:
    for faults, status in (((), 200), (("atop-500-on-malformed-body",), 500)):
        with faulted(*faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            query, _ = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
            got, raw = post(f"{cloud.atop_url}?{query}", body,
                            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
            assert got == status, raw
            if status == 200:
                assert not decode_response(raw, lic.auth_key, 1).success


def test_cloud_serve_refuses_a_fault_that_names_nothing() -> None:
    from click.testing import CliRunner

    from harness.emulator.cloud.cli import serve

    done = CliRunner().invoke(serve, ["--broker", "none", "--fault", "token-reusable", "--fault", "nope"])
    assert done.exit_code == 2 and "unknown cloud fault 'nope'" in done.output, done.output


# -------------------------------------------------------------------------------------- binding by UUID (§11.6)


def _waiting(cloud: EmulatedCloud, uuid: str, auth_key: str, pv: str | None = "2.3") -> DeviceMqtt:
    from harness.protocol import mqtt as mq

    creds = mq.preactivation_credentials(uuid, auth_key, pv="2.3" if pv else None)
    device = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password)
    device.subscribe(mq.preactivation_topic(uuid))
    return device


def test_bind_token_never_expires() -> None:
    for faults, expect in (((), "EXPIRE"), (("bind-token-never-expires",), None)):
        with EmulatedCloud(clock=VirtualClock(), faults=faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            device = _waiting(cloud, lic.uuid, lic.auth_key)
            try:
                grant = cloud.app.bind_uuid(world.owner, world.home, lic.uuid)
            finally:
                device.close()
            assert isinstance(cloud.clock, VirtualClock)
            cloud.clock.advance(3600)
            assert activate(cloud, lic, grant.token).error_code == expect


def test_bind_skips_binding_rules() -> None:
    for faults, expect in (((), "DEVICE_ALREADY_BIND"), (("bind-skips-binding-rules",), "DEVICE_OFFLINE")):
        with EmulatedCloud(clock=VirtualClock(), faults=faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            assert activate(cloud, lic, world.token()).success  # strong-bound to the world's owner
            other = cloud.app.create_account("other")
            with pytest.raises(CloudInputError) as refused:
                cloud.app.bind_uuid(other, cloud.app.create_home(other, "elsewhere"), lic.uuid)
            assert refused.value.code == expect


def test_bind_pushes_to_anyone() -> None:
    with EmulatedCloud(clock=VirtualClock()) as cloud:
        world = make_world(cloud)
        with pytest.raises(CloudInputError, match="no device with UUID"):
            cloud.app.bind_uuid(world.owner, world.home, "pcnosuchuuid00000000")
    with EmulatedCloud(clock=VirtualClock(), faults=["bind-pushes-to-anyone"]) as cloud:
        world = make_world(cloud)
        grant = cloud.app.bind_uuid(world.owner, world.home, "pcnosuchuuid00000000")
        assert grant.home == world.home and len(grant.token) == 8


def test_active_token_push_always_2_3() -> None:
    for faults, expect in (((), "2.2"), (("active-token-push-always-2.3",), "2.3")):
        with EmulatedCloud(clock=VirtualClock(), faults=faults) as cloud:
            world = make_world(cloud)
            lic = world.licence()
            device = _waiting(cloud, lic.uuid, lic.auth_key, pv=None)  # the connect-kit's bare acon_<uuid>
            try:
                assert cloud.app.bind_uuid(world.owner, world.home, lic.uuid).pv == expect
            finally:
                device.close()
