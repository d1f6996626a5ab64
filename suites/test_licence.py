"""Licence rejection: an activation is accepted only with a valid licence (UUID and AuthKey) of the device's own
product, used by one device; a refused device is in no home and its pre-activation MQTT login is refused
(seed "device-cloud-binding", PROTOCOL.md §4.2, §5, §8).

The refusals are driven by a lab probe that activates as a device would, with licences the lab issues."""

from __future__ import annotations

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, Licence
from harness.conformance.lab import Lab
from harness.conformance.verdicts import Blocked
from harness.model import BindingMode
from harness.profiles import Profile
from harness.protocol.mqtt import preactivation_credentials

pytestmark = pytest.mark.requires("cloud:issue-licences")


def activate(lab: Lab, licence: Licence, *, home: str, auth_key: str | None = None, uuid: str | None = None,
             pid: str | None = None) -> probes.ActivationReply:
    """A device activating with ``licence`` (or the ``uuid``/``auth_key`` it presents instead) and a fresh token
    for ``home``, as the test device's product unless ``pid`` says otherwise."""
    return lab.activate_as_device(uuid=uuid or licence.uuid, auth_key=auth_key or licence.auth_key,
                                  pid=pid or lab.device.pid, home=home)


def assert_refused_everywhere(cloud: CloudAdapter, reply: probes.ActivationReply, *, uuid: str, auth_key: str,
                              home: str) -> None:
    """REQ-LICENCE-007: refused, in no home, and its pre-activation MQTT login is not authorized."""
    assert not reply.accepted, f"the activation was accepted: {probes.describe(reply)}"
    assert reply.error_code, f"the refusal is not a well-formed ATOP error (no errorCode): {probes.describe(reply)}"
    assert all(d.uuid != uuid for d in cloud.list_devices(home)), "the refused device is in the home"
    record = cloud.device_by_uuid(uuid)
    assert record is None or record.home is None, "the refused device is bound to a home"
    login = preactivation_credentials(uuid, auth_key)
    assert not probes.mqtt_login(probes.cloud_endpoints(cloud), login), "its pre-activation MQTT login was accepted"


@pytest.mark.tc("TC-LICENCE-001", reqs=["REQ-LICENCE-001"])
def test_a_device_with_a_valid_licence_activates(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                 mode: str) -> None:
    """"On first connect, the device presents its license and PID, registers with the cloud, and downloads its
    identity (DeviceID, keys, schema)" (seed "device-cloud-binding")."""
    home = lab.home()
    outcome = lab.pair(mode, home=home)
    assert outcome.ok, outcome.error
    listed = [d.uuid for d in cloud.list_devices(home)]
    assert listed == [device.licence.uuid], f"the home lists {listed}, not the activated device"


@pytest.mark.tc("TC-LICENCE-002", reqs=["REQ-LICENCE-002", "REQ-LICENCE-007"])
def test_an_unknown_licence_uuid_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """PROTOCOL.md §8: a UUID the cloud never issued activates nothing, even with an AuthKey cloned from a real
    licence."""
    home = lab.home()
    cloned = lab.issue_licence()
    unknown = "uuid" + probes.new_hid()
    reply = activate(lab, cloned, uuid=unknown, home=home)
    assert_refused_everywhere(cloud, reply, uuid=unknown, auth_key=cloned.auth_key, home=home)


@pytest.mark.tc("TC-LICENCE-003", reqs=["REQ-LICENCE-003", "REQ-LICENCE-007"])
@pytest.mark.parametrize("key", ["another-licences-key", "made-up-key"])
def test_an_activation_under_a_wrong_authkey_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                        key: str) -> None:
    """PROTOCOL.md §4.2/§8: a request signed and encrypted with anything but the licence's AuthKey is refused."""
    home = lab.home()
    licence = lab.issue_licence()
    wrong = lab.issue_licence().auth_key if key == "another-licences-key" else "k" * len(licence.auth_key)
    reply = activate(lab, licence, auth_key=wrong, home=home)
    assert_refused_everywhere(cloud, reply, uuid=licence.uuid, auth_key=wrong, home=home)


@pytest.mark.tc("TC-LICENCE-004", reqs=["REQ-LICENCE-004", "REQ-LICENCE-007"])
@pytest.mark.requires("cloud:revoke-licences")
def test_a_revoked_licence_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """PROTOCOL.md §8: once revoked, a licence activates nothing and logs in to nothing."""
    home = lab.home()
    licence = lab.issue_licence()
    cloud.revoke_licence(licence.uuid)
    reply = activate(lab, licence, home=home)
    assert_refused_everywhere(cloud, reply, uuid=licence.uuid, auth_key=licence.auth_key, home=home)


@pytest.mark.tc("TC-LICENCE-005", reqs=["REQ-LICENCE-005"])
@pytest.mark.requires("cloud:create-products")
def test_a_licence_of_another_product_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                 profile: Profile) -> None:
    """PROTOCOL.md §8: a licence issued for another PID does not activate this product."""
    home = lab.home()
    other = cloud.create_product(f"{profile.device.name} (other)", "qt", BindingMode(profile.capabilities.binding_mode))
    licence = lab.issue_licence(other.pid)
    reply = activate(lab, licence, pid=device.pid, home=home)
    assert not reply.accepted, f"another product's licence activated {device.pid}: {probes.describe(reply)}"
    assert all(d.uuid != licence.uuid for d in cloud.list_devices(home)), "the home lists the refused device"


