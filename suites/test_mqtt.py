"""The MQTT session: the device logs in with its derived credentials only, its DPs flow both ways, it reaches no
other device's topics, removal is told and ends its login, and a power cycle brings it back by itself (seed
"device-cloud-binding"; PROTOCOL.md §5, §6).

Where another device is needed (its credentials, its topics), a lab probe activates one with a licence the lab
issues and logs in as it would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, DeviceRecord
from harness.clock import wait_until
from harness.conformance.lab import SETTLE_S, Lab, eventually
from harness.conformance.verdicts import Blocked
from harness.profiles import Profile
from harness.protocol.mqtt import device_credentials, topic_in, topic_out

QUIET_S = 0.3


@dataclass(frozen=True)
class OtherDevice:
    """A device the lab activated itself: its id, credentials, and who owns it."""

    dev_id: str
    sec_key: str
    owner: str


@pytest.fixture
def online_device(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter, mode: str) -> DeviceRecord:
    """The device under test, paired and online; its cloud record."""
    outcome = lab.pair(mode)
    if not outcome.ok or outcome.device_model is None:
        # Blocked, not failed here: pairing and coming online are judged by TC-MQTT-001 and the pairing suites.
        raise Blocked(f"the device did not pair and come online: {outcome.error}")
    record = cloud.device(outcome.device_model.dev_id)
    assert record is not None
    return record


@pytest.fixture
def other_device(lab: Lab, device: DeviceAdapter) -> Iterator[OtherDevice]:
    """Another device of the same product, activated by a lab probe into another account's home (N/A where the
    cloud adapter cannot issue licences)."""
    licence = lab.issue_licence()
    owner = lab.account()
    reply = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid,
                                   home=lab.home(owner), account=owner)
    assert reply.accepted and reply.dev_id and reply.sec_key, probes.describe(reply)
    yield OtherDevice(reply.dev_id, reply.sec_key, owner)


@pytest.mark.tc("TC-MQTT-001", reqs=["REQ-MQTT-001"])
def test_the_device_comes_online_with_its_derived_credentials(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                              mode: str) -> None:
    """PROTOCOL.md §5: client id and username the devId, password md5(secKey)[8:24]; the broker admits nothing
    else, so a device online on the cloud logged in with exactly those."""
    outcome = lab.pair(mode)
    assert outcome.ok and outcome.device_model is not None, f"the device never came online: {outcome.error}"
    dev_id = outcome.device_model.dev_id
    assert eventually(lambda: bool((r := cloud.device(dev_id)) and r.online), clock=cloud.clock), "never online"


@pytest.mark.tc("TC-MQTT-002", reqs=["REQ-MQTT-002"])
def test_the_broker_refuses_any_other_credentials(cloud: CloudAdapter, online_device: DeviceRecord,
                                                  other_device: OtherDevice) -> None:
    """PROTOCOL.md §5: a wrong password, or another device's identity, is not authorized."""
    endpoints = probes.cloud_endpoints(cloud)
    own = device_credentials(other_device.dev_id, other_device.sec_key)
    assert probes.mqtt_login(endpoints, own), "the broker refused a device's own derived credentials"
    assert not probes.mqtt_login(endpoints, own._replace(password="0" * 16)), "a wrong password was accepted"
    posing = device_credentials(online_device.dev_id, other_device.sec_key)
    assert not probes.mqtt_login(endpoints, posing), "another device's identity was accepted"


