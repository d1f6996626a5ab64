"""Public Hypothesis strategies for what the app hands a device: SSIDs, passwords, tokens, licences, QR texts.

Shipped in the package (as zarr ships ``zarr.testing.strategies``) so that a vendor's own tests can draw from
the same input space the conformance fuzzers use. Every strategy is a noun, valid by default, and quotes the
rule it follows; the invalid side is explicit (``invalid_ssids``, ``invalid_passwords``, ``malformed_tokens``,
``malformed_qr_texts``). ``tests/test_strategies.py`` checks that the codecs accept every valid value and
refuse every invalid one.

Settings profiles (``ci``, ``default``, ``nightly``) are registered here; :func:`load_budget` picks one from
``PAIRCERT_FUZZ_BUDGET`` (or ``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Final

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from harness.model.licence import Licence
from harness.protocol.qr import PASSWORD_MAX_CHARS, SSID_MAX_BYTES, QrPayload
from harness.protocol.token import (
    KNOWN_REGIONS,
    REGION_ALPHABET,
    SECRET_ALPHABET,
    SECRET_LEN,
    TOKEN_ALPHABET,
    TOKEN_LEN,
    PairingToken,
)

# --------------------------------------------------------------------------------------- settings profiles

BUDGET_ENV: Final = "PAIRCERT_FUZZ_BUDGET"
BUDGETS: Final = ("ci", "default", "nightly")
_SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
                HealthCheck.filter_too_much]

# ci: fast and deterministic (derandomized: the same examples every run), no database, small budget (make test);
# a failure is reported as found, not minimised (shrinking is open-ended work; the derandomized run replays it).
settings.register_profile("paircert-ci", max_examples=8, derandomize=True, database=None, deadline=None,
                          stateful_step_count=6, suppress_health_check=_SLOW_CHECKS, print_blob=True,
                          phases=(Phase.explicit, Phase.generate))
# default: what `paircert run` uses unless told otherwise; random examples, sized so that the whole camera-strong
# run stays within its 30-second budget (DESIGN.md). `paircert fuzz` campaigns are for anything larger.
settings.register_profile("paircert-default", max_examples=8, deadline=None, stateful_step_count=8,
                          database=None, suppress_health_check=_SLOW_CHECKS, print_blob=True)
# nightly: a large budget, with Hypothesis's example database so that failures are retried first.
settings.register_profile("paircert-nightly", max_examples=2000, deadline=None, stateful_step_count=40,
                          suppress_health_check=_SLOW_CHECKS, print_blob=True)


def budget_name(name: str | None = None) -> str:
    """The active budget: ``name``, else ``PAIRCERT_FUZZ_BUDGET``, else ``HYPOTHESIS_PROFILE``, else ``ci``.

    ``ci`` is the default so that a conformance run (``paircert run``, ``make test``) stays within its time
    budget unless a larger one is asked for.
    """
    chosen = name or os.environ.get(BUDGET_ENV) or os.environ.get("HYPOTHESIS_PROFILE") or "ci"
    chosen = chosen.removeprefix("paircert-")
    if chosen not in BUDGETS:
        raise ValueError(f"unknown fuzz budget {chosen!r}; expected one of {', '.join(BUDGETS)}")
    return chosen


def budget_settings(name: str | None = None, **overrides: object) -> settings:
    """The Hypothesis settings of a budget (see :func:`budget_name`), with ``overrides`` applied."""
    base = settings.get_profile(f"paircert-{budget_name(name)}")
    return settings(base, **overrides)  # type: ignore[arg-type]


def scaled(budget: settings, fraction: float, *, least: int = 1) -> settings:
    """``budget`` with ``max_examples`` scaled by ``fraction`` (for expensive end-to-end properties)."""
    return settings(budget, max_examples=max(least, int(budget.max_examples * fraction)))


__all__ = ["BUDGETS", "BUDGET_ENV", "budget_name", "budget_settings", "scaled"]

# ------------------------------------------------------------------------------------------------ SSIDs

# Characters that break naive firmware: JSON's escapes, the slash Apple escapes, controls, and text whose
# UTF-8 is 2, 3 and 4 bytes long, combining marks and right-to-left text.
TRICKY_CHARACTERS: Final = (
    '"', "\\", "/", "'", " ", "\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "{", "}", ":", ",",
    "é", "ß", "ü", "\u00a0", "Ω", "€", "中", "文", "\u200b", "\ufeff", "\u0301", "\u0308", "\u202e", "\u200f",
    "ש", "ל", "ו", "م", "ر", "😀", "🏠", "\U0001f9d1\u200d\U0001f4bb",
)
_MULTIBYTE: Final = tuple(c for c in TRICKY_CHARACTERS if len(c.encode("utf-8")) > 1)
_ASCII_PRINTABLE: Final = "".join(chr(c) for c in range(0x20, 0x7F))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _fit(pieces: Sequence[str], max_bytes: int) -> str:
    """The longest prefix of ``pieces`` whose UTF-8 fits in ``max_bytes`` (never splitting a piece)."""
    out: list[str] = []
    used = 0
    for piece in pieces:
        size = utf8_len(piece)
        if used + size > max_bytes:
            break
        out.append(piece)
        used += size
    return "".join(out)


@functools.cache
def _ssid_at_the_edge(total: int) -> st.SearchStrategy[str]:
    # Exactly ``total`` bytes with a multi-byte character as the very last one: a firmware that copies 31
    # bytes and a terminator, or splits on bytes, cuts the character in half.
    lasts = [c for c in _MULTIBYTE if utf8_len(c) < total]
    return st.one_of(*(st.text(alphabet=_ASCII_PRINTABLE, min_size=total - utf8_len(c), max_size=total - utf8_len(c))
                       .map(functools.partial(_then, c)) for c in lasts))


def _then(last: str, fill: str) -> str:
    return fill + last


_SINGLE_TRICKY: Final = "".join(c for c in TRICKY_CHARACTERS if len(c) == 1)
_SEQUENCES: Final = (*(c for c in TRICKY_CHARACTERS if len(c) > 1), "e\u0301", "\u202eabc\u202c")


@st.composite
def _ssid_of_pieces(draw: st.DrawFn, min_bytes: int, max_bytes: int) -> str:
    # One text draw (cheap for Hypothesis) over tricky and printable characters, or any UTF-8 character, plus
    # at times a multi-code-point sequence (ZWJ emoji, a combining mark, a right-to-left run) spliced in.
    text = draw(st.one_of(st.text(alphabet=_ASCII_PRINTABLE + _SINGLE_TRICKY, min_size=1, max_size=32),
                          st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=16)))
    pieces = list(text)
    if draw(st.booleans()):
        pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(_SEQUENCES)))
    text = _fit(pieces, max_bytes)
    while utf8_len(text) < min_bytes:
        text += "A"
    return text


@functools.cache
def ssids(*, min_bytes: int = 1, max_bytes: int = SSID_MAX_BYTES, ascii_only: bool = False) -> st.SearchStrategy[str]:
    """SSIDs as text: PROTOCOL.md §1.1/§2.1/§3.1 "an SSID is 1 to 32 bytes" (802.11), UTF-8 on the wire.

    Weighted towards the boundaries: exactly 32 bytes with a multi-byte character at the edge, 1 byte, and
    the characters naive parsers trip on (quotes, backslashes, slashes, controls, emoji, combining marks,
    right-to-left text). Never a lone surrogate (UTF-8 cannot carry one). ``ascii_only``: the ASCII ones only
    (for a lab that makes no other SSIDs), boundaries included.
    """
    if not 1 <= min_bytes <= max_bytes <= SSID_MAX_BYTES:
        raise ValueError(f"SSIDs are 1..{SSID_MAX_BYTES} bytes; got {min_bytes}..{max_bytes}")
    if ascii_only:
        return _ascii_ssids(min_bytes, max_bytes)
    edges: list[st.SearchStrategy[str]] = []
    if max_bytes >= 3:
        edges.append(_ssid_at_the_edge(max_bytes))
    if max_bytes == SSID_MAX_BYTES and min_bytes <= 31:
        edges.append(_ssid_at_the_edge(31))
    if min_bytes == 1:
        edges.append(st.sampled_from(_ASCII_PRINTABLE))
    plain = st.text(alphabet=_ASCII_PRINTABLE + "éü€中😀", min_size=1, max_size=max_bytes).filter(
        lambda s: min_bytes <= utf8_len(s) <= max_bytes)
    return st.one_of(*edges, _ssid_of_pieces(min_bytes, max_bytes), plain)


_ASCII_TRICKY: Final = "".join(c for c in TRICKY_CHARACTERS if len(c) == 1 and c.isascii())


def _ascii_ssids(min_bytes: int, max_bytes: int) -> st.SearchStrategy[str]:
    alphabet = _ASCII_PRINTABLE + _ASCII_TRICKY
    edges = st.sampled_from(sorted({min_bytes, max_bytes})).flatmap(
        lambda n: st.text(alphabet=alphabet, min_size=n, max_size=n))
    return st.one_of(edges, st.text(alphabet=alphabet, min_size=min_bytes, max_size=max_bytes))


def invalid_ssids() -> st.SearchStrategy[str]:
    """SSIDs no codec may accept: empty, over 32 UTF-8 bytes (33 weighted, a 2-byte character tipping 31 ASCII
    bytes over), or holding a lone surrogate, which UTF-8 cannot encode (§1.2)."""
    over = st.integers(SSID_MAX_BYTES + 1, 96).flatmap(lambda n: st.text(
        alphabet=_ASCII_PRINTABLE, min_size=n, max_size=n))
    tipped = st.sampled_from(_MULTIBYTE).map(lambda c: "A" * (SSID_MAX_BYTES - 1) + c)
    surrogate = st.tuples(ssids(max_bytes=20), st.integers(0xD800, 0xDFFF)).map(lambda p: p[0] + chr(p[1]))
    return st.one_of(st.just(""), tipped, over, surrogate)


# -------------------------------------------------------------------------------------------- passwords

_HEX: Final = "0123456789abcdefABCDEF"


@functools.cache
def wpa_passwords(*, open_network: bool = True) -> st.SearchStrategy[str]:
    """Wi-Fi passwords as WPA defines them: "a passphrase of 8 to 63 printable ASCII characters, or 64 hex
    digits" (IEEE 802.11i; PROTOCOL.md §1.1 allows up to 64), and ``""`` for an open network."""
    passphrase = st.text(alphabet=_ASCII_PRINTABLE, min_size=8, max_size=63)
    boundary = st.sampled_from([8, 63]).flatmap(lambda n: st.text(alphabet=_ASCII_PRINTABLE,
                                                                    min_size=n, max_size=n))
    hex_key = st.text(alphabet=_HEX, min_size=64, max_size=64)
    choices = [boundary, passphrase, hex_key]
    if open_network:
        choices.insert(0, st.just(""))
    return st.one_of(*choices)


