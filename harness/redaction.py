"""Removing secrets from everything paircert writes: reports, evidence, logs (DESIGN.md "Evidence").

A :class:`Redactor` learns secret *values* as they come into being (the lab's Wi-Fi password, a licence's
AuthKey, a secKey or localKey an adapter sees, an MQTT password) and replaces every occurrence of them, in every
spelling :func:`spellings` knows (plain, JSON-escaped, URL-encoded, HTML-escaped, Python-repr'd, hex, UTF-16,
base64 at any offset), with :data:`MASK`. It also masks the values of mapping keys whose names say they hold a secret
(``password``, ``authKey``, ``secKey``, ``localKey``, ...), so that a secret nobody registered is still hidden
where it is labelled as one, and replaces images whose QR code encodes a secret (:meth:`Redactor.redact_image`).

All spellings of all secrets live in one :class:`SpellingMatcher` (Aho-Corasick automata, searched in time linear
in the text whatever the number of secrets), grown as secrets are learned and never rebuilt whole for one more.

Adapters and emulators that meet a secret at run time call :func:`learn`: every live redactor of the process
(the plugin's, a report writer's) picks it up. Nothing here imports pytest.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import json
import re
import threading
import urllib.parse
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ahocorasick_rs

MASK = "«redacted»"
_MASK_UTF8 = MASK.encode("utf-8")

#: The byte :meth:`Redactor.mask_bytes` writes over a secret, once per byte, so that lengths stay as they were.
MASK_BYTE = b"*"

#: Secrets shorter than this are not learned (they would mask ordinary words and digits).
MIN_SECRET_LENGTH = 4

#: The shortest base64 run kept for a secret that starts at a byte offset not a multiple of 3 inside longer
#: base64 (48 bits: shorter runs would turn up by chance in the base64 of any image).
MIN_BASE64_CORE = 8

#: What an image whose QR code encodes a secret is replaced with when no redacted QR can be drawn.
PLACEHOLDER_TEXT = "image withheld: its QR code encodes a secret"

_SECRET_KEY = re.compile(
    r"^(wifi_?)?(pass(word|wd|phrase)?|pwd|psk(_?key)?|auth_?key|auzkey|sec_?key|local_?key|mqtt_?pass(word)?|"
    r"secret|client_?secret|private_?key|admin_?key)$",
    re.IGNORECASE,
)


def is_secret_key(name: str) -> bool:
    """Whether a mapping key or parameter name says its value is a secret (``password``, ``authKey``, ...)."""
    return bool(_SECRET_KEY.match(name.replace("-", "_")))


# -- spellings ---------------------------------------------------------------------------------------------------

_MARKUP_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _markup_spellings(text: str) -> set[str]:
    """``text`` escaped for HTML or XML: by html.escape (with and without quotes), and by Jinja2 (markupsafe)."""
    return {html.escape(text), html.escape(text, quote=False), text.translate(_MARKUP_ESCAPES)}


def _text_spellings(secret: str) -> set[str]:
    """The ways a secret shows up in text: as is, JSON-escaped (also twice: JSON in a JSON string), URL-encoded,
    Python-repr'd, hex of its bytes, and as is or JSON-escaped in HTML or XML (report.html, junit.xml)."""
    raw = secret.encode("utf-8", "surrogatepass")
    markup = (_markup_spellings(secret) | _markup_spellings(json.dumps(secret)[1:-1])
              | _markup_spellings(json.dumps(secret, ensure_ascii=False)[1:-1]))
    return markup | {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(secret)[1:-1])[1:-1],
        json.dumps(json.dumps(secret, ensure_ascii=False)[1:-1], ensure_ascii=False)[1:-1],
        urllib.parse.quote(raw, safe=""),
        urllib.parse.quote(raw),
        urllib.parse.quote_plus(raw, safe=""),
        repr(secret)[1:-1],
        repr(raw)[2:-1],
        raw.hex(),
        raw.hex().upper(),
    }


def _base64_forms(raw: bytes) -> set[bytes]:
    """``raw`` in standard and URL-safe base64, with and without padding."""
    forms = set()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms |= {encoded, encoded.rstrip(b"=")}
    return forms


def base64_spellings(secret: str) -> set[str]:
    """The secret's UTF-8 bytes in standard and URL-safe base64, with and without padding."""
    return {form.decode("ascii") for form in _base64_forms(secret.encode("utf-8", "surrogatepass"))}


