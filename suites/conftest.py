"""The suites' shared steps, in the lab's words: releasing the device again mid-test, the profile's pairing mode.

The plugin's ``device`` is already released (removed by its owner with a data wipe), factory reset and in
pairing mode before every test (:func:`harness.conformance.lab.release_device`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.adapters.contracts import CloudAdapter, DeviceAdapter
from harness.conformance.lab import release_device
from harness.profiles import Profile


@pytest.fixture
def release(cloud: CloudAdapter, device: DeviceAdapter, profile: Profile) -> Callable[[], None]:
    """``release()``: the owner removes the device, which is factory reset into pairing mode again."""
    return lambda: release_device(cloud, device, timeout_s=profile.parameters.pairing_mode_timeout_s)


@pytest.fixture
def mode(profile: Profile) -> str:
    """The pairing mode the suites use when the mode itself is not under test: QR, else EZ, else AP."""
    modes = list(profile.capabilities.pairing_modes)
    return next(m for m in ("qr", "ez", "ap") if m in modes)