@pytest.mark.tc("TC-MQTT-003", reqs=["REQ-MQTT-003"])
def test_a_device_reaches_no_other_devices_topics(lab: Lab, cloud: CloudAdapter, profile: Profile,
                                                  online_device: DeviceRecord, other_device: OtherDevice) -> None:
    """PROTOCOL.md §5: a device can neither subscribe to nor publish on another device's topics."""
    victim = online_device.dev_id
    endpoints = probes.cloud_endpoints(cloud)
    with probes.mqtt_session(endpoints, device_credentials(other_device.dev_id, other_device.sec_key)) as snoop:
        assert snoop.connect(), "the other device could not log in with its own credentials"
        granted = [topic for topic in (topic_in(victim), topic_out(victim)) if snoop.subscribe(topic)]
        command = profile.parameters.dp_command
        cloud.send_dps(victim, {str(command.id): command.value}, account=lab.default_account)
        eventually(lambda: bool(snoop.received()), QUIET_S, clock=cloud.clock)
        overheard = snoop.received()
    assert not granted and not overheard, f"subscribed to {granted}, overheard {len(overheard)} message(s)"


@pytest.mark.tc("TC-MQTT-004", reqs=["REQ-MQTT-004", "REQ-MQTT-006"])
def test_the_devices_dp_reports_reach_the_cloud(cloud: CloudAdapter, online_device: DeviceRecord) -> None:
    """"the device reports state back as DPs" (seed "device-cloud-binding"): its reports arrive, decoded with
    its localKey in the protocol version it claims."""
    assert eventually(lambda: bool((r := cloud.device(online_device.dev_id)) and r.dps), clock=cloud.clock), \
        "no DP report arrived"


@pytest.mark.tc("TC-MQTT-005", reqs=["REQ-MQTT-005"])
@pytest.mark.requires("device:dp-commands")
def test_a_dp_command_is_applied_and_reported_back(lab: Lab, cloud: CloudAdapter, profile: Profile,
                                                  online_device: DeviceRecord) -> None:
    """"After activation, the app and agent send commands as data points (DPs); the device reports state back as
    DPs" (seed "device-cloud-binding")."""
    command = profile.parameters.dp_command
    dp, value = str(command.id), command.value
    eventually(lambda: bool((r := cloud.device(online_device.dev_id)) and r.dps), clock=cloud.clock)
    cloud.send_dps(online_device.dev_id, {dp: value}, account=lab.default_account)

    def reported() -> bool:
        record = cloud.device(online_device.dev_id)
        return record is not None and dp in record.dps and record.dps[dp] == value

    assert eventually(reported, clock=cloud.clock), f"DP {dp} was not reported back as {value!r}"


@pytest.mark.tc("TC-MQTT-006", reqs=["REQ-MQTT-007"])
@pytest.mark.requires("device:remote-removal")
@pytest.mark.parametrize("wipe", [False, True], ids=["remove", "remove-and-wipe"])
def test_a_removed_device_is_told_and_its_old_login_is_refused(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                                online_device: DeviceRecord,
                                                                other_device: OtherDevice, wipe: bool) -> None:
    """PROTOCOL.md §5/§6: removal from the app (an unbind, or a reset when the data is wiped too) reaches the device
    over MQTT (it leaves its session and is in pairing mode again), and the old credentials no longer log in."""
    cloud.remove_device(online_device.dev_id, account=lab.default_account, wipe=wipe)
    try:
        device.wait_pairing_mode(SETTLE_S)
    except Exception:
        pytest.fail("the removed device was not told: it never left its session for pairing mode", pytrace=False)
    assert eventually(lambda: not (r := cloud.device(online_device.dev_id)) or not r.online, clock=cloud.clock), \
        "the removed device is still online"
    cloud.remove_device(other_device.dev_id, account=other_device.owner, wipe=wipe)
    old = device_credentials(other_device.dev_id, other_device.sec_key)
    assert not probes.mqtt_login(probes.cloud_endpoints(cloud), old), "a removed device's old login was accepted"