def is_wpa_password(password: str) -> bool:
    """Whether ``password`` is a WPA passphrase, a 64-digit hex key, or empty (open)."""
    if password == "":
        return True
    if len(password) == 64:
        return all(c in _HEX for c in password)
    return 8 <= len(password) <= 63 and all(c in _ASCII_PRINTABLE for c in password)


def non_wpa_passwords() -> st.SearchStrategy[str]:
    """Passwords the codecs carry (at most 64 characters) but no WPA network has: 1-7 characters, 64 non-hex
    characters, non-ASCII or control characters. A device given one fails to join and must not activate."""
    short = st.text(alphabet=_ASCII_PRINTABLE, min_size=1, max_size=7)
    not_hex = st.text(alphabet=_ASCII_PRINTABLE, min_size=64, max_size=64).filter(
        lambda s: not is_wpa_password(s))
    odd = st.tuples(st.text(alphabet=_ASCII_PRINTABLE, min_size=8, max_size=40),
                    st.sampled_from([c for c in TRICKY_CHARACTERS if c not in _ASCII_PRINTABLE])).map("".join)
    return st.one_of(short, not_hex, odd)


def invalid_passwords() -> st.SearchStrategy[str]:
    """Passwords no codec may accept: over 64 characters (§1.1 "password at most 64"; §3.2 "a 65-byte field"),
    65 weighted."""
    return st.one_of(st.just("p" * (PASSWORD_MAX_CHARS + 1)),
                     st.text(alphabet=_ASCII_PRINTABLE, min_size=PASSWORD_MAX_CHARS + 1,
                             max_size=200))


