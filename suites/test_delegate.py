"""Delegate outcomes: exactly one did_receive_device per start, a model or an error, nothing after stop, and each
error code of the activator in the scenario that causes it (seed "device-pairing-qr-mode", PROTOCOL.md §7).

3711 and 3712 are checked by the binding suite, 3718 by the token suite; 1512 and 3709 here."""

from __future__ import annotations

import threading

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter
from harness.app.activator import Activator, ActivatorError, DeviceModel
from harness.clock import holding
from harness.conformance.lab import Lab
from harness.model import ActivatorErrorCode
from harness.profiles import Profile

HEARD_WAIT_S = 30.0  # real seconds; the activator's own timeout runs on the world's clock
QUIET_S = 0.3


class Delegate:
    """Records every did_receive_device call."""

    def __init__(self) -> None:
        self.calls: list[tuple[DeviceModel | None, ActivatorError | None]] = []
        self.heard = threading.Event()

    def did_receive_device(self, activator: Activator, device_model: DeviceModel | None,
                           error: ActivatorError | None) -> None:
        self.calls.append((device_model, error))
        self.heard.set()

    def wait(self) -> None:
        assert self.heard.wait(HEARD_WAIT_S), "no callback at all for the start"


@pytest.mark.tc("TC-DELEGATE-001", reqs=["REQ-DELEGATE-001", "REQ-DELEGATE-002", "REQ-DELEGATE-008"])
def test_a_successful_pairing_is_one_callback_with_the_activated_device(lab: Lab, cloud: CloudAdapter,
                                                                         device: DeviceAdapter, profile: Profile,
                                                                         mode: str) -> None:
    """"deviceModel ThingSmartDeviceModel object, nil if failed; error ... nil if succeed" (seed): one callback, a
    model and no error, and the model is the device that was activated, with the profile's PID."""
    outcome = lab.pair(mode)
    assert outcome.calls == 1, f"{outcome.calls} callbacks for one start"
    assert outcome.device_model is not None and outcome.error is None, f"the pairing failed: {outcome.error}"
    record = cloud.device_by_uuid(device.licence.uuid)
    assert record is not None and outcome.device_model.dev_id == record.dev_id, \
        f"the callback's devId {outcome.device_model.dev_id} is not the activated device's {record and record.dev_id}"
    assert outcome.device_model.pid == profile.device.pid, f"the callback's PID is {outcome.device_model.pid}"


@pytest.mark.tc("TC-DELEGATE-002", reqs=["REQ-DELEGATE-001", "REQ-DELEGATE-002", "REQ-DELEGATE-006"])
def test_a_pairing_nobody_completes_ends_in_one_timeout_callback(lab: Lab, device: DeviceAdapter, mode: str) -> None:
    """PROTOCOL.md §7: when no device completes pairing within activator_timeout_s the one callback carries
    1512 (Timeout) and no model."""
    outcome = lab.pair(mode, ssid="paircert-no-such-network", password="not-a-network")
    assert outcome.calls == 1, f"{outcome.calls} callbacks for one start"
    assert outcome.device_model is None and outcome.error is not None, "a pairing to no network succeeded"
    assert outcome.code == ActivatorErrorCode.TIMEOUT, f"the callback carried {outcome.error}, not 1512"


@pytest.mark.tc("TC-DELEGATE-003", reqs=["REQ-DELEGATE-003", "REQ-DELEGATE-004"])
def test_nothing_is_heard_after_stop_and_the_next_start_is_answered_once(lab: Lab, device: DeviceAdapter,
                                                                         mode: str) -> None:
    """"Use this method to stop pairing" (seed): nothing for a stopped start; a start after it gets its own one."""
    delegate = Delegate()
    activator = lab.activator()
    activator.delegate = delegate
    home = lab.home()
    activator.start_config_wifi(mode, "paircert-no-such-network", "not-a-network", activator.get_token(home),
                                timeout=lab.activator_timeout_s)
    activator.stop_config_wifi()
    assert not delegate.heard.wait(QUIET_S), f"a stopped start was answered: {delegate.calls}"
    # A device that heard the first start fails to join that network and comes back to pairing mode by itself.
    device.wait_pairing_mode(lab.profile.parameters.pairing_mode_timeout_s)
    wifi = lab.default_wifi
    activator.start_config_wifi(mode, wifi.ssid, wifi.password, activator.get_token(home),
                                timeout=lab.activator_timeout_s)
    delegate.wait()
    assert activator.join(HEARD_WAIT_S)
    assert len(delegate.calls) == 1
    model, error = delegate.calls[0]
    assert model is not None and error is None, error


@pytest.mark.tc("TC-DELEGATE-004", reqs=["REQ-DELEGATE-005", "REQ-DELEGATE-001", "REQ-DELEGATE-002"])
@pytest.mark.requires("cloud:issue-licences")
def test_an_activated_device_that_never_comes_online_is_not_a_success(lab: Lab, cloud: CloudAdapter,
                                                                       device: DeviceAdapter, mode: str) -> None:
    """PROTOCOL.md §0 step 5/§7: success only once the device is activated in the token's home and online on MQTT;
    a device that activates and never connects ends in 3709 (DeviceNotConnectMQTT) or 1512 (Timeout)."""
    delegate = Delegate()
    activator = lab.activator()
    activator.delegate = delegate
    token = activator.get_token(lab.home())
    # The lab plays the activating device over real HTTP: the world's clock waits for it (on an emulated world,
    # the activator's timeout must not run out while the lab is still sending).
    with holding(lab.clock):
        activator.start_config_wifi(mode, "paircert-no-such-network", "not-a-network", token,
                                    timeout=lab.activator_timeout_s)
        licence = lab.issue_licence()
        reply = lab.activate_as_device(uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid, token=token)
    assert reply.accepted, probes.describe(reply)  # a device activated; it never logs in to MQTT
    delegate.wait()
    assert activator.join(HEARD_WAIT_S)
    assert len(delegate.calls) == 1
    model, error = delegate.calls[0]
    assert model is None, "pairing was reported successful for a device that never came online"
    assert error is not None and error.code in (ActivatorErrorCode.DEVICE_NOT_CONNECT_MQTT, ActivatorErrorCode.TIMEOUT)
