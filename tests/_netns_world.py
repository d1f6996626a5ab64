"""A whole world from a profile with the ``scapy`` network adapter, run inside a network namespace.

``python tests/_netns_world.py INTERFACE PCAP``: builds ``camera-strong`` with ``network = scapy`` on INTERFACE
(the emulated camera hears EZ through the sniffer the factory bridges onto its air), pairs by EZ and by AP with
the app-side activator, writes what the adapter sent to PCAP, and prints one JSON line of outcomes.
"""

from __future__ import annotations

import json
import sys

from harness.adapters.registry import build_world
from harness.adapters.scapy import ScapyNetworkAdapter
from harness.app.activator import Activator, ActivatorMode, ApOptions, pair
from harness.clock import SystemClock
from harness.profiles import load_profile


def main(interface: str, pcap: str) -> None:
    world = build_world(load_profile("camera-strong"), network="scapy", seed=5, clock=SystemClock(),
                        overrides={"network": {"interface": interface, "preamble_rounds": 3, "data_rounds": 3,
                                               "gap_s": 0.0005}})
    outcomes: dict[str, object] = {}
    try:
        assert isinstance(world.network, ScapyNetworkAdapter)
        account = world.cloud.create_account("alice")
        home = world.cloud.create_home(account, "flat")
        world.network.add_access_point(b"HomeNet", b"hunter22")
        for mode in (ActivatorMode.EZ, ActivatorMode.AP):
            world.device.factory_reset()
            world.device.wait_pairing_mode(10)
            activator = Activator(world.cloud, account=account, device=world.device, network=world.network,
                                  ap=ApOptions(variant="legacy"))
            outcome = pair(activator, mode, "HomeNet", "hunter22", activator.get_token(home), timeout=20,
                           real_timeout_s=25)
            outcomes[mode.value] = {"ok": outcome.ok, "error": str(outcome.error) if outcome.error else None}
        outcomes["packets"] = world.network.write_pcap(pcap)
        outcomes["network"] = dict(world.network.info())
    finally:
        world.close()
    print(json.dumps(outcomes, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
