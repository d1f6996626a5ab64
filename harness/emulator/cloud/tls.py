"""The lab CA and the lab cloud's server certificate (PROTOCOL.md §11.1, §11.9.4).

A genuine device SDK speaks only TLS, with certificate verification, to iot-dns, ATOP and MQTT (§11.1): the lab
cloud needs a CA the lab firmware trusts and a server certificate whose names include every host name the
device is pointed at. :class:`LabCa` is that CA: ``ca.pem`` and ``ca.key`` in a directory, used when they exist
and created (with the ``cryptography`` package, never by shelling out to openssl) when they do not.
:meth:`LabCa.issue_server` makes the server certificate for a set of names (DNS names or IP addresses).

Choices (§11.9.4): RSA-2048 keys (TuyaOpen negotiated ECDHE-RSA-AES128-GCM-SHA256 with an RSA-2048 lab CA, so a
lab needs no ECDSA); TLS 1.2 or later; an IP address is put in the certificate both as an IP SAN and as a DNS
SAN holding the literal address ("the safe choice", since which one mbedtls matched was not isolated); the
server certificate always names ``localhost`` and ``127.0.0.1`` too, for the cloud's own loopback clients.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.emulator.listen import TlsMaterial, write_private

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
CA_DER_FILE = "ca.der"
CA_C_FILE = "ca_cert.h"
KEY_BITS = 2048
CA_DAYS = 3650
SERVER_DAYS = 825  # the longest lifetime common TLS clients accept for a server certificate
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
C_ARRAY_NAME = "paircert_lab_ca_der"


class LabCaError(ValueError):
    """The CA directory cannot be used as it is (one file of the pair missing, unreadable, not a CA)."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


_ephemeral_keys: dict[str, rsa.RSAPrivateKey] = {}
_ephemeral_lock = threading.Lock()


def _ephemeral_key(role: str) -> rsa.RSAPrivateKey:
    """This process's key for ``role`` (``ca`` or ``server``) of in-memory CAs, made once.

    An in-memory CA lives as long as its emulated world and is trusted by that world's clients alone; each world
    still gets its own CA certificate and server certificate (fresh serials and names), and only the key pairs,
    which cost about 60 ms each to make, are shared by the worlds of one process. A CA written to disk
    (:meth:`LabCa.load_or_create`) always gets keys of its own.
    """
    with _ephemeral_lock:
        key = _ephemeral_keys.get(role)
        if key is None:
            key = _ephemeral_keys[role] = _new_key()
        return key


def split_names(names: Iterable[str]) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """The DNS names and the IP addresses among ``names`` (an IP address is listed in both: see the module)."""
    dns: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for raw in names:
        name = raw.strip().strip("[]")
        if not name or name in ("0.0.0.0", "::"):
            continue  # a wildcard bind address is no name a client dials
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            if name.lower() not in (d.lower() for d in dns):
                dns.append(name)
            continue
        if address not in ips:
            ips.append(address)
        if str(address) not in dns:
            dns.append(str(address))
    return dns, ips


