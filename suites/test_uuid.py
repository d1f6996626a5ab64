"""Binding by UUID: the device shows a QR code holding its UUID and waits as acon_<uuid> on d/ai/<uuid>; the app
binds that UUID into a home and the cloud pushes the device a token (protocol 46), with which it activates
(PROTOCOL.md §11.6, the SDKs' default token source; §11.9.1 for TuyaOpen).

The token's lifetime, its single use and the push's envelope are checked with a lab device that waits as the
real one does (a probe with a licence the lab issues), since a real device activates the moment it is pushed."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from harness.adapters import probes
from harness.adapters.contracts import BindRefused, CloudAdapter, DeviceAdapter, Licence
from harness.conformance.lab import Lab
from harness.model import ActivatorErrorCode

pytestmark = pytest.mark.requires("cloud:bind-by-uuid")


def issue(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> Licence:
    licence = cloud.issue_licence(device.pid)
    lab.redactor.add(licence.auth_key)
    return licence


@pytest.fixture
def waiting(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> Iterator[tuple[Licence, probes.MqttSession]]:
    """A lab device of the same product waiting to be bound by its UUID, with TuyaOpen's ``|pv=2.3`` login."""
    licence = issue(lab, cloud, device)
    with probes.waiting_device(probes.cloud_endpoints(cloud), licence.uuid, licence.auth_key) as session:
        yield licence, session


def activate(cloud: CloudAdapter, licence: Licence, token: str) -> probes.ActivationReply:
    """The waiting lab device activating with the token it was pushed (§4)."""
    return probes.activate_raw(probes.cloud_endpoints(cloud), uuid=licence.uuid, auth_key=licence.auth_key,
                               pid=licence.pid, token=token, hid=probes.new_hid(), t=int(cloud.clock.time()))


def homes_holding(cloud: CloudAdapter, uuid: str, homes: list[str]) -> list[str]:
    return [home for home in homes if any(d.uuid == uuid for d in cloud.list_devices(home))]


@pytest.mark.tc("TC-UUID-001", reqs=["REQ-UUID-001"])
@pytest.mark.requires("device:bind-by-uuid")
def test_a_device_bound_by_its_uuid_activates_into_the_apps_home(lab: Lab, cloud: CloudAdapter,
                                                                 device: DeviceAdapter) -> None:
    """PROTOCOL.md §11.6: "the app tells the cloud to bind the device's UUID into a home; the cloud issues a token
    for that home and pushes it"; the device activates with it and comes online, and the app hears success."""
    account = lab.account()
    other, chosen = lab.home(account), lab.home(account)
    outcome = lab.bind_by_uuid(account=account, home=chosen)
    assert outcome.ok, f"binding by UUID did not pair the device: {outcome.error}"
    assert outcome.device_model is not None and outcome.device_model.home == chosen
    assert homes_holding(cloud, device.licence.uuid, [other, chosen]) == [chosen]
    assert outcome.token is not None
    attempts = [a.outcome for a in cloud.token_attempts(outcome.token)]
    assert "activated" in attempts, f"the pushed token's attempts show no activation: {attempts}"
    record = cloud.device(outcome.device_model.dev_id)
    assert record is not None and record.online, "the device bound by UUID is not online on MQTT"


@pytest.mark.tc("TC-UUID-002", reqs=["REQ-UUID-002"])
@pytest.mark.requires("cloud:issue-licences", "cloud:time-travel")
def test_a_pushed_token_activates_nothing_after_its_lifetime(lab: Lab, cloud: CloudAdapter,
                                                             waiting: tuple[Licence, probes.MqttSession]) -> None:
    """"The Token is valid for 10 minutes" (seed) holds for a pushed token: once token_ttl_s has passed since the
    bind, the device that was pushed it cannot activate with it."""
    licence, session = waiting
    home = lab.home()
    token = cloud.bind_device_by_uuid(home, licence.uuid, account=lab.default_account)
    pushes = probes.token_pushes(session, licence.uuid, licence.auth_key)
    assert [p.token for p in pushes] == [token[2:10]], f"the waiting device was pushed {pushes}, not the token"
    lab.advance(lab.token_lifetime_s + 1)
    reply = activate(cloud, licence, token)
    assert not reply.accepted, "a pushed token activated a device after its lifetime had passed"
    assert homes_holding(cloud, licence.uuid, [home]) == []


@pytest.mark.tc("TC-UUID-003", reqs=["REQ-UUID-002"])
@pytest.mark.requires("cloud:issue-licences")
def test_a_pushed_token_is_consumed_by_its_activation(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                      waiting: tuple[Licence, probes.MqttSession]) -> None:
    """PROTOCOL.md §0 step 6: the token "becomes invalid once pairing succeeds"; a pushed token, too, pairs one
    device once: another device presenting it afterwards activates nothing."""
    licence, session = waiting
    home = lab.home()
    token = cloud.bind_device_by_uuid(home, licence.uuid, account=lab.default_account)
    assert probes.token_pushes(session, licence.uuid, licence.auth_key), "the waiting device was pushed nothing"
    first = activate(cloud, licence, token)
    assert first.accepted, f"the pushed token did not activate the device it was pushed to: {probes.describe(first)}"
    stranger = issue(lab, cloud, device)
    second = activate(cloud, stranger, token)
    assert not second.accepted, "a pushed token activated a second device after it had paired one"
    assert homes_holding(cloud, stranger.uuid, [home]) == []