# ----------------------------------------------------------------------------------------------- tokens



def pairing_tokens(regions: Sequence[str] | Mapping[str, str] | None = None) -> st.SearchStrategy[PairingToken]:
    """Well-formed tokens (§1.3): "region (2) + token (8) + secret (4)", a known region, ``[A-Za-z0-9]`` for
    the token, ``[A-Za-z0-9_]`` for the secret ("the OpenAPI example secret pr_0 contains _")."""
    names = sorted(KNOWN_REGIONS if regions is None else regions)
    unknown = [r for r in names if r not in KNOWN_REGIONS]
    if unknown:
        raise ValueError(f"unknown regions {unknown}; known: {sorted(KNOWN_REGIONS)}")
    return st.builds(PairingToken, st.sampled_from(names),
                     st.text(alphabet=TOKEN_ALPHABET, min_size=TOKEN_LEN, max_size=TOKEN_LEN),
                     st.text(alphabet=SECRET_ALPHABET, min_size=SECRET_LEN, max_size=SECRET_LEN))


def tokens(regions: Sequence[str] | Mapping[str, str] | None = None) -> st.SearchStrategy[str]:
    """The 14-character strings the app hands the device (§0 step 1: "region + token + secret").

    Strings, because that is what travels (QR ``t``, EZ token group, AP ``token``); :func:`pairing_tokens`
    gives the parsed :class:`PairingToken`. Drawn at random, such a token was never issued by any cloud.
    """
    names = tuple(sorted(KNOWN_REGIONS if regions is None else regions))
    pairing_tokens(names)  # the same checks on ``regions``
    return _token_texts(names)


