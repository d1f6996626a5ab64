"""The last line of redaction: sweep every file of a run directory for the secrets the run is known to hold.

The plugin redacts as it writes; this sweep runs after pytest has exited and before the manifest, over every
byte under the run directory (summary, report, junit, allure-results, evidence, the pytest log), with:

- the profile's secrets (Wi-Fi password, licence UUID and AuthKey, adapter arguments given as ``env:``),
  resolved from the environment of the run;
- every secret the run learned (the cloud's AuthKeys, secKeys, localKeys, MQTT passwords), collected by
  :mod:`harness.report.sink`.

Each secret is looked for in the spellings :class:`~harness.redaction.Redactor` knows plus base64. A PNG is
decoded as a QR code as well: an image whose QR encodes a secret (a pairing QR carries the Wi-Fi password) is
replaced by a placeholder image, since masking bytes inside a compressed image is impossible.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

from harness.profiles import Profile, SecretRef
from harness.redaction import MIN_SECRET_LENGTH, Redactor, base64_spellings

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLACEHOLDER_TEXT = "image withheld: its QR code encodes a secret"


def _secret_refs(node: object) -> Iterator[SecretRef]:
    if isinstance(node, SecretRef):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secret_refs(getattr(node, name))
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _secret_refs(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _secret_refs(value)


def profile_secrets(profile: Profile, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of every ``env:`` secret of the profile that the environment holds."""
    environ = os.environ if environ is None else environ
    values: list[str] = []
    for ref in _secret_refs(profile):
        value = environ.get(ref.env)
        if value:
            values.append(value)
    return values


class SweepRedactor(Redactor):
    """A :class:`Redactor` that also knows each secret's base64 spellings, and keeps the plain secrets."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self.plain: set[str] = set()
        super().__init__(secrets)

    def add(self, secret: object) -> None:
        getter = getattr(secret, "get_secret_value", None)
        value = getter() if callable(getter) else secret
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("utf-8", "replace")
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or value in self.plain:
            return
        self.plain.add(value)
        super().add(value)
        for spelling in base64_spellings(value):
            super().add(spelling)


def _qr_texts(data: bytes) -> list[bytes]:
    """The payloads of the QR codes in a PNG (empty when no decoder is installed or none is found)."""
    try:
        from PIL import Image

        from harness.qrimage import decode_qr
    except ImportError:
        return []
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            found: list[bytes] = []
            for backend in ("zbar", "zxing"):
                try:
                    found += decode_qr(image, backend=backend)
                except Exception:  # a missing backend or an undecodable image: try the other
                    continue
                if found:
                    break
            return found
    except Exception:  # not an image PIL can read: treated as bytes only
        return []


def placeholder_png(text: str = PLACEHOLDER_TEXT) -> bytes:
    """A small PNG saying why the original image is not there."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (420, 60), "white")
    ImageDraw.Draw(image).text((10, 22), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _contains_secret(redactor: SweepRedactor, data: bytes) -> bool:
    return redactor.redact_bytes(data) != data


def sweep_file(path: Path, redactor: SweepRedactor) -> bool:
    """Remove known secrets from one file; True when it changed."""
    data = path.read_bytes()
    if data.startswith(_PNG_MAGIC):
        leaked = _contains_secret(redactor, data) or any(
            _contains_secret(redactor, text) for text in _qr_texts(data))
        if leaked:
            path.write_bytes(placeholder_png())
        return leaked
    cleaned = redactor.redact_bytes(data)
    if cleaned == data:
        return False
    path.write_bytes(cleaned)
    return True


def sweep_directory(run_dir: Path, redactor: SweepRedactor) -> list[str]:
    """Sweep every regular file under ``run_dir``; the relative paths of the files that held a secret."""
    changed: list[str] = []
    if not redactor.plain:
        return changed
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if sweep_file(path, redactor):
            changed.append(path.relative_to(run_dir).as_posix())
    return changed


__all__ = ["PLACEHOLDER_TEXT", "SweepRedactor", "base64_spellings", "placeholder_png", "profile_secrets",
           "sweep_directory", "sweep_file"]