@pytest.mark.tc("TC-MQTT-007", reqs=["REQ-MQTT-008"])
@pytest.mark.requires("device:power-cycle", "device:events")
def test_after_a_power_cycle_the_device_reconnects_by_itself(cloud: CloudAdapter, device: DeviceAdapter,
                                                            profile: Profile, online_device: DeviceRecord) -> None:
    """"A device is bound once activation succeeds ... and control can flow both ways" (seed
    "device-cloud-binding"): after a power cycle it is back online with its stored identity, without pairing."""
    before = cloud.device(online_device.dev_id)
    assert before is not None
    # Only what the device does after the power cycle counts (an earlier "online" may carry the same world time).
    since = len(device.events())
    device.power_cycle()

    def back_online() -> bool:
        record = cloud.device(online_device.dev_id)
        reconnected = any(e.name == "online" for e in device.events()[since:])
        return reconnected and record is not None and record.online

    # On the world's clock: a device that keeps failing its login retries on it, so a wall-time wait would let
    # the emulated clock run through thousands of retries.
    within = profile.parameters.boot_time_s + SETTLE_S
    assert wait_until(cloud.clock, back_online, within), \
        f"the device did not come back online by itself within {within:g} s of its power cycle"
    after = cloud.device(online_device.dev_id)
    assert after is not None
    assert after.activations == before.activations, "the device activated again instead of reconnecting"


FALSY = {bool: False, int: 0, str: ""}  # the command DP's type -> its "off" value


@pytest.mark.tc("TC-MQTT-008", reqs=["REQ-MQTT-005"])
@pytest.mark.requires("device:dp-commands")
def test_dp_values_are_reported_back_by_value_false_zero_and_empty_too(lab: Lab, cloud: CloudAdapter,
                                                                      profile: Profile,
                                                                      online_device: DeviceRecord) -> None:
    """"The device reports state back as DPs" (seed "device-cloud-binding"), by value: the command DP set to its
    type's "off" value (false, 0 or "") and back to the profile's value is reported as exactly that, type and
    all, each time."""
    command = profile.parameters.dp_command
    dp = str(command.id)
    eventually(lambda: bool((r := cloud.device(online_device.dev_id)) and r.dps), clock=cloud.clock)
    for value in (FALSY[type(command.value)], command.value):
        cloud.send_dps(online_device.dev_id, {dp: value}, account=lab.default_account)

        def reported(value: object = value) -> bool:
            record = cloud.device(online_device.dev_id)
            got = None if record is None else record.dps.get(dp, ...)
            return type(got) is type(value) and got == value

        if not eventually(reported, clock=cloud.clock):
            record = cloud.device(online_device.dev_id)
            pytest.fail(f"DP {dp} set to {value!r} was reported as "
                        f"{record.dps.get(dp, 'nothing') if record else 'no device'!r}", pytrace=False)


WILDCARD_FILTERS = ["smart/device/in/#", "smart/device/in/+", "smart/device/+/{victim}", "smart/#", "#"]


@pytest.mark.tc("TC-MQTT-009", reqs=["REQ-MQTT-003"])
def test_no_wildcard_reaches_another_devices_topics(lab: Lab, cloud: CloudAdapter, profile: Profile,
                                                   online_device: DeviceRecord, other_device: OtherDevice) -> None:
    """PROTOCOL.md §5: a device subscribes to its own topics by name; no wildcard filter is granted that would
    reach another device's commands or reports."""
    victim = online_device.dev_id
    with probes.mqtt_session(probes.cloud_endpoints(cloud),
                             device_credentials(other_device.dev_id, other_device.sec_key)) as snoop:
        assert snoop.connect(), "the other device could not log in with its own credentials"
        granted = [f.format(victim=victim) for f in WILDCARD_FILTERS if snoop.subscribe(f.format(victim=victim))]
        command = profile.parameters.dp_command
        cloud.send_dps(victim, {str(command.id): command.value}, account=lab.default_account)
        eventually(lambda: bool(snoop.received()), QUIET_S, clock=cloud.clock)
        overheard = sorted({topic for topic, _ in snoop.received()})
    assert not granted and not overheard, f"the broker granted {granted}; the other device overheard {overheard}"


