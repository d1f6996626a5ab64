"""A fuzz case the device must refuse is judged on what the device did with the input, not only on whether it
activated (issue "Detection power"): a device that takes a network from a QR text it refuses, and tries to join
it, FAILs REQ-FUZZ-002 even though nothing activates."""

from __future__ import annotations

import json

import pytest

from harness.conformance.verdicts import DeviceFailure
from harness.fuzzing.campaign import WorldSpec
from harness.fuzzing.drive import PLACEHOLDER_TOKEN, FuzzContext
from harness.fuzzing.targets import RefuseCase, run_case

WITHOUT_TOKEN = json.dumps({"s": "fuzz-net", "p": "fuzz-password"}, separators=(",", ":")).encode()
TRUNCATED = json.dumps({"s": "fuzz-net", "p": "fuzz-password", "t": PLACEHOLDER_TOKEN}).encode()[:30]


def refuse(faults: tuple[str, ...], data: bytes) -> None:
    world = WorldSpec("camera-strong", device_faults=faults, seed=7).build()
    try:
        ctx = FuzzContext.from_world(world)
        run_case(ctx, RefuseCase(kind="qr-malformed", mode="qr", data=data), then_pairs=False)
    finally:
        world.close()


@pytest.mark.parametrize("data", [WITHOUT_TOKEN, TRUNCATED], ids=["without-token", "truncated"])
def test_a_conformant_camera_takes_nothing_from_a_refused_qr_text(data: bytes) -> None:
    refuse((), data)


def test_a_camera_that_joins_from_a_refused_qr_text_fails_though_nothing_activates() -> None:
    took = r"REQ-FUZZ-002: from a malformed QR text .* took a network and tried to join .*'fuzz-net'"
    with pytest.raises(DeviceFailure, match=took):
        refuse(("qr-joins-without-token",), WITHOUT_TOKEN)
