"""Binding modes: who may pair a device that is already bound, and who is told (seed "device-pairing-qr-mode",
"Binding modes"; PROTOCOL.md §6, §7).

The device under test is checked in the mode its profile claims; where the cloud can create products and issue
licences, the cloud is also checked in all three modes with a product of each (a lab probe activating as a device)."""

from __future__ import annotations

import pytest

from harness.adapters import probes
from harness.adapters.contracts import AdapterError, CloudAdapter, DeviceAdapter
from harness.conformance.lab import Lab, eventually
from harness.conformance.verdicts import Blocked
from harness.model import ActivatorErrorCode, BindingMode, Role

SESSION_END_S = 5.0  # real seconds for the broker to see a reset device's session end


@pytest.mark.tc("TC-BINDING-001", reqs=["REQ-BINDING-001"])
@pytest.mark.requires("binding:strong", "device:reset")
def test_a_strong_bound_device_is_refused_to_another_account(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                             mode: str) -> None:
    """"Strong mode: Only after the previous user removes the device from the App, the device can be reconfigured
    and bound to another account" (seed): before removal, another account gets 3711 and never sees it online."""
    first = lab.pair(mode)
    assert first.ok, f"the owner's first pairing failed: {first.error}"
    lab.press_reset()
    bob = lab.account()
    bobs_home = lab.home(bob)
    outcome = lab.pair(mode, account=bob, home=bobs_home)
    assert not outcome.ok, "another account took a strong-bound device"
    assert outcome.code == ActivatorErrorCode.DEVICE_ALREADY_BOUND, \
        f"another account was told {outcome.error}, not 3711"
    assert not lab.holds(bobs_home), "the refused account's home lists the device"


@pytest.mark.tc("TC-BINDING-002", reqs=["REQ-BINDING-002"])
@pytest.mark.requires("binding:strong", "device:reset")
def test_once_removed_a_strong_device_pairs_into_another_account(lab: Lab, cloud: CloudAdapter,
                                                                 device: DeviceAdapter, mode: str) -> None:
    """"Strong mode: Only after the previous user removes the device from the App, the device can be reconfigured
    and bound to another account" (seed): after removal, another account pairs it."""
    first = lab.pair(mode)
    assert first.ok and first.device_model is not None, f"the owner's first pairing failed: {first.error}"
    cloud.remove_device(first.device_model.dev_id, account=lab.default_account)
    lab.press_reset()
    bob = lab.account()
    bobs_home = lab.home(bob)
    outcome = lab.pair(mode, account=bob, home=bobs_home)
    assert outcome.ok, outcome.error
    assert lab.holds(bobs_home), "the pairing succeeded but the new account's home does not list the device"


@pytest.mark.tc("TC-BINDING-003", reqs=["REQ-BINDING-003"])
@pytest.mark.requires("binding:strong")
def test_a_guest_cannot_add_a_strong_binding_device(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                    mode: str) -> None:
    """PROTOCOL.md §6/§7: a member (guest) of a home pairing a strong-binding device gets 3712."""
    home = lab.home()
    guest = lab.member(home, Role.MEMBER)
    outcome = lab.pair(mode, account=guest, home=home)
    assert not outcome.ok, "a guest added a strong-binding device"
    assert outcome.code == ActivatorErrorCode.GUEST_NOT_SUPPORT_STRONG_BIND, \
        f"the guest was told {outcome.error}, not 3712"
    assert not lab.holds(home), "the home lists the device a guest tried to add"


@pytest.mark.tc("TC-BINDING-004", reqs=["REQ-BINDING-004"])
@pytest.mark.requires("binding:strong", "device:reset")
def test_the_owner_moves_a_strong_device_between_their_homes(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                             mode: str) -> None:
    """PROTOCOL.md §6: strong binding is about accounts; its owner may pair it into another of their homes."""
    kitchen, attic = lab.home(), lab.home()
    first = lab.pair(mode, home=kitchen)
    assert first.ok, f"the owner's first pairing failed: {first.error}"
    lab.press_reset()
    outcome = lab.pair(mode, home=attic)
    assert outcome.ok, outcome.error
    assert lab.holds(attic) and not lab.holds(kitchen), \
        f"after the move the attic lists it: {lab.holds(attic)}, the kitchen: {lab.holds(kitchen)}"