@pytest.mark.tc("TC-MQTT-010", reqs=["REQ-MQTT-003"])
@pytest.mark.requires("device:events")
def test_a_device_cannot_publish_on_another_devices_command_topic(cloud: CloudAdapter, device: DeviceAdapter,
                                                                  online_device: DeviceRecord,
                                                                  other_device: OtherDevice) -> None:
    """PROTOCOL.md §5: a device publishes only its own reports; a message another device publishes on the victim's
    command topic smart/device/in/<devId> never reaches the victim."""
    victim = online_device.dev_id
    seen = len(device.events())  # by position: what reached the victim before (a retained command) is not this
    with probes.mqtt_session(probes.cloud_endpoints(cloud),
                             device_credentials(other_device.dev_id, other_device.sec_key)) as intruder:
        assert intruder.connect(), "the other device could not log in with its own credentials"
        intruder.publish(topic_in(victim), b"2.2" + bytes(40))

        def heard() -> list[str]:
            return [e.name for e in device.events()[seen:] if e.name in ("mqtt-message", "mqtt-bad-message")
                    and e.details.get("topic") == topic_in(victim)]

        eventually(lambda: bool(heard()), QUIET_S, clock=cloud.clock)
    assert not heard(), f"the victim received what another device published on its command topic: {heard()}"


@pytest.mark.tc("TC-MQTT-011", reqs=["REQ-MQTT-006"])
def test_the_device_reports_in_the_mqtt_version_its_profile_claims(cloud: CloudAdapter, profile: Profile,
                                                                   online_device: DeviceRecord) -> None:
    """PROTOCOL.md §5: the envelope of the device's DP reports is the MQTT protocol version its profile claims
    (2.1, 2.2 or 2.3), even when the cloud would read another one."""
    claimed = profile.capabilities.mqtt_protocol_version

    def reported() -> DeviceRecord | None:
        record = cloud.device(online_device.dev_id)
        return record if record is not None and record.dps else None

    eventually(lambda: reported() is not None, clock=cloud.clock)
    record = reported()
    if record is None:
        raise Blocked("blocked: no DP report arrived (TC-MQTT-004 judges that)")
    if record.report_pv is None:
        from harness.conformance.verdicts import NotApplicable

        raise NotApplicable(f"the {cloud.name} cloud adapter does not say which envelope version a report came in")
    assert record.report_pv == claimed, \
        f"the device reports in MQTT protocol version {record.report_pv}, its profile claims {claimed}"


@pytest.mark.tc("TC-MQTT-012", reqs=["REQ-MQTT-009"])
@pytest.mark.requires("cloud:issue-licences")
def test_a_command_is_not_retained_for_the_devices_next_login(lab: Lab, cloud: CloudAdapter, profile: Profile,
                                                             other_device: OtherDevice) -> None:
    """PROTOCOL.md §5: a DP command goes to the device's session of the moment; logging in again (a reconnect, a
    reboot) hands the device no command sent before, as a retained message would."""
    endpoints = probes.cloud_endpoints(cloud)
    credentials = device_credentials(other_device.dev_id, other_device.sec_key)
    command = profile.parameters.dp_command
    topic = topic_in(other_device.dev_id)
    with probes.mqtt_session(endpoints, credentials) as first:
        assert first.connect() and first.subscribe(topic), "a device could not log in and take its own topic"
        if not eventually(lambda: bool((r := cloud.device(other_device.dev_id)) and r.online), clock=cloud.clock):
            raise Blocked("blocked: the cloud never counted the lab's second device online")
        cloud.send_dps(other_device.dev_id, {str(command.id): command.value}, account=other_device.owner)
        if not eventually(lambda: bool(first.received(topic)), clock=cloud.clock):
            raise Blocked("blocked: the DP command never reached the device's session (TC-MQTT-005 judges that)")
    with probes.mqtt_session(endpoints, credentials) as again:
        assert again.connect() and again.subscribe(topic), "the device could not log in again"
        eventually(lambda: bool(again.received(topic)), QUIET_S, clock=cloud.clock)
        stale = again.received(topic)
    assert not stale, f"the device's next login was handed {len(stale)} command(s) sent to its previous session"
