"""Raw clients for the TLS lab cloud's tests: HTTP/1.1 written by hand over a (TLS) socket, so that a test sends
exactly the bytes a genuine SDK does (User-Agent twice, PROTOCOL.md §11.3), and an MQTT client as a device."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from harness.emulator.cloud import EmulatedCloud

TIMEOUT_S = 10.0


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def http_exchange(host: str, port: int, request: bytes, *, tls: ssl.SSLContext | None = None,
                  server_hostname: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is and read one answer: (status, headers lower-cased, body)."""
    raw = socket.create_connection((host, port), timeout=TIMEOUT_S)
    sock: socket.socket = tls.wrap_socket(raw, server_hostname=server_hostname) if tls is not None else raw
    with sock:
        sock.sendall(request)
        data = b""
        deadline = time.monotonic() + TIMEOUT_S
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def sdk_request(path: str, body: bytes, *, host: str = "127.0.0.1", user_agents: tuple[str, ...] = ("TUYA_IOT_SDK",
                "coreHTTP"), extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A POST as the connect-kit and TuyaOpen send it (§11.9.2: User-Agent, Host, User-Agent, Content-Type,
    Content-Length)."""
    headers = [("User-Agent", user_agents[0]), ("Host", host), *[("User-Agent", ua) for ua in user_agents[1:]],
               ("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8"),
               ("Content-Length", str(len(body))), *extra]
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


# The connect-kit's url_config parse (§11.2, CK src/iotdns.c: sscanf "https://%99[^/]%99[^\n]"), in Python.
SSCANF_HTTPS = re.compile(r"https://([^/]{1,99})([^\n]{1,99})")


def sscanf_https(addr: str) -> tuple[str, str] | None:
    """What ``sscanf(addr, "https://%99[^/]%99[^\\n]", host, path)`` fills: (host, path), or None when it
    matches fewer than 2 fields (an ``http://`` URL matches none)."""
    match = SSCANF_HTTPS.match(addr)
    return None if match is None else (match.group(1), match.group(2))


class DeviceMqtt:
    """A device's MQTT session (paho, its own network thread), over TLS when given a context."""

    def __init__(self, cloud: EmulatedCloud, client_id: str, username: str, password: str, *,
                 tls: ssl.SSLContext | None = None, port: int | None = None) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.connack = threading.Event()
        self.reason: Any = None
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port or cloud.mqtt_port, keepalive=30)
        self.client.loop_start()
        assert self.connack.wait(TIMEOUT_S), "no CONNACK"

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.reason = reason
        self.connack.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        with self.lock:
            self.messages.append((str(message.topic), bytes(message.payload)))

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(TIMEOUT_S), f"no SUBACK for {topic}"

    def wait_message(self, topic: str, count: int = 1) -> list[bytes]:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            with self.lock:
                got = [p for t, p in self.messages if t == topic]
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"nothing (or fewer than {count}) on {topic} within {TIMEOUT_S} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
