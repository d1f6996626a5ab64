"""``paircert device``: the emulated camera's command, with the real-network bridge the emulator does not import."""

from __future__ import annotations

import socket
import time

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.device import sniff_into
from harness.emulator.air import Air
from harness.emulator.camera import cli as camera_cli
from harness.net.ring import capture_unavailable
from harness.protocol import smartconfig


def test_serve_keeps_its_options_and_sniff() -> None:
    done = CliRunner().invoke(main, ["device", "serve", "--help"])
    assert done.exit_code == 0, done.output
    for option in ("--cloud-url", "--mqtt", "--url-config", "--uuid", "--auth-key", "--pid", "--wifi", "--fault",
                   "--ap-host", "--sniff"):
        assert option in done.output


def test_the_emulator_alone_has_no_bridge_to_a_real_network() -> None:
    with camera_cli.cli_command.make_context("device", ["serve", "--help"], resilient_parsing=True) as ctx:
        assert ctx.find_object(camera_cli.Bridges) is None


@pytest.mark.skipif(capture_unavailable("lo") is not None, reason=str(capture_unavailable("lo")))
def test_the_sniff_bridge_feeds_the_camera_air_with_ez_datagrams() -> None:
    """§2.3: each datagram's length is the symbol; the bridge hands what it sniffs on the interface to the air."""
    air = Air()
    stop = sniff_into("lo", air)
    try:
        lengths = [smartconfig.BROADCAST_PREAMBLE[0] + 40, 77, 91]
        deadline = time.monotonic() + 10.0
        seen: list[int] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while time.monotonic() < deadline and not set(lengths) <= set(seen):
                for n in lengths:
                    sock.sendto(bytes(n), ("127.0.0.1", smartconfig.BROADCAST_PORT))
                time.sleep(0.05)  # a poll with a deadline: the sniffer thread delivers asynchronously
                seen = [int(r.value) for r in air.log if r.kind == "length"]
    finally:
        stop()
    assert set(lengths) <= set(seen), seen