@functools.cache
def _token_texts(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    # Built as text directly (the same alphabets as pairing_tokens): this is on every QR example's path.
    return st.builds(lambda r, t, s: r + t + s, st.sampled_from(names),
                     st.text(alphabet=TOKEN_ALPHABET, min_size=TOKEN_LEN, max_size=TOKEN_LEN),
                     st.text(alphabet=SECRET_ALPHABET, min_size=SECRET_LEN, max_size=SECRET_LEN))


@st.composite
def _bad_character_token(draw: st.DrawFn) -> str:
    good = draw(tokens())
    position = draw(st.integers(0, len(good) - 1))
    allowed = set(REGION_ALPHABET) if position < 2 else set(TOKEN_ALPHABET) | ({"_"} if position >= 10 else set())
    bad = draw(st.sampled_from([c for c in '-_+/=. é😀\x00"\\abcz' if c not in allowed]))
    return good[:position] + bad + good[position + 1:]


def malformed_tokens() -> st.SearchStrategy[str]:
    """Token strings :meth:`PairingToken.parse` refuses (§1.3/§1.4): wrong length (13 and 15 weighted, empty,
    long), a character outside its part's alphabet, a lower-case or unknown region."""
    wrong_length = st.one_of(tokens().map(lambda t: t[:-1]), tokens().map(lambda t: t + "0"), st.just(""),
                             st.text(alphabet=TOKEN_ALPHABET, max_size=40).filter(lambda t: len(t) != 14))
    unknown_region = st.tuples(
        st.text(alphabet=REGION_ALPHABET, min_size=2, max_size=2).filter(lambda r: r not in KNOWN_REGIONS),
        tokens()).map(lambda p: p[0] + p[1][2:])
    lower_region = tokens().map(lambda t: t[:2].lower() + t[2:])
    return st.one_of(wrong_length, _bad_character_token(), unknown_region, lower_region)


# --------------------------------------------------------------------------------------------- licences


def licences(pid: str | None = None) -> st.SearchStrategy[Licence]:
    """Licences as §8 describes them: "UUID is 16 or 20 characters in the wild, with buffers up to 25",
    "AuthKey is 32 characters", "PID (productKey) is 16 characters". Well-formed; no cloud issued them."""
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    uuid = st.one_of(st.sampled_from([16, 20, 25]).flatmap(
        lambda n: st.text(alphabet=lower, min_size=n, max_size=n)))
    auth_key = st.text(alphabet=TOKEN_ALPHABET, min_size=32, max_size=32)
    pids = st.just(pid) if pid is not None else st.text(alphabet=lower, min_size=16, max_size=16)
    return st.builds(Licence, uuid=uuid, auth_key=auth_key, pid=pids)


# -------------------------------------------------------------------------------------------- QR texts

KEY_ORDERS: Final = tuple("".join(p) for p in permutations("spt"))
_SHORT_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def json_string(value: str, *, escapes: Sequence[bool] = (), slash: bool = False, ascii_only: bool = False) -> str:
    """A JSON string literal of ``value`` in a chosen escape style (RFC 8259 §7, PROTOCOL.md §1.2).

    ``escapes[i]`` true writes character ``i`` as ``\\uXXXX`` even where it could be raw; ``slash`` writes
    ``/`` as ``\\/``; ``ascii_only`` escapes everything beyond ASCII (surrogate pairs above the BMP). Lone
    surrogates come out as ``\\uD8xx`` escapes (which is how invalid texts carry them).
    """
    out = ['"']
    for index, char in enumerate(value):
        code = ord(char)
        forced = index < len(escapes) and escapes[index]
        if char in _SHORT_ESCAPES and not forced:
            out.append(_SHORT_ESCAPES[char])
        elif char == "/" and slash and not forced:
            out.append("\\/")
        elif forced or code < 0x20 or 0xD800 <= code <= 0xDFFF or (ascii_only and code > 0x7E):
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04x}" if index % 2 else f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class QrStyle:
    """How an app writes the QR text (§1.2): key order, ``\\/`` or ``/``, raw UTF-8 or ``\\uXXXX``, which
    characters it escapes anyway (bit ``i % 16`` of ``escape_mask``), and whitespace between tokens."""

    key_order: str = "spt"
    slash: bool = False
    ascii_only: bool = False
    escape_mask: int = 0
    space: str = ""

    def render(self, payload: QrPayload) -> str:
        values = {"s": payload.ssid, "p": payload.password, "t": payload.token}
        sp = self.space
        members = []
        for key in self.key_order:
            value = values[key]
            escapes = [bool(self.escape_mask >> (i % 16) & 1) for i in range(len(value))] if self.escape_mask else []
            members.append(f"{sp}{json_string(key)}{sp}:{sp}"
                           f"{json_string(value, escapes=escapes, slash=self.slash, ascii_only=self.ascii_only)}{sp}")
        return sp + "{" + ",".join(members) + "}" + sp