def base64_cores(raw: bytes) -> set[bytes]:
    """The base64 characters that ``raw`` alone decides wherever it sits inside longer base64, at each of the three
    byte offsets modulo 3, standard and URL-safe (runs shorter than :data:`MIN_BASE64_CORE` are left out)."""
    cores: set[bytes] = set()
    for offset in range(3):
        first = -(-8 * offset // 6)  # the first character whose 6 bits all come from ``raw``
        last = (8 * (offset + len(raw)) - 6) // 6  # the last one
        if last + 1 - first < MIN_BASE64_CORE:
            continue
        padded = bytes(offset) + raw + bytes(3)
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            cores.add(encode(padded)[first:last + 1])
    return cores


def spellings(secret: str | bytes) -> frozenset[bytes]:
    """Every byte string that gives ``secret`` away: its text spellings (:func:`_text_spellings`) in UTF-8, its
    UTF-16 (both byte orders), the base64 of each of those at any offset, and the text spellings of its base64.

    A ``bytes`` secret that is not UTF-8 also counts as itself, raw. Spellings shorter than
    :data:`MIN_SECRET_LENGTH` bytes are left out.
    """
    extra: set[bytes] = set()
    if isinstance(secret, bytes):
        extra.add(secret)
        secret = secret.decode("utf-8", "replace")
    encoded = {text.encode("utf-8", "surrogatepass") for text in _text_spellings(secret)} | extra
    encoded |= {secret.encode(codec, "surrogatepass") for codec in ("utf-16-le", "utf-16-be")}
    found = set(encoded)
    for spelling in encoded:
        found |= _base64_forms(spelling) | base64_cores(spelling)
    for form in _base64_forms(secret.encode("utf-8", "surrogatepass")):
        found |= {text.encode("ascii") for text in _text_spellings(form.decode("ascii"))}
    return frozenset(s for s in found if len(s) >= MIN_SECRET_LENGTH)


# -- the matcher -------------------------------------------------------------------------------------------------

#: How many leading bytes of a spelling go into the automata; a hit is then checked against the whole spelling.
#: Spellings of one secret often share their first bytes (a base64 form padded and not, std and URL-safe), and
#: the automata stay small however long the secrets are.
PREFIX_LENGTH = 8


class _Block:
    """Some prefixes and the automaton that finds them."""

    def __init__(self, prefixes: list[bytes]) -> None:
        self.prefixes = prefixes
        self.size = sum(map(len, prefixes))
        self.automaton = ahocorasick_rs.BytesAhoCorasick(prefixes)


class SpellingMatcher:
    """A growing set of byte strings, found anywhere in a text in time linear in the text. Thread-safe.

    The first :data:`PREFIX_LENGTH` bytes of each string go into Aho-Corasick automata (ahocorasick_rs); where a
    prefix is found, the text is looked up in the set of strings at each length a string with that prefix has
    (a few lookups however many secrets share the prefix). Learning adds the new prefixes as a small automaton and
    merges it with its neighbours while they are less than twice its size (the logarithmic method): the automata
    halve in size from the first to the last, so there are O(log n) of them to search, and learning n strings one
    by one rebuilds each prefix O(log n) times, never the whole set for one more. New prefixes are built in at the
    next search, all at once; a string whose prefix is known needs no building.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[bytes] = set()
        self._lengths: dict[bytes, tuple[int, ...]] = {}  # prefix -> the lengths of its strings, longest first
        self._pending: list[bytes] = []
        self._blocks: list[_Block] = []
        self._searchable: tuple[tuple[ahocorasick_rs.BytesAhoCorasick, list[bytes]], ...] = ()
        self.longest = 0
        self.shortest = 0  # the shortest string learned (0: none yet): a shorter text holds none

    def add(self, patterns: Iterable[bytes]) -> int:
        """Learn ``patterns`` (empty ones are ignored); how many were new."""
        with self._lock:
            new = [pattern for pattern in set(patterns) if pattern and pattern not in self._known]
            for pattern in new:
                prefix = pattern[:PREFIX_LENGTH]
                lengths = self._lengths.get(prefix)
                if lengths is None:
                    self._pending.append(prefix)
                    self._lengths[prefix] = (len(pattern),)
                elif len(pattern) not in lengths:
                    self._lengths[prefix] = tuple(sorted((*lengths, len(pattern)), reverse=True))
                self.longest = max(self.longest, len(pattern))
                self.shortest = min(self.shortest or len(pattern), len(pattern))
            self._known.update(new)  # after the lengths: a search that sees a string can find it
            return len(new)

    def __len__(self) -> int:
        return len(self._known)

    def _current(self) -> tuple[tuple[ahocorasick_rs.BytesAhoCorasick, list[bytes]], ...]:
        """The automata to search and their prefixes, with everything learned so far built in."""
        if not self._pending:  # nothing to build in (add() appends under the lock before it returns)
            return self._searchable
        with self._lock:
            if self._pending:
                blocks = [*self._blocks, _Block(self._pending)]
                while len(blocks) > 1 and 2 * blocks[-1].size >= blocks[-2].size:
                    last, before = blocks.pop(), blocks.pop()
                    blocks.append(_Block(before.prefixes + last.prefixes))
                self._blocks = blocks
                self._searchable = tuple((block.automaton, block.prefixes) for block in blocks)
                self._pending = []  # last: a search that finds nothing pending finds it all built in
            return self._searchable

    @property
    def automata(self) -> int:
        """How many automata a search runs (for benchmarks and tests of the logarithmic method)."""
        return len(self._current())

    def _hits(self, data: bytes, *, first: bool) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        if len(data) < self.shortest:  # timeline keys, short values: nothing learned fits in them
            return found
        known, lengths, size = self._known, self._lengths, len(data)
        for automaton, prefixes in self._current():
            for index, start, _ in automaton.find_matches_as_indexes(data, overlapping=True):
                for length in lengths[prefixes[index]]:  # longest first: it covers the others
                    end = start + length
                    if end <= size and data[start:end] in known:
                        found.append((start, end))
                        if first:
                            return found
                        break
        return found

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        """Where learned strings occur in ``data``: sorted ``(start, end)`` with overlapping matches merged."""
        return merge_spans(self._hits(data, first=False))

    def found_in(self, data: bytes) -> bool:
        """Whether any learned string occurs in ``data``."""
        return bool(self._hits(data, first=True))


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` sorted, with overlapping ones joined (touching ones stay apart: two secrets, two masks)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _whole_characters(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` widened to whole UTF-8 characters (a UTF-16 or base64 spelling may start mid-character)."""
    widened = []
    for start, end in spans:
        while start > 0 and 0x80 <= data[start] < 0xC0:
            start -= 1
        while end < len(data) and 0x80 <= data[end] < 0xC0:
            end += 1
        widened.append((start, end))
    return merge_spans(widened)


def _replaced(data: bytes, spans: Sequence[tuple[int, int]], mask: bytes) -> bytes:
    pieces, at = [], 0
    for start, end in spans:
        pieces += [data[at:start], mask]
        at = end
    pieces.append(data[at:])
    return b"".join(pieces)


# -- the redactor ------------------------------------------------------------------------------------------------

def _secret_value(secret: object) -> str | bytes | None:
    """A str or bytes secret out of what :meth:`Redactor.add` accepts, or None when there is none to learn."""
    getter = getattr(secret, "get_secret_value", None)
    if callable(getter):
        secret = getter()
    if isinstance(secret, bytearray | memoryview):
        secret = bytes(secret)
    if isinstance(secret, bytes):
        try:
            secret = secret.decode("utf-8")
        except UnicodeDecodeError:
            return secret if len(secret) >= MIN_SECRET_LENGTH else None
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        return None
    return secret


class Redactor:
    """Learns secrets and removes them from text, bytes, images and JSON-like structures. Thread-safe."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str | bytes] = set()
        self._matcher = SpellingMatcher()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: object) -> None:
        """Learn a secret: a str, bytes, or anything with ``get_secret_value()`` (pydantic's SecretStr)."""
        value = _secret_value(secret)
        if value is None:
            return
        with self._lock:
            if value in self._secrets:
                return
        spelled = spellings(value)  # the costly part, outside the lock
        with self._lock:  # known as learned only once every spelling is: a caller that sees it can rely on it
            self._matcher.add(spelled)
            self._secrets.add(value)

    def __len__(self) -> int:
        """How many spellings of secrets are known."""
        return len(self._matcher)

    @property
    def secrets(self) -> frozenset[str | bytes]:
        """The secrets learned, as given (not their spellings)."""
        with self._lock:
            return frozenset(self._secrets)

    @property
    def matcher(self) -> SpellingMatcher:
        """The matcher of every spelling (for streaming searches: :attr:`SpellingMatcher.longest`)."""
        return self._matcher

    def contains(self, data: str | bytes) -> bool:
        """Whether ``data`` holds a learned secret in any spelling."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        return bool(len(self._matcher)) and self._matcher.found_in(data)

    def redact(self, text: str) -> str:
        """``text`` with every learned secret replaced by :data:`MASK`."""
        if not len(self._matcher):
            return text
        data = text.encode("utf-8", "surrogatepass")
        spans = self._matcher.spans(data)
        if not spans:
            return text
        return _replaced(data, _whole_characters(data, spans), _MASK_UTF8).decode("utf-8", "surrogatepass")

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every learned secret's spellings replaced by the mask's UTF-8 bytes."""
        spans = self._matcher.spans(data) if len(self._matcher) else []
        return _replaced(data, spans, _MASK_UTF8) if spans else data

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` with every learned secret overwritten by :data:`MASK_BYTE`, byte for byte (same length).

        For binary evidence whose framing must survive (a pcap: lengths, offsets and checksums).
        """
        spans = self._matcher.spans(data) if len(self._matcher) else []
        if not spans:
            return data
        masked = bytearray(data)
        for start, end in spans:
            masked[start:end] = MASK_BYTE * (end - start)
        return bytes(masked)

    def redact_image(self, data: bytes) -> bytes:
        """``data`` as is, unless the image's bytes or a QR code in it hold a secret: then a QR code of the redacted
        payload (the evidence keeps its shape), or a placeholder where that cannot be drawn."""
        if not len(self._matcher):
            return data
        payloads = qr_payloads(data)
        if not self.contains(data) and not any(self.contains(payload) for payload in payloads):
            return data
        return redacted_rendering([self.redact_bytes(payload) for payload in payloads])

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


# -- images ------------------------------------------------------------------------------------------------------

_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def is_image(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG, JPEG or GIF image."""
    return data.startswith(_IMAGE_MAGIC)


def _qr_codec() -> Any:
    """:mod:`harness.qrimage`, imported on first use (PIL and the decoders are heavy), or None without them."""
    try:
        return importlib.import_module("harness.qrimage")
    except ImportError:
        return None


def qr_payloads(data: bytes) -> list[bytes]:
    """The payloads of the QR codes in an image (zbar, then zxing); empty for no image, no code or no decoder."""
    codec = _qr_codec()
    if codec is None or not is_image(data):
        return []
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.load()
            for backend in ("zbar", "zxing"):
                try:
                    found: list[bytes] = codec.decode_qr(image, backend=backend)
                except Exception:  # a missing backend or an image it cannot read: try the other
                    continue
                if found:
                    return found
    except Exception:  # not an image PIL can read: its bytes were searched already
        return []
    return []


def placeholder_png(text: str = PLACEHOLDER_TEXT) -> bytes:
    """A small PNG saying why the original image is not there."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (420, 60), "white")
    ImageDraw.Draw(image).text((10, 22), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def redacted_rendering(payloads: Sequence[bytes]) -> bytes:
    """A PNG of the QR code of the one (already redacted) payload, or :func:`placeholder_png` for none or several."""
    codec = _qr_codec()
    if codec is not None and len(payloads) == 1:
        try:
            buffer = io.BytesIO()
            codec.render_qr(payloads[0]).save(buffer, format="PNG")
            return buffer.getvalue()
        except Exception:  # too long for a QR code, or no renderer: say why instead
            pass
    return placeholder_png()


# -- process-wide learning ---------------------------------------------------------------------------------------

_live: weakref.WeakSet[Redactor] = weakref.WeakSet()
_live_lock = threading.Lock()


def register(redactor: Redactor) -> None:
    """Make ``redactor`` hear every secret passed to :func:`learn` in this process."""
    with _live_lock:
        _live.add(redactor)


def unregister(redactor: Redactor) -> None:
    with _live_lock:
        _live.discard(redactor)


def learn(*secrets: object) -> None:
    """Tell every registered redactor about secrets met at run time (an adapter saw a localKey, ...)."""
    with _live_lock:
        redactors = list(_live)
    for redactor in redactors:
        for secret in secrets:
            redactor.add(secret)


__all__ = ["MASK", "MASK_BYTE", "MIN_BASE64_CORE", "MIN_SECRET_LENGTH", "PLACEHOLDER_TEXT", "Redactor",
           "SpellingMatcher", "base64_cores", "base64_spellings", "is_image", "is_secret_key", "learn",
           "merge_spans", "placeholder_png", "qr_payloads", "redacted_rendering", "register", "spellings",
           "unregister"]
