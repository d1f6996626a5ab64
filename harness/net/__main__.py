"""The app side on a lab interface, from a shell: ``python -m harness.net send-ez|send-ap ...``.

    python -m harness.net send-ez --interface wlan0 --ssid HomeNet --password hunter22 --token AY12345678abcd
    python -m harness.net send-ap --interface wlan0 --host 192.168.176.1 --variant legacy \\
        --ssid HomeNet --password hunter22 --token AY12345678abcd

Prints one JSON object: what was sent (datagram count, replies) and, with ``--pcap``, where the sent traffic was
written. Exit status 0 when everything was sent, 2 on bad usage, 3 when the network failed (an ERROR, never the
device's fault). The password can come from the environment (``--password-env NAME``) so that it is not in the
shell history.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from harness.net.send import InterfaceSender, NetError
from harness.protocol import apconfig, smartconfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.net", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("send-ez", "send EZ rounds (PROTOCOL.md §2.5)"), ("send-ap", "send an AP config (§3)")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--interface", required=True, help="the lab interface to send on")
        command.add_argument("--ssid", required=True)
        secret = command.add_mutually_exclusive_group()
        secret.add_argument("--password", default="")
        secret.add_argument("--password-env", metavar="NAME", help="take the password from this variable")
        command.add_argument("--token", required=True, help="the 14-character pairing token (region+token+secret)")
        command.add_argument("--pcap", help="write what was sent and received to this pcap file")
    ez = commands.choices["send-ez"]
    ez.add_argument("--channels", default="broadcast,multicast", help="broadcast, multicast or both (comma)")
    ez.add_argument("--tail", choices=["padded", "tuya-convert"], default="padded")
    ez.add_argument("--preamble-rounds", type=int, default=smartconfig.PREAMBLE_ROUNDS)
    ez.add_argument("--data-rounds", type=int, default=smartconfig.DATA_ROUNDS)
    ez.add_argument("--gap-s", type=float, default=smartconfig.DATAGRAM_GAP_S)
    ez.add_argument("--attempts", type=int, default=1)
    ez.add_argument("--pause-s", type=float, default=3.0)
    ap = commands.choices["send-ap"]
    ap.add_argument("--host", required=True, help="the device's AP address, e.g. 192.168.176.1")
    ap.add_argument("--variant", choices=["legacy", "lpv35"], default="legacy")
    ap.add_argument("--udp-port", type=int, default=6669)
    ap.add_argument("--tcp-port", type=int, default=6668)
    ap.add_argument("--repeats", type=int, default=3, help="legacy datagrams to send (§3.1: 4-5 in CC)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for LPV3.5 replies")
    return parser


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise SystemExit(f"the variable {args.password_env} is not set")
        return value
    return str(args.password)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    password = _password(args)
    summary: dict[str, object] = {"command": args.command, "interface": args.interface}
    try:
        if args.command == "send-ez":
            sender = InterfaceSender(args.interface, preamble_rounds=args.preamble_rounds,
                                     data_rounds=args.data_rounds, gap_s=args.gap_s, attempts=args.attempts,
                                     pause_s=args.pause_s)
            channels = [c.strip() for c in args.channels.split(",") if c.strip()]
            sender.send_ez(args.ssid.encode(), password.encode(), args.token.encode(), channels=channels,
                           tail=args.tail)
            summary["datagrams"] = len(sender.sent)
        else:
            sender = InterfaceSender(args.interface)
            if args.variant == "legacy":
                frame = apconfig.encode_ap_config(args.ssid, password, args.token)
                for _ in range(max(1, min(args.repeats, 20))):
                    sender.send_ap_udp(args.host, args.udp_port, frame)
                summary["datagrams"] = len(sender.sent)
            else:
                request = apconfig.encode_ap_cfg_request(args.ssid, password, args.token, seq=1,
                                                         nonce=os.urandom(apconfig.NONCE_LEN))
                replies = sender.send_ap_tcp(args.host, args.tcp_port, [request], timeout=args.timeout)
                acks = [apconfig.parse_ap_cfg_ack(apconfig.decode_lpv35_frame(r, key=apconfig.LPV35_APP_KEY).data)
                        for r in replies]
                summary["replies"] = [{"ret_code": ack.ret_code, "ok": ack.ok} for ack in acks]
        if args.pcap:
            summary["pcap"] = args.pcap
            summary["packets"] = sender.write_pcap(args.pcap)
        sender.close()
    except NetError as exc:
        summary["error"] = str(exc)
        print(json.dumps(summary), flush=True)
        return 3
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
