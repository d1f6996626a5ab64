"""The real Mosquitto as the emulated cloud's broker (optional; ``make mosquitto`` installs it).

Mosquitto cannot call into Python, so the :class:`~harness.emulator.broker.authority.CredentialAuthority` is
rendered as files in a private temporary directory (0700, files 0600): a configuration, a password file in
Mosquitto's salted SHA-512 format (``$6$``) and an ACL file. Every change of the authority rewrites them and
reloads Mosquitto with SIGHUP (changes that come while a reload is under way are taken together by the next one);
the change returns once Mosquitto has logged a reload of files that hold it, so a device activated a moment ago can
log in at once.

What Mosquitto does differently from the embedded broker (and how this class deals with it):

- It checks username and password, not the client id: a device's client id is not tied to its devId here.
- It takes a CONNECT's will whatever its topic and checks it against the ACL file when it would send it: a will
  on a topic the login may not write to is dropped then (the embedded broker drops it at CONNECT). Retained
  messages pass the same ``topic write`` lines when published and ``topic read`` lines when delivered.
- Connect and disconnect callbacks come from Mosquitto's own log, published on ``$SYS/broker/log/#`` and
  read by a private monitor login (random credentials, written only into this broker's files, never into
  the authority). They arrive a few milliseconds after the fact.
- ``disconnect(client_id)`` takes the session over: the monitor login connects under that client id and
  leaves, which makes Mosquitto close the existing connection [MQTT-3.1.4-2].
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from harness.emulator.broker.authority import (
    AuthoritySnapshot,
    BrokerIdentity,
    ConnectionCallback,
    CredentialAuthority,
)
from harness.emulator.listen import TlsMaterial, dial_host
from harness.errors import HarnessError

log = logging.getLogger(__name__)

_LOG_TOPIC = "$SYS/broker/log/#"
_NEW_CLIENT = re.compile(r"New client connected from \S+ as (?P<cid>\S+) \((?P<meta>[^)]*)\)")
_USERNAME = re.compile(r"u'(?P<user>[^']*)'")
_GONE = re.compile(
    r"Client (?P<a>\S+) (?:\[\S+\] )?(?:disconnected|closed its connection|has exceeded timeout)"
    r"|Socket error on client (?P<b>\S+?),"
    r"|Client (?P<c>\S+) already connected, closing old connection"
)
_RELOADED = "Reloading config"
# Characters that would break a line of the password or ACL file; such names are never written.
_UNSAFE_NAME = re.compile(r"[\s:#]")


def find_mosquitto(binary: str | None = None) -> str | None:
    """The Mosquitto executable to run, or None when it is not installed."""
    if binary:
        return binary if os.access(binary, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def password_line(username: str, password: str, *, salt: bytes | None = None) -> str:
    """One password-file line in Mosquitto's ``$6$`` format: base64 salt, base64 SHA-512(password + salt)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.sha512(password.encode("utf-8") + salt).digest()
    return f"{username}:$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` (0600) whole, by rename: a Mosquitto reloading meanwhile reads the old file or the new one."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(part, path)


RESIGNAL_S = 0.5  # how long a reload may go unconfirmed before its SIGHUP is sent again