@dataclass(frozen=True)
class ServerCertificate:
    """A server certificate issued by the lab CA, its key, and the names it carries."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    names: tuple[str, ...]


@dataclass(frozen=True)
class LabCa:
    """The lab's certificate authority: its certificate and private key (PEM)."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    path: Path | None = None
    ephemeral: bool = False  # in memory only: its server certificates use this process's shared server key

    # -- making and loading ------------------------------------------------------------------------------

    @classmethod
    def create(cls, common_name: str = "paircert lab CA", *, ephemeral: bool = False) -> LabCa:
        """A fresh self-signed CA (RSA-2048, ten years), in memory; ``ephemeral``: for one emulated world and
        never written out, so its key pair is this process's shared one (:func:`_ephemeral_key`)."""
        key = _ephemeral_key("ca") if ephemeral else _new_key()
        if ephemeral:  # a name of its own: another world's clients, which trust their CA, find no issuer here
            common_name = f"{common_name} {secrets.token_hex(4)}"
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paircert lab"),
                             x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(cert.public_bytes(serialization.Encoding.PEM), key_pem, ephemeral=ephemeral)

    @classmethod
    def load_or_create(cls, directory: str | os.PathLike[str]) -> LabCa:
        """The CA in ``directory`` (``ca.pem`` + ``ca.key``); created there, key mode 0600, when neither exists."""
        folder = Path(directory)
        cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
        if not cert_path.exists() and not key_path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            ca = cls.create()
            write_private(key_path, ca.key_pem)
            cert_path.write_bytes(ca.cert_pem)
            return cls(ca.cert_pem, ca.key_pem, folder)
        missing = [p.name for p in (cert_path, key_path) if not p.exists()]
        if missing:
            raise LabCaError(f"{folder}: {' and '.join(missing)} is missing (the CA is the pair {CA_CERT_FILE} + "
                             f"{CA_KEY_FILE}; remove the other file to create a new CA)")
        try:
            ca = cls(cert_path.read_bytes(), key_path.read_bytes(), folder)
            ca.check()
        except (OSError, ValueError) as exc:
            raise LabCaError(f"{folder}: not a usable CA: {exc}") from exc
        return ca

    def check(self) -> None:
        """Raise ValueError unless the certificate is a CA certificate and the key is its key."""
        cert = self.certificate
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            raise ValueError(f"{CA_CERT_FILE} is not a CA certificate (basicConstraints CA is false)")
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            raise ValueError(f"{CA_KEY_FILE} is not the key of {CA_CERT_FILE}")

    # -- views ---------------------------------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def der_base64(self) -> str:
        """``caArr[0]`` of a url_config answer (§11.2): base64 of the DER certificate."""
        return base64.b64encode(self.der).decode("ascii")

    def c_array(self, name: str = C_ARRAY_NAME) -> str:
        """The DER certificate as a C array, for a firmware build that pins the lab CA (§11.1)."""
        der = self.der
        rows = [", ".join(f"0x{b:02x}" for b in der[i:i + 12]) for i in range(0, len(der), 12)]
        body = ",\n    ".join(rows)
        return (f"/* paircert lab CA: {self.certificate.subject.rfc4514_string()} */\n"
                f"static const unsigned char {name}[{len(der)}] = {{\n    {body}\n}};\n"
                f"static const unsigned int {name}_len = {len(der)};\n")

    def write_exports(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write the CA as PEM, DER and a C array into ``directory``; the paths written."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / CA_CERT_FILE, folder / CA_DER_FILE, folder / CA_C_FILE]
        written[0].write_bytes(self.cert_pem)
        written[1].write_bytes(self.der)
        written[2].write_text(self.c_array(), encoding="ascii")
        return written

    # -- issuing -------------------------------------------------------------------------------------------

    def issue_server(self, names: Iterable[str]) -> ServerCertificate:
        """A server certificate for ``names`` (plus ``localhost`` and ``127.0.0.1``), signed by this CA."""
        dns, ips = split_names([*names, *LOOPBACK_NAMES])
        ca_cert = self.certificate
        # an in-memory CA's key is this process's (already checked) CA key: loading its PEM again would check it again
        ca_key = _ephemeral_key("ca") if self.ephemeral else serialization.load_pem_private_key(self.key_pem,
                                                                                                password=None)
        if not isinstance(ca_key, rsa.RSAPrivateKey):
            raise LabCaError("the lab CA key is not an RSA key")
        key = _ephemeral_key("server") if self.ephemeral else _new_key()
        now = _now()
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ip) for ip in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0][:64])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return ServerCertificate(cert.public_bytes(serialization.Encoding.PEM), key_pem, tuple(dns))

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only and checks the server's name."""
        return client_context(self.cert_pem)


def client_context(ca_pem: bytes | str) -> ssl.SSLContext:
    """A client-side context (TLS 1.2+) trusting exactly the CA ``ca_pem``, with host name checking."""
    pem = ca_pem.encode("ascii") if isinstance(ca_pem, str) else ca_pem
    return TlsMaterial(b"", b"", pem).client_context()


def client_context_from_der_base64(text: str) -> ssl.SSLContext:
    """A client context trusting the base64 DER CA of a url_config ``caArr`` entry (§11.2)."""
    der = base64.b64decode(text, validate=True)
    return client_context(ssl.DER_cert_to_PEM_cert(der))


@dataclass
class TlsSettings:
    """What a cloud serving TLS needs: the CA and the names its certificate must carry (§11.1).

    The server certificate is issued on first use, for ``names`` plus the loopback names.
    """

    ca: LabCa
    names: tuple[str, ...] = ()
    _server: ServerCertificate | None = field(default=None, repr=False)

    @property
    def server(self) -> ServerCertificate:
        if self._server is None:
            self._server = self.ca.issue_server(self.names)
        return self._server

    @property
    def material(self) -> TlsMaterial:
        """The server certificate (chained with the CA), its key, and the CA: what a TLS listener serves."""
        return TlsMaterial(self.server.cert_pem + self.ca.cert_pem, self.server.key_pem, self.ca.cert_pem)

    def write_server(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the server certificate chain and key (0600) next to the CA, for a lab's own TLS front ends."""
        folder = Path(directory)
        cert, key = folder / "server.pem", folder / "server.key"
        write_private(key, self.server.key_pem)
        cert.write_bytes(self.server.cert_pem + self.ca.cert_pem)
        return cert, key


__all__ = [
    "CA_CERT_FILE", "CA_C_FILE", "CA_DER_FILE", "CA_KEY_FILE", "LOOPBACK_NAMES", "LabCa", "LabCaError",
    "ServerCertificate", "TlsSettings", "client_context", "client_context_from_der_base64", "split_names",
]