@pytest.mark.tc("TC-UUID-004", reqs=["REQ-UUID-003", "REQ-UUID-001"])
@pytest.mark.requires("device:bind-by-uuid", "binding:strong")
def test_another_account_cannot_bind_a_strong_bound_device_by_its_uuid(lab: Lab, cloud: CloudAdapter,
                                                                       device: DeviceAdapter) -> None:
    """PROTOCOL.md §6/§7: a strong-bound device of account A is refused to account B (3711, DeviceAlreadyBound),
    by UUID as by token, and stays in A's home."""
    owner = lab.account()
    owner_home = lab.home(owner)
    first = lab.bind_by_uuid(account=owner, home=owner_home)
    assert first.ok, f"the owner's bind by UUID did not pair the device (REQ-UUID-001 requires it to): {first.error}"
    stranger = lab.account()
    stranger_home = lab.home(stranger)
    outcome = lab.bind_by_uuid(account=stranger, home=stranger_home)
    assert not outcome.ok, "another account bound a strong-bound device by its UUID"
    assert outcome.code == ActivatorErrorCode.DEVICE_ALREADY_BOUND, \
        f"expected 3711 (already bound), got {outcome.error}"
    assert homes_holding(cloud, device.licence.uuid, [owner_home, stranger_home]) == [owner_home]


@pytest.mark.tc("TC-UUID-005", reqs=["REQ-UUID-004"])
def test_binding_an_unknown_uuid_is_a_clear_error(lab: Lab, cloud: CloudAdapter) -> None:
    """A UUID the cloud never issued binds nothing: the app hears 3714 (APPUnsupportUUID), no token is issued."""
    home = lab.home()
    unknown = "pc" + secrets.token_hex(9)
    try:
        token = cloud.bind_device_by_uuid(home, unknown, account=lab.default_account)
    except BindRefused as refused:
        assert refused.code, f"the cloud refused binding the unknown UUID {unknown} without an error code"
    else:
        pytest.fail(f"the cloud issued token {token} for UUID {unknown}, which it never issued, instead of "
                    f"refusing the bind (3714 APPUnsupportUUID required)")
    outcome = lab.bind_by_uuid(home=home, uuid=unknown)
    assert outcome.code == ActivatorErrorCode.APP_UNSUPPORT_UUID, f"expected 3714, got {outcome.error}"


@pytest.mark.tc("TC-UUID-006", reqs=["REQ-UUID-004"])
@pytest.mark.requires("cloud:issue-licences")
def test_binding_a_device_that_is_not_waiting_is_a_clear_error(lab: Lab, cloud: CloudAdapter,
                                                                device: DeviceAdapter) -> None:
    """A device whose UUID the cloud knows but that is not connected and waiting on d/ai/<uuid> cannot be pushed
    a token: the app hears 3709 (DeviceNotConnectMQTT) at once, not a timeout."""
    licence = issue(lab, cloud, device)
    home = lab.home()
    outcome = lab.bind_by_uuid(home=home, uuid=licence.uuid)
    assert not outcome.ok, f"binding UUID {licence.uuid}, on which no device waits, paired a device"
    issued = "" if outcome.token is None else f"; the cloud issued token {outcome.token} for it instead"
    assert outcome.code == ActivatorErrorCode.DEVICE_NOT_CONNECT_MQTT, \
        f"binding UUID {licence.uuid}, on which no device waits, was not refused with 3709 (DeviceNotConnectMQTT) " \
        f"at once: the app got {outcome.error}{issued}"
    assert outcome.token is None, "the cloud issued a token for a device that is not waiting"


@pytest.mark.tc("TC-UUID-007", reqs=["REQ-UUID-005"])
@pytest.mark.requires("cloud:issue-licences")
@pytest.mark.parametrize(("login_pv", "envelope"), [("2.3", "2.3"), (None, "2.2")], ids=["pv-2.3", "no-suffix"])
def test_the_push_uses_the_envelope_of_the_devices_login(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                         login_pv: str | None, envelope: str) -> None:
    """PROTOCOL.md §11.9.1: TuyaOpen logs in as acon_<uuid>|pv=2.3 and opens only 2.3; the connect-kit logs in
    without a suffix and reads 2.2: "the push's version must follow the acon login"."""
    licence = issue(lab, cloud, device)
    with probes.waiting_device(probes.cloud_endpoints(cloud), licence.uuid, licence.auth_key, pv=login_pv) as session:
        token = cloud.bind_device_by_uuid(lab.home(), licence.uuid, account=lab.default_account)
        pushes = probes.token_pushes(session, licence.uuid, licence.auth_key)
    assert pushes, "the waiting device was pushed nothing"
    assert [p.pv for p in pushes] == [envelope], \
        f"a login {'with |pv=' + login_pv if login_pv else 'without a suffix'} was pushed {[p.pv for p in pushes]}"
    assert (pushes[0].token, pushes[0].region) == (token[2:10], token[:2])
