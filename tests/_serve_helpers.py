"""`paircert cloud serve` and `paircert device serve` as subprocesses: started on free loopback ports, their
printed URLs parsed, every wait bounded, stopped with SIGTERM (then killed) at the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping

PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]
START_TIMEOUT_S = 20.0


class Served:
    """A paircert subprocess whose banner is read until ``ready`` matches a line."""

    def __init__(self, args: list[str], *, ready: str, env: Mapping[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.proc = subprocess.Popen([*PAIRCERT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=cwd)
        self.lines: list[str] = []
        self._ready = re.compile(ready)
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if not self._started.wait(START_TIMEOUT_S):
            self.stop()
            raise AssertionError(f"paircert {' '.join(args[:2])} did not start: {''.join(self.lines)}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # keeps reading, so the child never blocks on a full pipe
            self.lines.append(line)
            self.on_line(line)
            if self._ready.search(line):
                self._started.set()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def on_line(self, line: str) -> None:
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class ServedCloud(Served):
    """`paircert cloud serve`; ``urls`` maps ATOP, url_config, app API and MQTT to what it printed, and
    ``admin_key`` is the lab admin key it printed (a new one each start, unless the arguments keep one)."""

    def __init__(self, *args: str) -> None:
        self.urls: dict[str, str] = {}
        self.admin_key: str | None = None
        super().__init__(["cloud", "serve", "--host", "127.0.0.1", "--port", "0", "--mqtt-port", "0", *args],
                         ready=r"^serving")

    def on_line(self, line: str) -> None:
        match = re.match(r"\s+(ATOP|app API|MQTT|url_config)\s+(\S+)", line)
        if match:
            self.urls[match.group(1)] = match.group(2)
        key = re.match(r"\s+admin key\s+(\S{16,})\s", line)
        if key:
            self.admin_key = key.group(1)


class ServedDevice(Served):
    """`paircert device serve`: one emulated camera with its control URL; the AuthKey goes in the environment."""

    def __init__(self, *, url_config: str, uuid: str, auth_key: str, pid: str, extra: tuple[str, ...] = ()) -> None:
        self.control = ""
        super().__init__(["device", "serve", "--url-config", url_config, "--pid", pid, "--control", "127.0.0.1:0",
                          *extra], ready=r"^paircert device: control ",
                         env={"PAIRCERT_DEVICE_UUID": uuid, "PAIRCERT_DEVICE_AUTH_KEY": auth_key})

    def on_line(self, line: str) -> None:
        match = re.match(r"^paircert device: control (\S+)", line)
        if match:
            self.control = match.group(1)