@functools.cache
def qr_styles() -> st.SearchStrategy[QrStyle]:
    """Every serialisation an app may use (§1.2 "docs use s,p,t, IPC SDK examples p,s,t"; Apple writes ``\\/``)."""
    return st.builds(QrStyle, key_order=st.sampled_from(KEY_ORDERS), slash=st.booleans(), ascii_only=st.booleans(),
                     escape_mask=st.one_of(st.just(0), st.integers(0, 2**16 - 1)),
                     space=st.sampled_from(["", "", " ", "\n", "\t "]))


@dataclass(frozen=True)
class QrCase:
    """A QR text and the payload a conformant device must read from it."""

    payload: QrPayload
    text: str


@st.composite
def qr_cases(draw: st.DrawFn, ssid: st.SearchStrategy[str] | None = None,
             password: st.SearchStrategy[str] | None = None,
             token: st.SearchStrategy[str] | None = None) -> QrCase:
    """A valid payload and one of its texts in any :class:`QrStyle`."""
    payload = QrPayload(draw(ssid if ssid is not None else ssids()),
                        draw(password if password is not None else wpa_passwords()),
                        draw(token if token is not None else tokens()))
    return QrCase(payload, draw(qr_styles()).render(payload))


def qr_texts(**kwargs: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid QR payload texts (§1.1: ``{"s":ssid,"p":password,"t":token}``) in every key order and escape
    style; see :func:`qr_cases` for the payload each one carries."""
    return qr_cases(**kwargs).map(lambda case: case.text)


def _compact(payload: Mapping[str, object]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


MALFORMED_QR_KINDS: Final = ("truncated", "wrong-type", "duplicate", "bad-escape", "invalid-utf8", "oversize",
                              "missing", "not-object", "trailing", "lone-surrogate", "constant")


@st.composite
def _malformed_qr(draw: st.DrawFn, token_strategy: st.SearchStrategy[str]) -> bytes:
    kind = draw(st.sampled_from(MALFORMED_QR_KINDS))
    ssid, password, token = draw(ssids()), draw(wpa_passwords()), draw(token_strategy)
    good = {"s": ssid, "p": password, "t": token}
    if kind == "truncated":
        text = draw(qr_texts(token=st.just(token))).strip().encode("utf-8")
        return text[:draw(st.integers(0, len(text) - 1))]
    if kind == "wrong-type":
        key = draw(st.sampled_from("spt"))
        wrong = draw(st.sampled_from([0, 12345678, 1.5, None, True, False, [], ["x"], {}, {"s": "x"}]))
        return _compact({**good, key: wrong}).encode("utf-8")
    if kind == "duplicate":
        key = draw(st.sampled_from("spt"))
        body = _compact(good)[:-1]
        return (body + "," + json_string(key) + ":" + json_string(draw(ssids())) + "}").encode("utf-8")
    if kind == "bad-escape":
        bad = draw(st.sampled_from(["\\x41", "\\u12", "\\uZZZZ", "\\a", "\\'", "\\u00G0", "\\", "\\U0041"]))
        key = draw(st.sampled_from("spt"))
        parts = [json_string(k) + ":" + (json_string(v)[:-1] + bad + '"' if k == key else json_string(v))
                 for k, v in good.items()]
        return ("{" + ",".join(parts) + "}").encode("utf-8")
    if kind == "invalid-utf8":
        text = _compact(good).encode("utf-8")
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                     b"\xe2\x82", b"\x80"]))
        where = text.index(b'"s":"') + 5
        return text[:where] + junk + text[where:]
    if kind == "oversize":
        if draw(st.booleans()):
            long_ssid = draw(st.text(alphabet=_ASCII_PRINTABLE, min_size=SSID_MAX_BYTES + 1,
                                     max_size=80))
            return _compact({**good, "s": long_ssid}).encode("utf-8")
        return _compact({**good, "p": draw(invalid_passwords())}).encode("utf-8")
    if kind == "missing":
        key = draw(st.sampled_from("spt"))
        return _compact({k: v for k, v in good.items() if k != key}).encode("utf-8")
    if kind == "not-object":
        return draw(st.sampled_from([b"", b"null", b"[]", b'["s","p","t"]', b'"{}"', b"42", b"s=x;p=y;t=z",
                                     b"WIFI:S:x;T:WPA;P:y;;", b"{", b"}"]))
    if kind == "trailing":
        return _compact(good).encode("utf-8") + draw(st.sampled_from([b"}", b",", b"x", b"{}", b"\x00"]))
    if kind == "lone-surrogate":
        return ("{" + json_string("s") + ":" + json_string(ssid[:10] + "\udc80") + "," + json_string("p") + ":"
                + json_string(password) + "," + json_string("t") + ":" + json_string(token) + "}").encode("utf-8")
    return ('{"s":' + json_string(ssid) + ',"p":NaN,"t":' + json_string(token) + "}").encode("utf-8")


def malformed_qr_texts(token: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[bytes]:
    """QR texts a device must refuse (§1.1/§1.2), as the bytes a symbol carries: truncated, wrong member types,
    duplicate members, bad escapes, invalid UTF-8, oversize SSID or password, missing members, not an object,
    trailing garbage, lone surrogates, NaN. Each fits in a QR symbol. ``token`` draws the ``t`` member (a
    fuzzer passes a placeholder it swaps for a token the cloud really issued, so that a lax parser activates)."""
    return _malformed_qr(token if token is not None else tokens())


__all__ += [
    "KEY_ORDERS",
    "MALFORMED_QR_KINDS",
    "TRICKY_CHARACTERS",
    "QrCase",
    "QrStyle",
    "invalid_passwords",
    "invalid_ssids",
    "is_wpa_password",
    "json_string",
    "licences",
    "malformed_qr_texts",
    "malformed_tokens",
    "non_wpa_passwords",
    "pairing_tokens",
    "qr_cases",
    "qr_styles",
    "qr_texts",
    "ssids",
    "tokens",
    "utf8_len",
    "wpa_passwords",
]
