"""A cloud fault for tests/test_load.py, loaded by
``paircert cloud serve --fault _load_faults:ForgetsEveryThirdBinding`` (with tests/ on PYTHONPATH): the kind of bug a
load run is for, invisible to any single activation."""

from __future__ import annotations

import itertools

from harness.emulator.cloud.activation import ActivationOutcome
from harness.emulator.cloud.behaviour import CloudBehaviour
from harness.emulator.cloud.state import CloudState
from harness.protocol.atop import ActivationRequest


class ForgetsEveryThirdBinding(CloudBehaviour):
    """Every third successful activation is answered, then its binding silently dropped (no history, no notice)."""

    _count = itertools.count(1)

    async def run_activation(self, state: CloudState, uuid: str, req: ActivationRequest) -> ActivationOutcome:
        outcome = await super().run_activation(state, uuid, req)
        if outcome.result is not None and next(self._count) % 3 == 0:
            device = state.devices.get(outcome.result.dev_id)
            if device is not None:
                device.home = device.account = None
        return outcome
