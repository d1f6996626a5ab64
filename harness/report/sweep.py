"""The last line of redaction: check every byte of every file a run wrote for the secrets the run is known to hold.

The plugin redacts as it writes; this sweep runs after pytest has exited, over every file under the run directory
(summary, junit, allure-results, evidence, the pytest log, and report.html), with:

- the profile's secrets (Wi-Fi password, licence UUID and AuthKey, adapter arguments given as ``env:``),
  resolved from the environment of the run;
- every secret the run learned (the cloud's AuthKeys, secKeys, localKeys, MQTT passwords), collected by
  :mod:`harness.report.sink`.

Each file is read once, in chunks, hashed and searched for every spelling :func:`harness.redaction.spellings`
knows, several files at a time (the search releases the GIL). What it finds it removes in place:

- an image (PNG, JPEG, GIF) is also decoded as a QR code: one whose bytes or QR payload hold a secret (a
  pairing QR carries the Wi-Fi password) becomes the QR code of the redacted payload
  (:meth:`~harness.redaction.Redactor.redact_image`);
- an image inlined as a ``data:image/...;base64,`` URI (report.html) is treated the same way, inside the text;
- a packet capture has its secrets overwritten byte for byte, so that it still opens in Wireshark;
- any other file has them replaced by the mask.

A file the sweep has checked (or cleaned) is mode 0644 and a directory 0755: until then, everything the pytest run
wrote is 0600 (the runner starts it with umask 077), since it may still hold a secret. A second sweep given the
first one's :class:`SweepReport` skips every file and inlined image whose SHA-256 the first found clean, so that
checking report.html after writing it from swept evidence costs only the new bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from harness.profiles import Profile, SecretRef
from harness.redaction import (
    PLACEHOLDER_TEXT,
    Redactor,
    base64_spellings,
    is_image,
    placeholder_png,
)

#: Modes of what the sweep has checked: nothing in it is secret any more.
FILE_MODE = 0o644
DIR_MODE = 0o755

_CHUNK = 1 << 20
_DATA_URI = re.compile(rb"data:(image/[A-Za-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})")
_DATA_URI_MARK = b"data:image/"
_PCAP_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


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
    """The runner's redactor: a :class:`~harness.redaction.Redactor` (every spelling, base64 included), which
    also says which plain secrets it holds."""

    @property
    def plain(self) -> frozenset[str | bytes]:
        """The secrets learned (as given, not their spellings)."""
        return self.secrets


@dataclass
class SweepReport:
    """What one sweep did: the files it cleaned, how many it searched or skipped, and what it found clean."""

    changed: list[str] = field(default_factory=list)
    searched: int = 0
    skipped: int = 0
    clean: set[str] = field(default_factory=set)  # SHA-256 (hex) of every file and inlined image found clean
    spellings: int = 0  # how many spellings the redactor knew: a later sweep trusts ``clean`` only for as many


class _Sweep:
    """One sweep's state, shared by its worker threads."""

    def __init__(self, redactor: Redactor, trusted: set[str]) -> None:
        self.redactor = redactor
        self.trusted = trusted
        self.clean: set[str] = set()
        self.images: dict[str, bytes] = {}  # digest of an image -> its redacted form (the same image, in 2 places)
        self.image_locks: dict[str, threading.Lock] = {}
        self.lock = threading.Lock()

    def known_clean(self, digest: str) -> bool:
        return digest in self.trusted

    def found_clean(self, digest: str) -> None:
        with self.lock:
            self.clean.add(digest)

    def image(self, data: bytes) -> bytes:
        """``data`` redacted as an image, each distinct image decoded once per sweep."""
        digest = hashlib.sha256(data).hexdigest()
        if self.known_clean(digest):
            return data
        with self.lock:
            image_lock = self.image_locks.setdefault(digest, threading.Lock())
        with image_lock:  # another thread decoding the same image: wait for its answer
            done = self.images.get(digest)
            if done is None:
                done = self.images[digest] = self.redactor.redact_image(data)
        if done == data:
            self.found_clean(digest)
        return done


