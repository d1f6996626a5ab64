"""Removing secrets from everything paircert writes: reports, evidence, logs (DESIGN.md "Evidence").

A :class:`Redactor` learns secret *values* as they come into being (the lab's Wi-Fi password, a licence's
AuthKey, a secKey or localKey an adapter sees, an MQTT password) and replaces every occurrence of them, in
their plain, JSON-escaped, URL-encoded and hex spellings, with :data:`MASK`. It also masks the values of
mapping keys whose names say they hold a secret (``password``, ``authKey``, ``secKey``, ``localKey``, ...),
so that a secret nobody registered is still hidden where it is labelled as one.

Adapters and emulators that meet a secret at run time call :func:`learn`: every live redactor of the process
(the plugin's, a report writer's) picks it up. Nothing here imports pytest.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "«redacted»"

#: The byte :meth:`Redactor.mask_bytes` writes over a secret, once per byte, so that lengths stay as they were.
MASK_BYTE = b"*"

#: Secrets shorter than this are not learned (they would mask ordinary words and digits).
MIN_SECRET_LENGTH = 4

_SECRET_KEY = re.compile(
    r"^(wifi_?)?(pass(word|wd|phrase)?|pwd|psk(_?key)?|auth_?key|auzkey|sec_?key|local_?key|mqtt_?pass(word)?|"
    r"secret|client_?secret|private_?key)$",
    re.IGNORECASE,
)


def is_secret_key(name: str) -> bool:
    """Whether a mapping key or parameter name says its value is a secret (``password``, ``authKey``, ...)."""
    return bool(_SECRET_KEY.match(name.replace("-", "_")))


def _spellings(secret: str) -> set[str]:
    """The ways a secret shows up in text: as is, JSON-escaped, URL-encoded, Python-repr'd, hex of its bytes."""
    raw = secret.encode("utf-8")
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret, safe=""),
        repr(secret)[1:-1],
        repr(raw)[2:-1],
        raw.hex(),
        raw.hex().upper(),
    }


def base64_spellings(secret: str) -> set[str]:
    """The secret's UTF-8 bytes in standard and URL-safe base64, with and without padding."""
    raw = secret.encode("utf-8")
    spellings = set()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        spellings |= {text, text.rstrip("=")}
    return spellings


class Redactor:
    """Learns secrets and removes them from text, bytes and JSON-like structures. Thread-safe."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None
        self._mask_pattern: re.Pattern[bytes] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: object) -> None:
        """Learn a secret: a str, bytes, or anything with ``get_secret_value()`` (pydantic's SecretStr)."""
        getter = getattr(secret, "get_secret_value", None)
        if callable(getter):
            secret = getter()
        if isinstance(secret, bytes | bytearray):
            secret = bytes(secret).decode("utf-8", "replace")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        spellings = {s for s in _spellings(secret) if len(s) >= MIN_SECRET_LENGTH}
        with self._lock:
            if spellings <= self._secrets:
                return
            self._secrets |= spellings
            self._pattern = None
            self._bytes_pattern = None
            self._mask_pattern = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._secrets)

    def _patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[bytes] | None]:
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=len, reverse=True)  # the longest spelling wins
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
                self._bytes_pattern = re.compile(b"|".join(re.escape(s.encode("utf-8")) for s in ordered))
            return self._pattern, self._bytes_pattern

    def redact(self, text: str) -> str:
        """``text`` with every learned secret replaced by :data:`MASK`."""
        pattern, _ = self._patterns()
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every learned secret's UTF-8 bytes replaced by the mask's."""
        _, pattern = self._patterns()
        return pattern.sub(MASK.encode("utf-8"), data) if pattern is not None else data

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` with every learned secret overwritten by :data:`MASK_BYTE`, byte for byte (same length).

        For binary evidence whose framing must survive (a pcap: lengths, offsets and checksums). Besides the
        spellings :meth:`redact` knows it catches their base64 forms, as the report's last sweep does.
        """
        with self._lock:
            pattern = self._mask_pattern
            if pattern is None and self._secrets:
                spellings = set(self._secrets)
                for spelling in list(spellings):
                    spellings |= base64_spellings(spelling)
                encoded = {s.encode("utf-8") for s in spellings}
                ordered = sorted((s for s in encoded if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
                pattern = self._mask_pattern = re.compile(b"|".join(re.escape(s) for s in ordered))
        if pattern is None:
            return data
        return pattern.sub(lambda m: MASK_BYTE * len(m.group(0)), data)

    def redact_obj(self, value: Any) -> Any:
        """A JSON-like structure with secrets removed: strings redacted, values of secret-named keys masked.

        Anything that is not a str, bytes, number, bool, None, mapping or sequence becomes its redacted
        ``repr``, so that the result is always JSON-serialisable.
        """
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, bytes | bytearray):
            return self.redact(bytes(value).decode("utf-8", "backslashreplace"))
        if isinstance(value, Mapping):
            return {self.redact(str(k)): (MASK if is_secret_key(str(k)) and v not in (None, "") else
                                          self.redact_obj(v)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_obj(v) for v in value]
        return self.redact(repr(value))


_live: weakref.WeakSet[Redactor] = weakref.WeakSet()
_live_lock = threading.Lock()


def register(redactor: Redactor) -> None:
    """Make ``redactor`` hear every secret passed to :func:`learn` in this process."""
    with _live_lock:
        _live.add(redactor)


def unregister(redactor: Redactor) -> None:
    with _live_lock:
        _live.discard(redactor)


def learn(secret: object) -> None:
    """Tell every registered redactor about a secret met at run time (an adapter saw a localKey, ...)."""
    with _live_lock:
        redactors = list(_live)
    for redactor in redactors:
        redactor.add(secret)


__all__ = ["MASK", "MASK_BYTE", "MIN_SECRET_LENGTH", "Redactor", "base64_spellings", "is_secret_key", "learn",
           "register", "unregister"]