@pytest.mark.tc("TC-LICENCE-006", reqs=["REQ-LICENCE-006"])
def test_a_licence_in_use_by_one_device_is_refused_to_another(lab: Lab, cloud: CloudAdapter,
                                                              device: DeviceAdapter) -> None:
    """"A per-device credential that proves the hardware is genuine" (seed "device-cloud-binding"): a second
    piece of hardware presenting an activated licence is refused, and the first keeps its place."""
    first_home, second_home = lab.home(), lab.home()  # one owner: no binding rule stands in the way
    licence = lab.issue_licence()
    first = activate(lab, licence, home=first_home)
    assert first.accepted, probes.describe(first)
    second = activate(lab, licence, home=second_home)
    assert not second.accepted, f"a second device activated with a licence in use: {probes.describe(second)}"
    assert second.error_code, f"the refusal carries no errorCode: {probes.describe(second)}"
    listed = [d.uuid for d in cloud.list_devices(first_home)]
    assert listed == [licence.uuid], f"the first device's home lists {listed}, not the first device"
    assert cloud.list_devices(second_home) == [], "the second device's home lists a device"


@pytest.mark.tc("TC-LICENCE-008", reqs=["REQ-LICENCE-003"])
def test_an_activation_with_a_forged_sign_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """PROTOCOL.md §4.2: the sign over the query and the sealed body are two checks of the AuthKey; a request
    whose body is sealed with the licence's AuthKey but whose sign is made with another key is refused (a cloud
    that only opens the body would take it)."""
    home = lab.home()
    licence = lab.issue_licence()
    forger = lab.issue_licence().auth_key
    token = lab.activator().get_token(home)
    reply = probes.activate_raw(probes.cloud_endpoints(cloud), uuid=licence.uuid, auth_key=licence.auth_key,
                                pid=device.pid, token=token, hid=probes.new_hid(), t=int(cloud.clock.time()),
                                sign_key=forger)
    assert not reply.accepted, f"an activation signed with another licence's key was accepted: " \
                               f"{probes.describe(reply)}"
    record = cloud.device_by_uuid(licence.uuid)
    assert record is None or record.home is None, "the device of the forged request is bound to a home"


@pytest.mark.tc("TC-LICENCE-009", reqs=["REQ-LICENCE-006"])
@pytest.mark.parametrize("case", ["same-board-after-removal", "cloned-board-after-removal",
                                  "cloned-board-with-the-old-devid"])
def test_a_licence_stays_with_its_hardware_for_good(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                    case: str) -> None:
    """"A per-device credential that proves the hardware is genuine" (seed "device-cloud-binding"): the board
    that first activated a licence activates again after its owner removed it; a cloned board (another hardware
    id) is refused, after the removal as before it, even when it presents the devId the flash holds (as the
    connect-kit sends after a reset, PROTOCOL.md §11.9.2)."""
    home = lab.home()
    licence = lab.issue_licence()
    board = probes.new_hid()
    first = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid, home=home, hid=board)
    if not (first.accepted and first.dev_id):
        raise Blocked(f"blocked: the licence's first activation failed: {probes.describe(first)}")
    if case != "cloned-board-with-the-old-devid":
        cloud.remove_device(first.dev_id, account=lab.default_account, wipe=True)
    hid = board if case == "same-board-after-removal" else probes.new_hid()
    token = lab.activator().get_token(home)
    reply = probes.activate_raw(probes.cloud_endpoints(cloud), uuid=licence.uuid, auth_key=licence.auth_key,
                                pid=device.pid, token=token, hid=hid, t=int(cloud.clock.time()),
                                dev_id=first.dev_id if case == "cloned-board-with-the-old-devid" else None)
    if case == "same-board-after-removal":
        assert reply.accepted, f"the licence's own board was refused after its removal: {probes.describe(reply)}"
        return
    assert not reply.accepted, f"{case}: a cloned board took the licence: {probes.describe(reply)}"
    assert reply.error_code, f"the refusal carries no errorCode: {probes.describe(reply)}"
    record = cloud.device_by_uuid(licence.uuid)
    expected_home = home if case == "cloned-board-with-the-old-devid" else None
    assert record is not None and record.home == expected_home, \
        f"{case}: the licence's device is in home {record.home if record else None!r}, not {expected_home!r}"


@pytest.mark.tc("TC-LICENCE-010", reqs=["REQ-LICENCE-004", "REQ-LICENCE-007"])
@pytest.mark.requires("cloud:revoke-licences")
@pytest.mark.parametrize("wipe", [True, False], ids=["remove-and-wipe", "remove"])
def test_a_licence_revoked_after_it_activated_a_device_activates_nothing(lab: Lab, cloud: CloudAdapter,
                                                                        device: DeviceAdapter, wipe: bool) -> None:
    """PROTOCOL.md §8: revocation applies to a licence that has activated a device as to a fresh one: once its
    device is removed, its own board's next activation is refused and its pre-activation login is not
    authorized."""
    home = lab.home()
    licence = lab.issue_licence()
    board = probes.new_hid()
    first = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid, home=home, hid=board)
    if not (first.accepted and first.dev_id):
        raise Blocked(f"blocked: the licence's first activation failed: {probes.describe(first)}")
    cloud.remove_device(first.dev_id, account=lab.default_account, wipe=wipe)
    cloud.revoke_licence(licence.uuid)
    reply = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid, home=home, hid=board)
    assert_refused_everywhere(cloud, reply, uuid=licence.uuid, auth_key=licence.auth_key, home=home)