def _digest(path: Path) -> tuple[str, bytes]:
    """A file's SHA-256 and first bytes, read in chunks."""
    digest, head = hashlib.sha256(), b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            head = head or chunk[:16]
    return digest.hexdigest(), head


def _search(path: Path, redactor: Redactor) -> tuple[bool, bool]:
    """Stream a file through the matcher: whether a secret occurs in it, and whether it inlines an image."""
    overlap = max(redactor.matcher.longest, len(_DATA_URI_MARK)) - 1
    tail, leaked, inlines = b"", False, False
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            window = tail + chunk
            leaked = leaked or redactor.contains(window)
            inlines = inlines or _DATA_URI_MARK in window
            tail = window[-overlap:]
    return leaked, inlines


def _redact_inlined_images(text: bytes, sweep: _Sweep) -> bytes:
    """``text`` with every ``data:image/...;base64,`` URI whose image holds a secret replaced by its redacted form."""

    def replace(match: re.Match[bytes]) -> bytes:
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)
        cleaned = sweep.image(data)
        if cleaned == data:
            return match.group(0)
        return b"data:image/png;base64," + base64.b64encode(cleaned)

    return _DATA_URI.sub(replace, text)


def _cleaned(data: bytes, sweep: _Sweep, *, leaked: bool, inlines: bool) -> bytes:
    if is_image(data):
        return sweep.image(data)
    if inlines:
        data = _redact_inlined_images(data, sweep)
    if not leaked and not inlines:
        return data
    if data.startswith(_PCAP_MAGIC):
        return sweep.redactor.mask_bytes(data)
    return sweep.redactor.redact_bytes(data)


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` over ``path`` through a temporary file and a rename (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sweep_one(path: Path, sweep: _Sweep) -> tuple[bool, bool]:
    """Check one file and clean it where needed: (whether it was searched, whether it changed)."""
    digest, head = _digest(path)
    if sweep.known_clean(digest):
        os.chmod(path, FILE_MODE)
        return False, False
    leaked, inlines = _search(path, sweep.redactor)
    changed = False
    if leaked or inlines or is_image(head):
        data = path.read_bytes()
        cleaned = _cleaned(data, sweep, leaked=leaked, inlines=inlines)
        if cleaned != data:
            _replace_file(path, cleaned)
            digest, changed = hashlib.sha256(cleaned).hexdigest(), True
    os.chmod(path, FILE_MODE)
    sweep.found_clean(digest)
    return True, changed


def sweep_file(path: Path, redactor: Redactor) -> bool:
    """Remove known secrets from one file (made mode 0644); True when it changed."""
    return _sweep_one(path, _Sweep(redactor, set()))[1]


def _run_files(run_dir: Path) -> tuple[list[Path], list[Path]]:
    files: list[Path] = []
    directories: list[Path] = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            directories.append(path)
        elif path.is_file():
            files.append(path)
    return files, directories


def sweep_directory(run_dir: Path, redactor: Redactor, *, since: SweepReport | None = None,
                    workers: int | None = None) -> SweepReport:
    """Check and clean every regular file under ``run_dir`` (symlinks are not followed), ``workers`` at a time.

    ``since``: an earlier sweep of the same directory; files and inlined images it found clean are skipped
    by their SHA-256, as long as the redactor has learned nothing since.
    """
    trusted = since.clean if since is not None and since.spellings == len(redactor) else set()
    sweep = _Sweep(redactor, trusted)
    files, directories = _run_files(run_dir)
    report = SweepReport(spellings=len(redactor))
    threads = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sweep") as pool:
        outcomes = list(pool.map(lambda path: _sweep_one(path, sweep), files))
    for path, (searched, changed) in zip(files, outcomes, strict=True):
        report.searched += searched
        report.skipped += not searched
        if changed:
            report.changed.append(path.relative_to(run_dir).as_posix())
    for directory in [run_dir, *directories]:
        os.chmod(directory, DIR_MODE)
    report.clean = sweep.clean | trusted
    return report


__all__ = ["DIR_MODE", "FILE_MODE", "PLACEHOLDER_TEXT", "SweepRedactor", "SweepReport", "base64_spellings",
           "placeholder_png", "profile_secrets", "sweep_directory", "sweep_file"]
