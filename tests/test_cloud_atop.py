"""The emulated cloud's ATOP endpoint over real HTTP: activation, every refusal, binding rules, reset, url_config."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cloud_helpers import (
    World,
    activate,
    activation_body,
    build_activation,
    build_reset,
    make_world,
    post,
    post_atop,
)

from harness import redaction
from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.cloud.records import CloudInputError
from harness.emulator.cloud.state import PURGE_EVERY_TOKENS, CloudState
from harness.emulator.cloud.store import SqliteStore, open_store
from harness.protocol.atop import ActivationRequest, UrlConfigRequest, UrlConfigResponse, decode_response
from harness.protocol.mqtt import preactivation_credentials
from harness.redaction import MASK, Redactor


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatedCloud]:
    with EmulatedCloud(clock=VirtualClock(), broker="none") as c:
        yield c


@pytest.fixture
def world(cloud: EmulatedCloud) -> World:
    return make_world(cloud)


def test_activation_v44_et1_answers_the_device_keys_and_binds_to_the_tokens_home(world: World) -> None:
    lic = world.licence()
    answer = activate(world.cloud, lic, world.token(), et=1)
    assert answer.success and answer.encrypted
    result = answer.result
    assert result is not None
    assert len(result["devId"]) == 20 and len(result["secKey"]) == 16 and len(result["localKey"]) == 16
    assert isinstance(result["schema"], str) and json.loads(result["schema"])[0]["id"] == 1
    assert result["resetFactory"] is False and result["timeZone"] == result["stdTimeZone"] == "+01:00"
    assert [d["devId"] for d in world.cloud.app.list_devices(world.owner, world.home)] == [result["devId"]]


def test_activation_opensdk_et3(world: World) -> None:
    lic = world.licence()
    answer = activate(world.cloud, lic, world.token(), et=3)
    assert answer.success and answer.result is not None
    assert world.cloud.app.device(world.owner, answer.result["devId"])["home"] == world.home


def test_same_licence_reactivating_keeps_its_dev_id(world: World) -> None:
    lic = world.licence()
    first = activate(world.cloud, lic, world.token())
    second = activate(world.cloud, lic, world.token())
    assert first.result and second.result and first.result["devId"] == second.result["devId"]
    assert first.result["secKey"] != second.result["secKey"]


def test_unknown_uuid_is_refused_in_plaintext(world: World) -> None:
    lic = world.licence()
    query, body = build_activation("pcunknownunknownunk0", lic.auth_key, lic.pid, world.token())
    answer = decode_response(post_atop(world.cloud, query, body), lic.auth_key, 1)
    assert not answer.success and not answer.encrypted and answer.error_code == "LICENSE_NOT_EXISTS"


def test_bad_sign_is_refused(world: World) -> None:
    lic = world.licence()
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    query = query[:-32] + ("0" * 32 if not query.endswith("0" * 32) else "1" * 32)
    answer = decode_response(post_atop(world.cloud, query, body), lic.auth_key, 1)
    assert answer.error_code == "SIGN_INVALID"


def test_wrong_key_body_does_not_decrypt(world: World) -> None:
    lic = world.licence()
    other = world.licence()
    good_query, _ = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    _, foreign_body = build_activation(lic.uuid, other.auth_key, lic.pid, world.token())
    answer = decode_response(post_atop(world.cloud, good_query, foreign_body), lic.auth_key, 1)
    assert answer.error_code in {"DECRYPT_FAILED", "ILLEGAL_PARAM"}


def test_revoked_licence_is_refused(world: World) -> None:
    lic = world.licence()
    world.cloud.app.revoke_licence(lic.uuid)
    assert activate(world.cloud, lic, world.token()).error_code == "LICENSE_REVOKED"


def test_product_mismatch_is_refused(world: World) -> None:
    lic = world.licence()
    answer = activate(world.cloud, lic, world.token(), pid="zzzzzzzzzzzzzzzz")
    assert answer.error_code == "FIRMWARE_NOT_MATCH" and answer.encrypted


def test_licence_in_use_by_another_hid(world: World) -> None:
    lic = world.licence()
    assert activate(world.cloud, lic, world.token(), hid="aaaaaaaaaaaa").success
    token = world.token()
    assert activate(world.cloud, lic, token, hid="bbbbbbbbbbbb").error_code == "LICENSE_IN_USE"
    assert activate(world.cloud, lic, token, hid="aaaaaaaaaaaa").success


def test_a_hid_less_reactivation_keeps_the_licence_tied_to_its_first_hardware_id(world: World) -> None:
    """§8 "one licence, one device": the licence stays tied to the first hardware id it saw, also after an
    activation that names none; another board is still refused."""
    lic = world.licence()
    assert activate(world.cloud, lic, world.token(), hid="aaaaaaaaaaaa").success
    assert activate(world.cloud, lic, world.token(), hid=None).success
    assert world.cloud.state.licences[lic.uuid].hid == "aaaaaaaaaaaa"
    assert activate(world.cloud, lic, world.token(), hid="bbbbbbbbbbbb").error_code == "LICENSE_IN_USE"


def test_every_activation_refusal_says_why_to_the_device_and_in_the_token_attempts(world: World) -> None:
    """A refused activation's errorMsg (to the device, sealed) and its recorded attempt name the cause: the
    revoked licence, the productKey, the hardware id, the binding rule (what a FAIL's diagnosis quotes)."""
    app, token = world.cloud.app, world.token()
    revoked, lic, bound = world.licence(), world.licence(), world.licence()
    app.revoke_licence(revoked.uuid)
    assert activate(world.cloud, bound, world.token(), hid="aaaaaaaaaaaa").success
    assert activate(world.cloud, lic, world.token(), hid="cccccccccccc").success
    thief = app.create_account("other")
    thief_home = app.create_home(thief, "elsewhere")
    guest = app.create_account("guest")
    app.set_member(world.owner, world.home, guest, "member")
    cases = [
        (activate(world.cloud, revoked, token), "LICENSE_REVOKED", [f"licence {revoked.uuid} is revoked"]),
        (activate(world.cloud, lic, token, pid="zzzzzzzzzzzzzzzz"), "FIRMWARE_NOT_MATCH",
         ["productKey zzzzzzzzzzzzzzzz", "not the licence's product"]),
        (activate(world.cloud, bound, token, hid="bbbbbbbbbbbb"), "LICENSE_IN_USE", ["in use", "hardware id differs"]),
        (activate(world.cloud, bound, world.token(thief, thief_home), hid="aaaaaaaaaaaa"), "DEVICE_ALREADY_BIND",
         ["binding refused (strong-other-account-refused)"]),
        (activate(world.cloud, world.licence(), world.token(guest, world.home)), "GUEST_NOT_SUPPORT_STRONG_BIND",
         ["binding refused (strong-guest-refused)"]),
    ]
    for answer, code, words in cases:
        assert answer.encrypted and answer.error_code == code, (code, answer)
        for word in words:
            assert word in (answer.error_msg or ""), (code, answer.error_msg)
    recorded = [(a["errorCode"], a["errorMsg"]) for a in app.token_attempts(world.owner, token)]
    assert recorded == [(c[1], c[0].error_msg) for c in cases[:3]]
    assert all(msg for _, msg in recorded)


def test_token_valid_just_before_600_s_and_expired_after(world: World) -> None:
    clock = world.cloud.clock
    assert isinstance(clock, VirtualClock)
    early, late = world.token(), world.token()
    clock.advance(599.0)
    assert activate(world.cloud, world.licence(), early).success
    clock.advance(1.5)
    answer = activate(world.cloud, world.licence(), late)
    assert answer.error_code == "EXPIRE" and "expired" in (answer.error_msg or "")


def test_consumed_token_is_refused(world: World) -> None:
    token = world.token()
    assert activate(world.cloud, world.licence(), token).success
    answer = activate(world.cloud, world.licence(), token)
    assert answer.error_code == "EXPIRE" and "used" in (answer.error_msg or "")


def test_unknown_token_is_refused(world: World) -> None:
    answer = activate(world.cloud, world.licence(), "ZZZZZZZZ")
    assert answer.error_code == "EXPIRE" and "unknown" in (answer.error_msg or "")


def test_wrong_region_token_is_refused(world: World) -> None:
    foreign = world.cloud.state.create_token(world.home, world.owner, region="AY")
    answer = activate(world.cloud, world.licence(), foreign.token)
    assert answer.error_code == "EXPIRE" and "region" in (answer.error_msg or "")


def test_strong_rebind_by_another_account_is_refused_until_removed(world: World) -> None:
    app = world.cloud.app
    lic = world.licence()
    first = activate(world.cloud, lic, world.token())
    assert first.result is not None
    dev_id = first.result["devId"]
    thief = app.create_account("other")
    thief_home = app.create_home(thief, "elsewhere")
    assert activate(world.cloud, lic, world.token(thief, thief_home)).error_code == "DEVICE_ALREADY_BIND"
    second_home = app.create_home(world.owner, "second home")
    moved = activate(world.cloud, lic, world.token(world.owner, second_home))
    assert moved.success, "the same account may move its strong-bound device between its homes"
    app.remove_device(world.owner, dev_id)
    again = activate(world.cloud, lic, world.token(thief, thief_home))
    assert again.success and again.result and again.result["devId"] == dev_id


def test_guest_cannot_pair_a_strong_device(world: World) -> None:
    app = world.cloud.app
    guest = app.create_account("guest")
    app.set_member(world.owner, world.home, guest, "member")
    answer = activate(world.cloud, world.licence(), world.token(guest, world.home))
    assert answer.error_code == "GUEST_NOT_SUPPORT_STRONG_BIND"


def _rebind(cloud: EmulatedCloud, mode: str) -> tuple[World, str, dict[str, object]]:
    world = make_world(cloud, category="cz", mode=mode)
    app = cloud.app
    admin = app.create_account("admin")
    app.set_member(world.owner, world.home, admin, "admin")
    lic = world.licence()
    assert activate(cloud, lic, world.token()).success
    other = app.create_account("new owner")
    other_home = app.create_home(other, "new home")
    answer = activate(cloud, lic, world.token(other, other_home))
    assert answer.success and answer.result is not None
    return world, admin, answer.result


def test_medium_rebind_notifies_previous_home_admins_and_resets(cloud: EmulatedCloud) -> None:
    world, admin, result = _rebind(cloud, "medium")
    assert result["resetFactory"] is True
    for account in (world.owner, admin):
        notes = cloud.app.notifications(account)
        assert [n["devId"] for n in notes] == [result["devId"]] and notes[0]["home"] == world.home


def test_weak_rebind_resets_without_notifying(cloud: EmulatedCloud) -> None:
    world, admin, result = _rebind(cloud, "weak")
    assert result["resetFactory"] is True
    assert cloud.app.notifications(world.owner) == [] and cloud.app.notifications(admin) == []


def test_remove_and_wipe_then_repair_answers_reset_factory(world: World) -> None:
    lic = world.licence()
    first = activate(world.cloud, lic, world.token())
    assert first.result is not None
    dev_id = first.result["devId"]
    world.cloud.app.remove_device(world.owner, dev_id, wipe=True)
    assert world.cloud.app.list_devices(world.owner, world.home) == []
    again = activate(world.cloud, lic, world.token())
    assert again.result is not None and again.result["devId"] == dev_id and again.result["resetFactory"] is True
    plain_removal = activate(world.cloud, lic, world.token())
    assert plain_removal.result is not None and plain_removal.result["resetFactory"] is False


def test_device_initiated_reset_unbinds(world: World) -> None:
    lic = world.licence()
    result = activate(world.cloud, lic, world.token()).result
    assert result is not None
    query, body = build_reset(result["devId"], result["secKey"])
    answer = decode_response(post_atop(world.cloud, query, body), result["secKey"], 1)
    assert answer.success and answer.encrypted
    assert world.cloud.app.list_devices(world.owner, world.home) == []
    history = world.cloud.state.devices[result["devId"]].history
    assert [h.event for h in history] == ["activated", "device-reset"]
    again = decode_response(post_atop(world.cloud, query, body), result["secKey"], 1)
    assert again.error_code == "GATEWAY_NOT_EXISTS"


def test_reset_with_a_bad_sign_is_refused(world: World) -> None:
    result = activate(world.cloud, world.licence(), world.token()).result
    assert result is not None
    query, body = build_reset(result["devId"], "x" * 16)
    answer = decode_response(post_atop(world.cloud, query, body), result["secKey"], 1)
    assert answer.error_code == "SIGN_INVALID"
    assert world.cloud.app.device(world.owner, result["devId"])["home"] == world.home


@pytest.mark.parametrize("path", ["/v2/url_config", "/v1/url_config", "/device/url_config"])
def test_url_config_points_at_this_cloud(cloud: EmulatedCloud, path: str) -> None:
    status, raw = post(cloud.http_url + path, UrlConfigRequest(region="EU").to_json().encode())
    assert status == 200
    answer = UrlConfigResponse.from_json(raw)
    assert answer.addr("httpsSelfUrl") == cloud.atop_url == answer.addr("httpUrl")
    assert answer.addr("mqttsSelfUrl") == answer.addr("mqttUrl") == f"{cloud.mqtt_host}:{cloud.mqtt_port}"


def test_a_token_cut_wrongly_is_refused_illegal_param_and_recorded_under_the_token_it_holds(world: World) -> None:
    pairing = world.cloud.app.get_token(world.owner, world.home)
    lic = world.licence()
    for text in (pairing.pairing_token, pairing.region + pairing.token, "ZZ" + pairing.token[:7]):
        body = json.loads(activation_body(pairing.token, lic.pid, t=1_700_000_000))
        body["token"] = text  # as a device builds it, past what ActivationRequest would let a client send
        query, form = build_activation(lic.uuid, lic.auth_key, lic.pid, text, body=json.dumps(body).encode())
        answer = decode_response(post_atop(world.cloud, query, form), lic.auth_key, 1)
        assert answer.error_code == "ILLEGAL_PARAM" and "token" in (answer.error_msg or ""), text
    attempts = world.cloud.app.token_attempts(world.owner, pairing.token)
    assert [(a["outcome"], a["errorCode"]) for a in attempts] == [("refused", "ILLEGAL_PARAM")] * 2  # not the third
    assert f"sent {pairing.pairing_token!r}, 14 characters" in attempts[0]["errorMsg"]
    assert activate(world.cloud, lic, pairing.token).success  # the right cut still activates


def test_attempts_are_recorded_per_token(world: World) -> None:
    token = world.token()
    lic = world.licence()
    assert activate(world.cloud, lic, token, pid="zzzzzzzzzzzzzzzz").error_code == "FIRMWARE_NOT_MATCH"
    assert activate(world.cloud, lic, token).success
    assert activate(world.cloud, world.licence(), token).error_code == "EXPIRE"
    attempts = world.cloud.app.token_attempts(world.owner, token)
    assert [(a["outcome"], a["errorCode"]) for a in attempts] == [
        ("refused", "FIRMWARE_NOT_MATCH"), ("activated", None), ("refused", "EXPIRE")]
    assert attempts[1]["home"] == world.home and attempts[1]["devId"]


# ---- the state's own rules, as the cloud answers them (issue "Detection power": survivors of cloud/state.py) -----


def test_a_used_token_a_revoked_licence_and_a_reset_device_stay_so_after_a_restart_from_the_state_file(
        tmp_path: Path) -> None:
    """A cloud served with ``--state`` keeps a token it marked used, a licence it revoked and a device that reset
    itself unbound (§4, §6, §8)."""
    state_file = tmp_path / "state.sqlite"
    with EmulatedCloud(clock=VirtualClock(), broker="none", state_path=state_file) as first:
        world = make_world(first)
        used, revoked, fresh = world.licence(), world.licence(), world.licence()
        token, spare = world.token(), world.token()
        assert activate(first, used, token).success
        first.app.revoke_licence(revoked.uuid)
        bound = activate(first, world.licence(), world.token()).result
        assert bound is not None
        query, body = build_reset(bound["devId"], bound["secKey"])
        assert decode_response(post_atop(first, query, body), bound["secKey"], 1).success
    with EmulatedCloud(clock=VirtualClock(), broker="none", state_path=state_file) as again:
        assert again.state.device_key(bound["devId"]) is None  # the device-initiated reset unbound it for good
        reused = activate(again, fresh, token)
        assert reused.error_code == "EXPIRE" and "used" in (reused.error_msg or ""), reused
        assert activate(again, revoked, spare).error_code == "LICENSE_REVOKED"


def test_revoking_an_unknown_licence_is_a_404_license_not_exists_naming_it(world: World) -> None:
    with pytest.raises(CloudInputError) as refused:
        world.cloud.app.revoke_licence("pcunknownunknownunk0")
    assert (refused.value.code, refused.value.status) == ("LICENSE_NOT_EXISTS", 404)
    assert refused.value.message == "no licence pcunknownunknownunk0"


def test_a_licence_is_a_pc_uuid_of_20_lowercase_characters_whose_secrets_every_redactor_learns(world: World) -> None:
    """§8: a 20-character UUID ("pc" + 18 lowercase letters and digits); its AuthKey and the MQTT password made of
    it never reach a report (DESIGN "Evidence")."""
    redactor = Redactor()
    redaction.register(redactor)
    try:
        licences = [world.licence() for _ in range(4)]
    finally:
        redaction.unregister(redactor)
    for lic in licences:
        assert re.fullmatch(r"pc[a-z0-9]{18}", lic.uuid), lic.uuid
        password = preactivation_credentials(lic.uuid, lic.auth_key).password
        assert redactor.redact(f"key {lic.auth_key} password {password}") == f"key {MASK} password {MASK}"


def test_a_licence_for_an_unknown_product_is_a_404_not_exists_naming_it(world: World) -> None:
    licences = len(world.cloud.state.licences)
    with pytest.raises(CloudInputError) as refused:
        world.cloud.app.issue_licence("nosuchproduct000")
    assert (refused.value.code, refused.value.status) == ("NOT_EXISTS", 404)
    assert refused.value.message == "no product nosuchproduct000"
    assert len(world.cloud.state.licences) == licences


def test_a_token_for_a_home_the_account_is_not_a_member_of_is_a_403_naming_both(world: World) -> None:
    stranger = world.cloud.app.create_account("stranger")
    with pytest.raises(CloudInputError) as refused:
        world.cloud.state.create_token(world.home, stranger)
    assert (refused.value.code, refused.value.status) == ("PERMISSION_DENIED", 403)
    assert refused.value.message == f"{stranger} is not a member of {world.home}"
    assert all(record.account != stranger for record in world.cloud.state.tokens.values())


def test_a_device_factory_reset_clears_its_dps_and_a_plain_reset_keeps_them(world: World) -> None:
    """§6 ``tuya.device.reset``: ``"type":"reset_factory"`` wipes the device's data, a plain reset keeps it."""
    for factory, kept in ((True, {}), (False, {"1": True})):
        result = activate(world.cloud, world.licence(), world.token()).result
        assert result is not None
        world.cloud.state.record_dps(result["devId"], {"1": True})
        body = {"t": 1_700_000_000, "type": "reset_factory"} if factory else None
        query, raw = build_reset(result["devId"], result["secKey"], body=body)
        assert decode_response(post_atop(world.cloud, query, raw), result["secKey"], 1).success
        assert world.cloud.state.devices[result["devId"]].dps == kept


def test_resetting_an_unknown_or_unbound_device_changes_nothing(world: World) -> None:
    result = activate(world.cloud, world.licence(), world.token()).result
    assert result is not None
    state = world.cloud.state
    assert state.device_reset(result["devId"]) is True
    history = list(state.devices[result["devId"]].history)
    assert state.device_reset(result["devId"], factory=True) is False
    assert state.devices[result["devId"]].history == history
    assert state.device_reset("pcnosuchdevicenosuch") is False


def test_a_device_reset_is_recorded_with_its_time_home_account_and_hardware_id(world: World) -> None:
    lic = world.licence()
    result = activate(world.cloud, lic, world.token(), hid="a1b2c3d4e5f6").result
    assert result is not None
    world.cloud.clock.advance(5.0)  # type: ignore[attr-defined]
    query, body = build_reset(result["devId"], result["secKey"])
    assert decode_response(post_atop(world.cloud, query, body), result["secKey"], 1).success
    event = world.cloud.state.devices[result["devId"]].history[-1]
    assert (event.event, event.home, event.account, event.hid) == ("device-reset", world.home, world.owner,
                                                                   "a1b2c3d4e5f6")
    assert event.at == world.cloud.clock.time()


def test_purge_forgets_exactly_the_tokens_retired_for_the_retention_time_and_their_attempts(tmp_path: Path) -> None:
    """Tokens expired or used ``token_retention_s`` ago (boundary included) go, with their attempts, in memory and
    in the state file; younger ones stay."""
    clock = VirtualClock()
    path = tmp_path / "state.sqlite"
    state = CloudState(clock=clock, store=open_store(path))
    product = state.create_product(name="p", category="sp")
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    lic = state.issue_licence(product.pid)
    old = state.create_token(home.home_id, owner.account_id).token
    quiet = state.create_token(home.home_id, owner.account_id).token  # retired too, and never presented
    clock.advance(10.0)
    young = state.create_token(home.home_id, owner.account_id).token
    for token in (old, young):
        state.note_token_layout(lic.uuid, "EU" + token + "abcd", "token cut wrongly")
    clock.advance(state.token_ttl_s + state.token_retention_s - 10.0)  # old retired exactly retention_s ago
    assert state.purge_tokens() == 2
    assert old not in state.tokens and old not in state.attempts and quiet not in state.tokens
    assert young in state.tokens and len(state.attempts[young]) == 1
    assert state.purge_tokens() == 0
    state.close()
    reopened = CloudState(clock=clock, store=open_store(path))
    assert old not in reopened.tokens and old not in reopened.attempts and quiet not in reopened.tokens
    assert young in reopened.tokens and len(reopened.attempts[young]) == 1
    reopened.close()


def test_consuming_a_token_later_marks_it_used_once_and_keeps_it_so_in_the_state_file(tmp_path: Path) -> None:
    """``consume_token`` (an activation made with ``consume=False``): the token is used from then on, at the time
    it was first consumed, and an unknown token is ignored."""
    clock = VirtualClock()
    path = tmp_path / "state.sqlite"
    state = CloudState(clock=clock, store=open_store(path))
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    token = state.create_token(home.home_id, owner.account_id).token
    clock.advance(3.0)
    state.consume_token(token)
    used_at = clock.time()
    assert state.tokens[token].consumed_at == used_at
    clock.advance(4.0)
    state.consume_token(token)
    state.consume_token("ZZZZZZZZ")
    assert state.tokens[token].consumed_at == used_at and "ZZZZZZZZ" not in state.tokens
    state.close()
    reopened = CloudState(clock=clock, store=open_store(path))
    assert reopened.tokens[token].consumed_at == used_at
    reopened.close()


def test_token_creation_purges_after_exactly_purge_every_tokens_new_tokens() -> None:
    """create_token looks for retired tokens every PURGE_EVERY_TOKENS tokens, counted from the last purge."""
    clock = VirtualClock()
    state = CloudState(clock=clock)
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    assert state.purge_tokens() == 0  # the count starts again here
    retired = state.create_token(home.home_id, owner.account_id).token
    clock.advance(state.token_ttl_s + state.token_retention_s + 1.0)
    for _ in range(PURGE_EVERY_TOKENS - 2):
        state.create_token(home.home_id, owner.account_id)
    assert retired in state.tokens  # PURGE_EVERY_TOKENS - 1 tokens since the purge
    state.create_token(home.home_id, owner.account_id)
    assert retired not in state.tokens and len(state.tokens) == PURGE_EVERY_TOKENS - 1


def test_a_device_going_online_is_seen_now_and_written_for_the_other_workers_of_a_shared_state(
        tmp_path: Path) -> None:
    """``cloud serve --workers N``: the broker runs in one worker, so the online flag and the time the device was
    last seen reach the others through the shared store."""
    clock = VirtualClock()
    path = tmp_path / "state.sqlite"
    state = CloudState(clock=clock, store=SqliteStore(path, shared=True))
    product = state.create_product(name="p", category="sp")
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    lic = state.issue_licence(product.pid)
    token = state.create_token(home.home_id, owner.account_id).token
    request = ActivationRequest(token=token, soft_ver="1.0.0", product_key=product.pid, protocol_ver="2.2",
                                baseline_ver="40.00", options='{"isFK":true}', cad_ver="1.0.2", cd_ver="1.0.0",
                                t=1_700_000_000, hid="0123456789ab", extras={})
    result = state.activate(lic.uuid, request).result
    assert result is not None
    clock.advance(7.0)
    state.set_online(result.dev_id, True)
    assert state.devices[result.dev_id].last_seen == clock.time()
    other = CloudState(clock=clock, store=SqliteStore(path, shared=True))
    try:
        seen = other.devices[result.dev_id]
        assert (seen.online, seen.last_seen) == (True, clock.time())
    finally:
        other.close()
        state.close()