@pytest.mark.tc("TC-BINDING-005", reqs=["REQ-BINDING-005", "REQ-BINDING-007"])
@pytest.mark.requires("binding:medium", "device:reset")
def test_another_account_rebinds_a_medium_device_and_the_admins_are_told(lab: Lab, cloud: CloudAdapter,
                                                                         device: DeviceAdapter, mode: str) -> None:
    """"Medium mode: Without the previous user removing the device from the App, the device can be reconfigured
    and bound to another account, but a PUSH notification will be sent to the previous account" (seed); the
    device's data is reset."""
    home = lab.home()
    admin = lab.member(home, Role.ADMIN)
    first = lab.pair(mode, home=home)
    assert first.ok, f"the owner's first pairing failed: {first.error}"
    lab.press_reset()
    bob = lab.account()
    bobs_home = lab.home(bob)
    outcome = lab.pair(mode, account=bob, home=bobs_home)
    assert outcome.ok, outcome.error
    assert lab.holds(bobs_home) and not lab.holds(home), \
        f"after the rebind the new home lists it: {lab.holds(bobs_home)}, the old: {lab.holds(home)}"
    for previous in (lab.default_account, admin):
        assert cloud.notifications(previous), f"{previous}, an admin of the previous home, was not notified"
    assert cloud.notifications(bob) == [], f"the new account was notified of its own rebind: {cloud.notifications(bob)}"


@pytest.mark.tc("TC-BINDING-006", reqs=["REQ-BINDING-006", "REQ-BINDING-007"])
@pytest.mark.requires("binding:weak", "device:reset")
def test_another_account_rebinds_a_weak_device_and_nobody_is_told(lab: Lab, cloud: CloudAdapter,
                                                                  device: DeviceAdapter, mode: str) -> None:
    """"Weak mode: Without the previous user removing the device from the App, you can reconfigure the device to
    bind to another account" (seed), and no notification is sent."""
    home = lab.home()
    admin = lab.member(home, Role.ADMIN)
    first = lab.pair(mode, home=home)
    assert first.ok, f"the owner's first pairing failed: {first.error}"
    lab.press_reset()
    bob = lab.account()
    bobs_home = lab.home(bob)
    outcome = lab.pair(mode, account=bob, home=bobs_home)
    assert outcome.ok, outcome.error
    assert lab.holds(bobs_home) and not lab.holds(home), \
        f"after the rebind the new home lists it: {lab.holds(bobs_home)}, the old: {lab.holds(home)}"
    for previous in (lab.default_account, admin):
        assert cloud.notifications(previous) == [], f"{previous} was notified of a weak rebind"


@pytest.mark.tc("TC-BINDING-007", reqs=["REQ-BINDING-009"])
@pytest.mark.requires("device:reset")
def test_a_reset_device_pairs_again_into_its_owners_home(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                         mode: str) -> None:
    """"After the device is successfully activated in a home of the account, different binding modes and different
    verification methods are required for unbinding" (seed): its owner re-pairs it in every mode."""
    home = lab.home()
    first = lab.pair(mode, home=home)
    assert first.ok, f"the owner's first pairing failed: {first.error}"
    lab.press_reset()
    outcome = lab.pair(mode, home=home)
    assert outcome.ok, outcome.error
    assert lab.holds(home), "the re-pairing succeeded but the owner's home does not list the device"


@pytest.mark.tc("TC-BINDING-010", reqs=["REQ-BINDING-009"])
@pytest.mark.requires("device:reset", "device:events")
def test_a_reset_device_re_activates_under_the_device_id_it_kept(lab: Lab, device: DeviceAdapter, mode: str) -> None:
    """PROTOCOL.md §6: a (non-factory) reset keeps <uuid>.devid, and the re-activation into the owner's home sends
    that same devId, so the owner's device keeps its identity."""
    home = lab.home()
    first = lab.pair(mode, home=home)
    assert first.ok and first.device_model is not None, first.error
    lab.press_reset()
    since = len(device.events())  # by position: the first pairing's events may carry the same world time
    again = lab.pair(mode, home=home)
    assert again.ok, again.error
    requests = [e for e in device.events()[since:] if e.name == "atop-request"]
    assert requests, "the device's activation requests are not in its events"
    sent = requests[-1].details.get("dev_id")
    assert sent == first.device_model.dev_id, f"re-activation sent devId {sent!r}, not the kept one"


@pytest.mark.tc("TC-BINDING-011", reqs=["REQ-BINDING-010"])
@pytest.mark.requires("device:reset")
def test_the_reset_button_brings_pairing_mode_back_in_time(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                           mode: str) -> None:
    """PROTOCOL.md §6 (a normal reset) and the seed's "to pair the device again, a new QR code must be generated":
    the reset button ends the paired device's session and brings pairing mode back within the profile's
    pairing_mode_timeout_s; a device that ignores it FAILs here (and blocks the tests that need it)."""
    outcome = lab.pair(mode)
    if not outcome.ok or outcome.device_model is None:
        raise Blocked(f"blocked: the device did not pair: {outcome.error}")
    device.reset()
    device.wait_pairing_mode(lab.profile.parameters.pairing_mode_timeout_s)  # DeviceDidNotAct: FAIL
    dev_id = outcome.device_model.dev_id

    def offline() -> bool:
        record = cloud.device(dev_id)
        return record is None or not record.online

    assert eventually(offline, SESSION_END_S, clock=cloud.clock), \
        f"{SESSION_END_S:g} s after its reset the device is in pairing mode and still online on MQTT"


