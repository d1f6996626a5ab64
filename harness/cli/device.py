"""``paircert device``: the emulated camera as a process (:mod:`harness.emulator.camera.cli`), with the bridge to a
real network that the emulator itself never imports: ``serve --sniff INTERFACE`` feeds the camera's air with the EZ
datagrams :class:`harness.net.sniff.EzSniffer` sees on that interface (scapy, needs root).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from harness.emulator.air import Air
from harness.emulator.camera.cli import Bridges, serve


def sniff_into(interface: str, air: Air) -> Callable[[], object]:
    """Start sniffing EZ datagrams on ``interface`` into ``air`` (not this host's own); returns the stopper."""
    from harness.net.sniff import EzSniffer  # scapy: imported only when asked

    sniffer = EzSniffer(interface, air, keep_outgoing=False)
    sniffer.start()
    return sniffer.stop


@click.group(name="device")
@click.pass_context
def cli_command(ctx: click.Context) -> None:
    """The emulated camera as a process."""
    ctx.obj = Bridges(sniff=sniff_into)


cli_command.add_command(serve)

__all__ = ["cli_command", "sniff_into"]
