"""Listening sockets for the emulated cloud's servers (HTTP, HTTPS, MQTT, MQTT over TLS), with clear bind errors,
and the TLS material a TLS listener serves.

Labs point genuine firmware at the ATOP port 443 (PROTOCOL.md §11.1, §11.2: the port is forced to 443), and a
port below 1024 needs root or the CAP_NET_BIND_SERVICE capability: a failed bind says so, and what to do.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PRIVILEGED_PORT_LIMIT = 1024
#: Where a client on the cloud's own machine dials a server bound to a wildcard address.
WILDCARD_DIAL = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def dial_host(host: str) -> str:
    """The address a local client dials to reach a server bound to ``host`` (loopback for a wildcard)."""
    return WILDCARD_DIAL.get(host, host)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (keys, passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class TlsMaterial:
    """A TLS server's certificate chain and key, and the CA its clients trust (all PEM; the key never shown)."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    ca_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        """A server-side context (TLS 1.2 or later) serving this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="paircert-tls-") as folder:  # load_cert_chain reads files only
            cert, key = Path(folder) / "server.pem", Path(folder) / "server.key"
            write_private(cert, self.cert_pem)
            write_private(key, self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context trusting exactly this CA, with host name checking."""
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cadata=self.ca_pem.decode("ascii"))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def write(self, directory: Path) -> tuple[Path, Path, Path]:
        """Write certificate, key (0600) and CA into ``directory``: (cert, key, ca) paths, for Mosquitto."""
        cert, key, ca = directory / "server.pem", directory / "server.key", directory / "ca.pem"
        write_private(cert, self.cert_pem)
        write_private(key, self.key_pem)
        write_private(ca, self.ca_pem)
        return cert, key, ca


class ListenError(OSError):
    """A listener could not bind; the message says why and what to do (port 443 needs privileges)."""


def bind_error(kind: str, host: str, port: int, exc: OSError) -> ListenError:
    """A clear error for a failed bind: root or CAP_NET_BIND_SERVICE for ports below 1024 (443, 8883 is not)."""
    if exc.errno in (errno.EACCES, errno.EPERM) and 0 < port < PRIVILEGED_PORT_LIMIT:
        return ListenError(exc.errno, (
            f"cannot listen for {kind} on {host}:{port}: ports below {PRIVILEGED_PORT_LIMIT} need root or the "
            f"CAP_NET_BIND_SERVICE capability (run as root, or grant it to the Python that runs paircert: "
            f"sudo setcap cap_net_bind_service=+ep \"$(readlink -f .venv/bin/python)\")"))
    if exc.errno == errno.EADDRINUSE:
        return ListenError(exc.errno, f"cannot listen for {kind} on {host}:{port}: the port is in use")
    return ListenError(exc.errno, f"cannot listen for {kind} on {host}:{port}: {exc.strerror or exc}")


def listening_socket(kind: str, host: str, port: int, *, backlog: int = 1024,
                     reuse_port: bool = False) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (IPv6 when ``host`` is an IPv6 address); ``reuse_port``: one
    of several processes' sockets on the same port, the kernel spreading connections over them (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog, reuse_port=reuse_port)
    except OSError as exc:
        raise bind_error(kind, host, port, exc) from exc
    sock.setblocking(False)
    return sock


__all__ = ["PRIVILEGED_PORT_LIMIT", "ListenError", "TlsMaterial", "bind_error", "dial_host", "listening_socket",
           "write_private"]
