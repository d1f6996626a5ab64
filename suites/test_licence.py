"""Licence rejection: an activation is accepted only with a valid licence (UUID and AuthKey) of the device's own
product, used by one device; a refused device is in no home and its pre-activation MQTT login is refused
(seed "device-cloud-binding", PROTOCOL.md §4.2, §5, §8).

The refusals are driven by a lab probe that activates as a device would, with licences the lab issues."""

from __future__ import annotations

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, Licence
from harness.conformance.lab import Lab
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
    assert [d.uuid for d in cloud.list_devices(home)] == [device.licence.uuid]


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
    assert all(d.uuid != licence.uuid for d in cloud.list_devices(home))


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
    assert [d.uuid for d in cloud.list_devices(first_home)] == [licence.uuid]
    assert cloud.list_devices(second_home) == []
