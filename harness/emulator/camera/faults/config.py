"""Camera faults of the configuration it takes: SSID and password limits (PROTOCOL.md §2.1, §3)."""

from __future__ import annotations

import json
import unicodedata
import urllib.parse

from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.pairing import PairingChannel, PairingConfig
from harness.protocol.errors import ProtocolError

from .registry import builtin as _fault


@_fault("ssid-truncate-32", "drops the last byte of a 32-byte SSID (a 32-byte buffer with its terminator)",
        "PROTOCOL.md §2.1/§3.2: an SSID is up to 32 bytes, all of them kept")
class SsidTruncate32(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if len(config.ssid) == 32:
            config = PairingConfig(config.mode, config.ssid[:31], config.password, config.token)
        return super().accept_config(config)


def _raw_ssid(raw: bytes) -> bytes | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    value = obj.get("s", obj.get("ssid"))
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else None


@_fault("crashes-on-long-ssid", "overflows its SSID buffer on an SSID over 32 bytes and dies",
        "PROTOCOL.md §3.2 fuzz lead: an SSID over 32 bytes must be refused, never overflow")
class CrashesOnLongSsid(EmulatedCamera):
    def refuse_config(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        ssid = _raw_ssid(raw)
        if ssid is not None and len(ssid) > 32:
            self.crash(f"stack overflow copying a {len(ssid)}-byte SSID")
            return
        super().refuse_config(mode, raw, error)


def _without_format_characters(ssid: bytes) -> bytes:
    try:
        text = ssid.decode("utf-8")
    except UnicodeDecodeError:
        return ssid
    return "".join(c for c in text if unicodedata.category(c) != "Cf").encode("utf-8")


@_fault("ssid-strips-format-chars", "deletes invisible Unicode format characters (bidi marks, ZWJ, BOM) from the SSID",
        "PROTOCOL.md §1.2/§2.1/§3.1: the SSID is kept byte for byte, whatever UTF-8 it holds")
class SsidStripsFormatChars(EmulatedCamera):
    """A display sanitiser (against right-to-left spoofing) run over the stored config instead of the UI text."""

    def accept_config(self, config: PairingConfig) -> PairingConfig:
        config = PairingConfig(config.mode, _without_format_characters(config.ssid), config.password, config.token)
        return super().accept_config(config)


@_fault("qr-trims-credentials", "trims spaces around the SSID and password it reads from a QR code (a text-field "
        "habit): a network whose name ends in a space is never found",
        "PROTOCOL.md §1.1/§1.2: the QR's s and p are JSON strings, taken verbatim")
class QrTrimsCredentials(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if config.mode == "qr":
            config = PairingConfig(config.mode, config.ssid.strip(b" "), config.password.strip(b" "), config.token)
        return super().accept_config(config)


@_fault("qr-url-decodes-credentials", "URL-decodes the SSID and password it reads from a QR code, as if the text "
        "were a query string: '+' becomes a space and %41 an 'A'",
        "PROTOCOL.md §1.1/§1.2: the QR payload is JSON, not URL encoding")
class QrUrlDecodesCredentials(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if config.mode == "qr":
            config = PairingConfig(config.mode, urllib.parse.unquote_to_bytes(config.ssid.replace(b"+", b" ")),
                                   urllib.parse.unquote_to_bytes(config.password.replace(b"+", b" ")), config.token)
        return super().accept_config(config)


@_fault("crashes-on-short-password", "aborts deriving the WPA key from a password of 1 to 7 characters",
        "fuzz: a password no WPA network has fails the join and is refused; the device stays alive")
class CrashesOnShortPassword(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if 0 < len(config.password) < 8:
            self.crash(f"assertion in the PSK derivation: a {len(config.password)}-character passphrase")
            return config
        return super().accept_config(config)
