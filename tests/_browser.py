"""A page in headless Chromium, driven through the DevTools protocol: what a person sees of a report.

Debian's ``chromium`` runs headless with a new empty profile and no network features; the page is opened from
disk. :class:`Page` evaluates JavaScript in it (element positions, the page's height, its text) and takes a
screenshot of the first screen. Tests skip with the reason when Chromium is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "chromium is not installed: `make chromium` (apt-get install -y chromium)"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--mute-audio"]
START_S = 30.0
LOAD_S = 30.0


class Page:
    """One page over a DevTools websocket: :meth:`call` a protocol method, :meth:`js` evaluate an expression."""

    def __init__(self, socket: websocket.WebSocket) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        for _ in range(10_000):  # events arrive between the answers; bounded
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
        raise RuntimeError(f"{method}: no answer")

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The first screen (the viewport) as PNG."""
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path


def _debugging_port(profile: Path, child: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_S
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"chromium exited with status {child.returncode}")
        if marker.is_file():
            lines = marker.read_text().split()
            if lines and lines[0].isdigit():
                return int(lines[0])
        time.sleep(0.05)
    raise RuntimeError(f"chromium gave no DevTools port within {START_S:g} s")


@contextlib.contextmanager
def open_page(path: Path, profile: Path, *, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """``path`` (a file) open in headless Chromium with a viewport of ``width`` x ``height`` CSS pixels."""
    assert CHROMIUM is not None, SKIP_REASON
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a stale one from an earlier browser
    child = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                              f"--window-size={width},{height}", "about:blank"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _debugging_port(profile, child)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        target = next(t for t in targets if t.get("type") == "page")
        socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=LOAD_S, suppress_origin=True)
        try:
            page = Page(socket)
            page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
            page.call("Page.navigate", url=path.resolve().as_uri())
            deadline = time.monotonic() + LOAD_S
            while page.js("document.readyState") != "complete":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} did not load within {LOAD_S:g} s")
                time.sleep(0.05)
            yield page
        finally:
            socket.close()
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


__all__ = ["CHROMIUM", "SKIP_REASON", "Page", "open_page"]
