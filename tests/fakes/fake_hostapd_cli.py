"""A stand-in for hostapd_cli(8) on PATH: ``hostapd_cli -p DIR -i IFACE COMMAND`` sends COMMAND (upper case, as
hostapd_cli does) to hostapd's control socket ``DIR/IFACE`` and prints the answer; logs to ``$FAKE_HOSTAPD_LOG``."""

from __future__ import annotations

import json
import os
import socket
import sys


def main() -> int:
    args = sys.argv[1:]
    directory = args[args.index("-p") + 1]
    interface = args[args.index("-i") + 1]
    command = " ".join(args[args.index("-i") + 2:]).upper()
    if os.environ.get("FAKE_HOSTAPD_LOG"):
        with open(os.environ["FAKE_HOSTAPD_LOG"], "a", encoding="utf-8") as out:
            out.write(json.dumps({"event": "cli", "argv": args}) + "\n")
    client = os.path.join(directory, f"cli-{os.getpid()}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(client)
            sock.settimeout(2)
            sock.sendto(command.encode(), os.path.join(directory, interface))
            print(sock.recv(4096).decode(), end="")
        except OSError as exc:
            print(f"Failed to connect to hostapd - wpa_ctrl_open: {exc}")
            return 255
        finally:
            if os.path.exists(client):
                os.unlink(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
