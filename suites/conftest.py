"""The suites' shared steps, in the lab's words: a device nobody owns, releasing it, the profile's pairing mode.

The plugin's ``device`` is factory reset and in pairing mode; a strong-binding device is also still bound to
the account that paired it in an earlier test, which would refuse every other account (3711). Here ``device``
is additionally released: its owner removes it (with a data wipe) where the cloud lets the lab see who owns it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.adapters.contracts import CloudAdapter, CloudCapability, DeviceAdapter
from harness.profiles import Profile

PAIRING_MODE_TIMEOUT_S = 60.0


def release_device(cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """The owner removes the device (with a data wipe), then it is factory reset and back in pairing mode."""
    if CloudCapability.INSPECT_DEVICES in cloud.capabilities:
        record = cloud.device_by_uuid(device.licence.uuid)
        if record is not None and record.home is not None and record.owner is not None:
            cloud.remove_device(record.dev_id, account=record.owner, wipe=True)
    device.factory_reset()
    device.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)


@pytest.fixture
def device(device: DeviceAdapter, cloud: CloudAdapter) -> DeviceAdapter:
    """The device under test: factory reset, in pairing mode, and bound to nobody."""
    if CloudCapability.INSPECT_DEVICES in cloud.capabilities:
        record = cloud.device_by_uuid(device.licence.uuid)
        if record is not None and record.home is not None:
            release_device(cloud, device)
    return device


@pytest.fixture
def release(cloud: CloudAdapter, device: DeviceAdapter) -> Callable[[], None]:
    """``release()``: the owner removes the device, which is factory reset into pairing mode again."""
    return lambda: release_device(cloud, device)


@pytest.fixture
def mode(profile: Profile) -> str:
    """The pairing mode the suites use when the mode itself is not under test: QR, else EZ, else AP."""
    modes = list(profile.capabilities.pairing_modes)
    return next(m for m in ("qr", "ez", "ap") if m in modes)
