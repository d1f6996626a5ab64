"""A stand-in for hostapd(8) on PATH, for the hostapd network adapter's tests: it reads the configuration file it is
given as hostapd does (key=value lines; ``ssid2`` in hex), answers on its control socket
(``ctrl_interface/<interface>``, datagrams: PING, STATUS, TERMINATE, DISABLE, ENABLE) and rereads the file on
SIGHUP. What it did goes as JSON lines to ``$FAKE_HOSTAPD_LOG`` (the file's content and mode on every read, so the
tests see exactly what hostapd would have read). ``$FAKE_HOSTAPD_MODE``: ``bad-config`` (exit 1 as hostapd does on a
line it refuses), ``never-enable`` (stays DISABLED), ``exit-on-reload``; ``$FAKE_HOSTAPD_DELAY_S``: how long before
it beacons after a (re)load (default 0.2)."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import sys
import time

LOG = os.environ.get("FAKE_HOSTAPD_LOG")
MODE = os.environ.get("FAKE_HOSTAPD_MODE", "")
DELAY_S = float(os.environ.get("FAKE_HOSTAPD_DELAY_S", "0.2"))
MAX_LIFETIME_S = 120.0


def log(event: str, **details: object) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, "pid": os.getpid(), **details}) + "\n")


def printf_encode(data: bytes) -> str:
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\x1b\n\r\t":
            out.append({"\x1b": "\\e", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif 32 <= byte <= 126:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def read_config(path: str) -> dict[str, str]:
    with open(path, "rb") as handle:
        raw = handle.read()
    log("read-config", path=path, mode=oct(stat.S_IMODE(os.stat(path).st_mode)), config=raw.decode("utf-8",
                                                                                                  "surrogateescape"))
    config: dict[str, str] = {}
    for number, line in enumerate(raw.decode("utf-8", "surrogateescape").split("\n"), start=1):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            print(f"Line {number}: invalid line '{line}'", flush=True)
            sys.exit(1)
        config[key] = value
    for key in ("interface", "ctrl_interface", "ssid2", "channel", "hw_mode"):
        if key not in config:
            print(f"Configuration file: {key} missing", flush=True)
            sys.exit(1)
    if "wpa_passphrase" in config and not 8 <= len(config["wpa_passphrase"].encode("utf-8", "surrogateescape")) <= 63:
        print("Line: invalid WPA passphrase length", flush=True)
        sys.exit(1)
    if MODE == "bad-config":
        print("Line 3: unknown configuration item 'frobnicate'", flush=True)
        sys.exit(1)
    return config


def main() -> None:
    path = sys.argv[-1]
    log("start", argv=sys.argv[1:])
    config = read_config(path)
    ctrl = os.path.join(config["ctrl_interface"], config["interface"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(ctrl)
        print(f"{config['interface']}: interface state UNINITIALIZED->ENABLED", flush=True)
        state = {"config": config, "enabled_at": time.monotonic() + DELAY_S, "reload": False, "stop": False}

        def hup(signum: int, frame: object) -> None:
            state["reload"] = True

        def term(signum: int, frame: object) -> None:
            state["stop"] = True

        signal.signal(signal.SIGHUP, hup)
        signal.signal(signal.SIGTERM, term)
        started = time.monotonic()
        try:
            while not state["stop"] and time.monotonic() - started < MAX_LIFETIME_S:
                if state["reload"]:
                    state["reload"] = False
                    log("sighup")
                    if MODE == "exit-on-reload":
                        print("Failed to read new configuration", flush=True)
                        sys.exit(2)
                    state["config"] = read_config(path)
                    state["enabled_at"] = time.monotonic() + DELAY_S
                ready, _, _ = select.select([sock], [], [], 0.05)
                if ready:
                    answer(sock, state)
        finally:
            os.unlink(ctrl)
            log("exit")


def answer(sock: socket.socket, state: dict) -> None:
    data, peer = sock.recvfrom(4096)
    command = data.decode()
    log("command", command=command)
    config = state["config"]
    enabled = MODE != "never-enable" and time.monotonic() >= state["enabled_at"]
    if command == "PING":
        reply = "PONG\n"
    elif command == "STATUS":
        ssid = printf_encode(bytes.fromhex(config["ssid2"])) if enabled else ""
        reply = (f"state={'ENABLED' if enabled else 'DISABLED'}\nphy=fake0\nfreq=2437\nchannel={config['channel']}\n"
                 f"bss[0]={config['interface']}\nbssid[0]=02:00:00:00:00:aa\nssid[0]={ssid}\nnum_sta[0]=0\n")
    elif command == "TERMINATE":
        state["stop"] = True
        reply = "OK\n"
    else:
        reply = "UNKNOWN COMMAND\n"
    sock.sendto(reply.encode(), peer)


if __name__ == "__main__":
    main()