@pytest.mark.tc("TC-BINDING-012", reqs=["REQ-BINDING-011"])
@pytest.mark.requires("cloud:issue-licences")
@pytest.mark.parametrize("wipe", [True, False], ids=["remove-and-wipe", "remove"])
def test_a_wiped_device_resets_its_data_on_its_next_activation(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                               wipe: bool) -> None:
    """PROTOCOL.md §6: "Remove and wipe data" deletes the data in the cloud and on the device, which the device
    learns from its next activation's resetFactory; a plain "Remove device" keeps it, so re-pairing into the same
    home does not reset it."""
    licence = cloud.issue_licence(device.pid)
    lab.redactor.add(licence.auth_key)
    endpoints, hid, home = probes.cloud_endpoints(cloud), probes.new_hid(), lab.home()

    def activate() -> probes.ActivationReply:
        reply = probes.activate_raw(endpoints, uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid,
                                    token=lab.activator().get_token(home), hid=hid, t=int(cloud.clock.time()))
        assert reply.accepted, f"the owner's pairing into their own home was refused: {probes.describe(reply)}"
        return reply

    first = activate()
    assert first.dev_id is not None
    cloud.remove_device(first.dev_id, account=lab.default_account, wipe=wipe)
    again = activate()
    assert again.reset_factory is wipe, (f"after {'Remove and wipe data' if wipe else 'Remove device'} the next "
                                         f"activation said resetFactory={again.reset_factory}, not {wipe}")


# ------------------------------------------------------------------ all three modes, on a cloud that makes products


EXPECTED = {  # mode -> (another account may rebind, the previous home's admins are notified)
    BindingMode.STRONG: (False, False),
    BindingMode.MEDIUM: (True, True),
    BindingMode.WEAK: (True, False),
}


@pytest.mark.tc("TC-BINDING-008", reqs=["REQ-BINDING-001", "REQ-BINDING-005", "REQ-BINDING-006", "REQ-BINDING-007",
                                        "REQ-BINDING-009"])
@pytest.mark.requires("cloud:create-products", "cloud:issue-licences")
@pytest.mark.parametrize("binding", list(EXPECTED), ids=[str(m) for m in EXPECTED])
def test_the_cloud_rebinds_each_mode_as_the_mode_says(lab: Lab, cloud: CloudAdapter, binding: BindingMode) -> None:
    """PROTOCOL.md §6 for a product of each mode: the owner re-pairs; another account is refused (3711) in strong
    mode and rebinds (with a data reset) in medium and weak; only medium tells the previous home's admins."""
    product = cloud.create_product(f"paircert {binding} plug", "cz", binding)
    licence = lab.issue_licence(product.pid)
    hid = probes.new_hid()  # one piece of hardware throughout
    home = lab.home()
    admin = lab.member(home, Role.ADMIN)

    def activate(account: str, into: str) -> probes.ActivationReply:
        return lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=product.pid, home=into,
                                      account=account, hid=hid)

    for _ in range(2):  # the owner pairs it, and pairs it again
        owner_pairs = activate(lab.default_account, home)
        assert owner_pairs.accepted, probes.describe(owner_pairs)
    bob = lab.account()
    rebinds, notifies = EXPECTED[binding]
    other = activate(bob, lab.home(bob))
    assert other.accepted is rebinds, f"{binding}: another account's pairing: {probes.describe(other)}"
    if rebinds:
        assert other.reset_factory, f"{binding}: a rebind into another account did not reset the device's data"
    else:
        assert other.error_code == "DEVICE_ALREADY_BIND", probes.describe(other)
    for previous in (lab.default_account, admin):
        told = bool(cloud.notifications(previous))
        assert told is notifies, f"{binding}: {previous} notified: {told}, expected {notifies}"


@pytest.mark.tc("TC-BINDING-009", reqs=["REQ-BINDING-008"])
@pytest.mark.requires("cloud:create-products")
@pytest.mark.parametrize("binding", [BindingMode.MEDIUM, BindingMode.WEAK], ids=["medium", "weak"])
def test_a_camera_product_is_strong_and_cannot_be_changed(cloud: CloudAdapter, binding: BindingMode) -> None:
    """"Powered by Tuya cameras support the strong binding mode, and cannot change to other modes" (seed)."""
    try:
        product = cloud.create_product(f"paircert {binding} camera", "sp", binding)
    except AdapterError:
        return  # refused: a camera cannot be made medium or weak
    assert product.binding_mode is BindingMode.STRONG, f"a camera product was made {product.binding_mode}"