class MosquittoBroker:
    """Mosquitto on a free loopback port, its users and ACLs generated from a CredentialAuthority."""

    def __init__(self, authority: CredentialAuthority, *, host: str = "127.0.0.1", port: int = 0,
                 binary: str | None = None, on_connect: ConnectionCallback | None = None,
                 on_disconnect: ConnectionCallback | None = None, timeout_s: float = 10.0,
                 tls: TlsMaterial | None = None, plain_port: int | None = None) -> None:
        self.authority = authority
        self._host = host
        self._requested_port = port
        self._port = 0
        # MQTT over TLS on the port (§11.1), and an optional plain listener beside it for old firmware
        self._tls = tls
        self._requested_plain_port = plain_port
        self.plain_port: int | None = None
        self._binary = binary
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._timeout_s = timeout_s
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._monitor: paho.Client | None = None
        self._monitor_user = f"paircert-monitor-{secrets.token_hex(6)}"
        self._monitor_password = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._reload_seen = threading.Condition(self._lock)
        self._reloads = 0  # reloads Mosquitto has logged
        self._asked = 0  # changes of the authority heard
        self._applied = 0  # of those, how many are in files Mosquitto has reloaded
        self._reloading = False  # a caller is rewriting and reloading (the others wait for it)
        self._connected: dict[str, BrokerIdentity | None] = {}
        self._identities: dict[str, BrokerIdentity] = {}

    def __repr__(self) -> str:
        return f"MosquittoBroker(host={self._host!r}, port={self._port}, running={self.running})"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the broker has not been started")
        return self._port

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the files, start ``mosquitto -c``, and return once the monitor is connected and subscribed."""
        if self._process is not None:
            raise RuntimeError("the broker is already started")
        binary = find_mosquitto(self._binary)
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed: run `make mosquitto` (as root) to install it")
        self._dir = Path(tempfile.mkdtemp(prefix="paircert-mosquitto-"))
        self._port = self._requested_port or _free_port(self._host)
        if self._tls is not None and self._requested_plain_port is not None:
            self.plain_port = self._requested_plain_port or _free_port(self._host)
        self._write_files(self.authority.snapshot())
        log_fd = os.open(self._dir / "mosquitto.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        log_file = os.fdopen(log_fd, "wb")
        try:
            self._process = subprocess.Popen(
                [binary, "-c", str(self._dir / "mosquitto.conf")],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            )
        finally:
            log_file.close()
        try:
            self._start_monitor()
        except BaseException:
            self.stop()
            raise
        self.authority.add_listener(self._reload)

    def stop(self) -> None:
        """Stop the monitor and Mosquitto (SIGTERM, then SIGKILL after the timeout) and remove the files."""
        self.authority.remove_listener(self._reload)
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.disconnect()
            monitor.loop_stop()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self._timeout_s)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        with self._lock:
            gone = list(self._connected.items())
            self._connected.clear()
        for client_id, identity in gone:
            _notify(self._on_disconnect, client_id, identity)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- clients ---------------------------------------------------------------------------------------

    def connected_clients(self) -> set[str]:
        """Client ids Mosquitto has logged as connected and not yet gone (the monitor excluded)."""
        with self._lock:
            return set(self._connected)

    def identity_of(self, client_id: str) -> BrokerIdentity | None:
        """Who the connected client ``client_id`` logged in as (from Mosquitto's log), None when not connected."""
        with self._lock:
            return self._connected.get(client_id)

    def disconnect(self, client_id: str, *, wait_s: float | None = None) -> bool:
        """Close ``client_id``'s connection by taking its session over; False when it was not connected."""
        if client_id not in self.connected_clients():
            return False
        taker = self._local_client(client_id)
        connected = threading.Event()
        taker.on_connect = lambda *_: connected.set()
        taker.connect(dial_host(self._host), self.port, keepalive=10)
        taker.loop_start()
        try:
            connected.wait(self._timeout_s)
            taker.disconnect()
        finally:
            taker.loop_stop()
        deadline = time.monotonic() + (wait_s if wait_s is not None else self._timeout_s)
        while client_id in self.connected_clients() and time.monotonic() < deadline:
            time.sleep(0.01)
        return True

    # -- files and reloads -----------------------------------------------------------------------------

    def _write_files(self, snapshot: AuthoritySnapshot) -> None:
        if self._dir is None:
            raise HarnessError("broken invariant: self._dir is not None")
        passwords = [password_line(self._monitor_user, self._monitor_password)]
        acl = [f"user {self._monitor_user}", f"topic read {_LOG_TOPIC}", ""]
        for username, password in snapshot.passwords.items():
            if _UNSAFE_NAME.search(username):
                log.warning("a username with whitespace, ':' or '#' cannot be given to Mosquitto; skipped")
                continue
            passwords.append(password_line(username, password))
            rule = snapshot.acl[username]
            acl.append(f"user {username}")
            if snapshot.enforce_acl:
                acl += [f"topic read {topic}" for topic in rule.read]
                acl += [f"topic write {topic}" for topic in rule.write]
            else:
                acl.append("topic readwrite #")
            acl.append("")
        _write_private(self._dir / "passwd", "\n".join(passwords) + "\n")
        _write_private(self._dir / "acl", "\n".join(acl) + "\n")
        config = [
            "per_listener_settings false",
            "allow_anonymous false",
            *self._listener_lines(),
            f"password_file {self._dir / 'passwd'}",
            f"acl_file {self._dir / 'acl'}",
            "persistence false",
            # The default (1000) silently drops device reports queued for a busy cloud client.
            "max_queued_messages 100000",
            "log_dest topic",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp false",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto would switch to the "mosquitto" user, who cannot read our 0600 files.
            config.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        _write_private(self._dir / "mosquitto.conf", "\n".join(config) + "\n")
        with self._lock:
            self._identities = dict(snapshot.identities)

    def _listener_lines(self) -> list[str]:
        """The listener(s): MQTT over TLS with the lab certificate (§11.1), or plain; a plain one beside TLS."""
        if self._dir is None:
            raise HarnessError("broken invariant: self._dir is not None")
        lines = [f"listener {self._port} {self._host}"]
        if self._tls is None:
            return lines
        cert, key, ca = self._tls.write(self._dir)
        lines += [f"certfile {cert}", f"keyfile {key}", f"cafile {ca}", "tls_version tlsv1.2"]
        if self.plain_port is not None:
            lines.append(f"listener {self.plain_port} {self._host}")
        return lines

    def _local_client(self, client_id: str) -> paho.Client:
        """A paho client of this broker's private monitor login, over TLS when the listener speaks it."""
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        client.username_pw_set(self._monitor_user, self._monitor_password)
        if self._tls is not None:
            client.tls_set_context(self._tls.client_context())
        return client

    def _reload(self) -> None:
        """The authority changed: return once Mosquitto has reloaded files written after the change (bounded).

        One caller at a time rewrites the files and reloads; changes that come meanwhile wait and are taken
        together by the next reload, so that a burst of activations costs a few reloads, not one each."""
        with self._reload_seen:
            self._asked += 1
            wanted = self._asked
            deadline = time.monotonic() + 2 * self._timeout_s
            while self._reloading and self._applied < wanted:
                if not self._reload_seen.wait(max(0.0, deadline - time.monotonic())):
                    log.warning("mosquitto did not confirm a reload with this change within %s s", 2 * self._timeout_s)
                    return
            if self._applied >= wanted:
                return
            self._reloading = True
        try:
            while True:
                with self._lock:
                    if self._applied >= wanted:
                        return
                    target = self._asked
                self._reload_once()
                with self._reload_seen:
                    self._applied = max(self._applied, target)
                    self._reload_seen.notify_all()
        finally:
            with self._reload_seen:
                self._reloading = False
                self._reload_seen.notify_all()

    def _reload_once(self) -> None:
        """Rewrite the files from the authority as it is now, SIGHUP, and wait (bounded) for Mosquitto's word."""
        process = self._process
        if process is None or process.poll() is not None or self._dir is None:
            return
        self._write_files(self.authority.snapshot())
        with self._lock:
            seen = self._reloads
        # A SIGHUP that lands while Mosquitto is still in the reload before is lost (it clears its reload flag
        # when that one ends): without its word soon, the signal is sent again, within the timeout.
        deadline = time.monotonic() + self._timeout_s
        while True:
            process.send_signal(signal.SIGHUP)
            with self._reload_seen:
                left = deadline - time.monotonic()
                if self._reload_seen.wait_for(lambda: self._reloads > seen, max(0.0, min(RESIGNAL_S, left))):
                    return
            if time.monotonic() >= deadline or process.poll() is not None:
                log.warning("mosquitto did not confirm its reload within %s s", self._timeout_s)
                return

    # -- the monitor: Mosquitto's log on $SYS ----------------------------------------------------------

    def _start_monitor(self) -> None:
        monitor = self._local_client(self._monitor_user)
        subscribed = threading.Event()

        def on_connect(client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not reason.is_failure:
                client.subscribe(_LOG_TOPIC, qos=0)

        monitor.on_connect = on_connect
        monitor.on_subscribe = lambda *_: subscribed.set()
        monitor.on_message = self._on_log
        deadline = time.monotonic() + self._timeout_s
        while True:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start; see {self._dir}/mosquitto.log")
            try:
                monitor.connect(dial_host(self._host), self._port, keepalive=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mosquitto did not accept connections within {self._timeout_s} s") from None
                time.sleep(0.02)
        monitor.loop_start()
        self._monitor = monitor
        if not subscribed.wait(max(0.1, deadline - time.monotonic())):
            raise TimeoutError("the mosquitto log monitor could not subscribe")

    def _on_log(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        line = message.payload.decode("utf-8", "replace")
        if _RELOADED in line:
            with self._reload_seen:
                self._reloads += 1
                self._reload_seen.notify_all()
            return
        if "not authori" in line:
            return
        if (new := _NEW_CLIENT.search(line)) is not None:
            self._client_came(new["cid"], new["meta"])
        elif (gone := _GONE.search(line)) is not None:
            self._client_went(gone["a"] or gone["b"] or gone["c"])

    def _client_came(self, client_id: str, meta: str) -> None:
        user = _USERNAME.search(meta)
        if user is not None and user["user"] == self._monitor_user:
            return
        with self._lock:
            identity = self._identities.get(user["user"]) if user is not None else None
            self._connected[client_id] = identity
        _notify(self._on_connect, client_id, identity)

    def _client_went(self, client_id: str) -> None:
        with self._lock:
            if client_id not in self._connected:
                return
            identity = self._connected.pop(client_id)
        _notify(self._on_disconnect, client_id, identity)


def _notify(callback: ConnectionCallback | None, client_id: str, identity: BrokerIdentity | None) -> None:
    if callback is None:
        return
    try:
        callback(client_id, identity)
    except Exception:
        log.exception("broker connection callback failed for client %r", client_id)


__all__ = ["MosquittoBroker", "find_mosquitto", "password_line"]
