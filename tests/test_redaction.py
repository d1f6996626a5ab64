"""The redactor: every spelling of a learned secret, secret-named keys, bytes, and process-wide learning."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import threading
import urllib.parse
from typing import Any

import ahocorasick_rs
import markupsafe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from harness.qrimage import decode_qr, render_qr
from harness.redaction import (
    MASK,
    MASK_BYTE,
    MIN_BASE64_CORE,
    MIN_SECRET_LENGTH,
    PREFIX_LENGTH,
    Redactor,
    SpellingMatcher,
    base64_cores,
    base64_spellings,
    is_secret_key,
    learn,
    merge_spans,
    placeholder_png,
    register,
    spellings,
    unregister,
)

SECRET = 'pa$$ "w/ord" é'


def test_every_spelling_of_a_secret_is_masked() -> None:
    redactor = Redactor([SECRET])
    for text in (SECRET, json.dumps(SECRET), json.dumps(SECRET, ensure_ascii=False), json.dumps(json.dumps(SECRET)),
                 urllib.parse.quote(SECRET), repr(SECRET), repr(SECRET.encode()), SECRET.encode().hex(),
                 html.escape(SECRET), str(markupsafe.escape(SECRET)), str(markupsafe.escape(json.dumps(SECRET)))):
        assert SECRET not in redactor.redact(f"<{text}>") and MASK in redactor.redact(f"<{text}>"), text


def test_bytes_and_structures_are_redacted() -> None:
    redactor = Redactor(["hunter2-secret"])
    assert redactor.redact_bytes(b"x hunter2-secret y") == f"x {MASK} y".encode()
    cleaned = redactor.redact_obj({"note": "was hunter2-secret", "authKey": "unregistered-value", "n": 3,
                                   "list": [b"hunter2-secret", object()]})
    assert cleaned["note"] == f"was {MASK}" and cleaned["authKey"] == MASK and cleaned["n"] == 3
    assert cleaned["list"][0] == MASK and isinstance(cleaned["list"][1], str)


def test_short_and_empty_values_are_not_learned() -> None:
    redactor = Redactor(["", "abc", None])
    assert len(redactor) == 0 and redactor.redact("abc") == "abc"


def test_secret_key_names() -> None:
    assert all(map(is_secret_key, ("password", "passwd", "authKey", "auth_key", "secKey", "localKey", "local-key",
                                   "mqtt_password", "wifi_password", "psk")))
    assert not any(map(is_secret_key, ("ssid", "token", "uuid", "pid", "passage")))


def test_learn_reaches_every_registered_redactor() -> None:
    first, second = Redactor(), Redactor()
    register(first)
    register(second)
    try:
        learn("localkey-0123456789")
    finally:
        unregister(first)
        unregister(second)
    learn("later-secret-value")
    assert MASK in first.redact("localkey-0123456789") and MASK in second.redact("localkey-0123456789")
    assert first.redact("later-secret-value") == "later-secret-value"


# -- every spelling ------------------------------------------------------------------------------------------------

def test_utf16_hex_and_non_utf8_byte_secrets_are_masked() -> None:
    redactor = Redactor([SECRET, b"\xff\xfe-raw-key-\x00\x01"])
    for spelling in (SECRET.encode("utf-16-le"), SECRET.encode("utf-16-be"), SECRET.encode().hex().upper().encode(),
                     b"\xff\xfe-raw-key-\x00\x01"):
        data = b"<" + spelling + b">"
        cleaned = redactor.redact_bytes(data)
        assert spelling not in cleaned and MASK.encode() in cleaned, spelling
        assert len(redactor.mask_bytes(data)) == len(data) and spelling not in redactor.mask_bytes(data)


@pytest.mark.parametrize("offset", range(6))
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["std", "urlsafe"])
def test_base64_of_a_secret_inside_longer_base64_is_found_at_any_offset(offset: int, encode: Any) -> None:
    """The secret starts at any byte offset of a longer blob (an HTTP header, an image, an attachment) that is
    base64-encoded as a whole: the characters only the secret decides are found and masked."""
    secret = "s3cret/with+signs?~~"
    redactor = Redactor([secret])
    prefix, tail = bytes(range(200, 200 + offset)), b"\xfftrailing bytes"
    blob = encode(prefix + secret.encode() + tail)
    first = -(-8 * offset // 6)  # the characters whose six bits all come from the secret's bytes
    last = (8 * (offset + len(secret)) - 6) // 6
    assert redactor.contains(blob)
    assert redactor.redact_bytes(blob) == blob[:first] + MASK.encode() + blob[last + 1:]


def test_spellings_keep_every_form_the_earlier_redactors_knew() -> None:
    """The plugin's redactor, the pcap masker (base64 of each spelling) and the sweep (spellings of the base64)."""
    found = spellings(SECRET)
    raw = SECRET.encode()
    earlier = {json.dumps(SECRET)[1:-1].encode(), urllib.parse.quote(SECRET, safe="").encode(), raw.hex().encode(),
               repr(SECRET)[1:-1].encode(), urllib.parse.quote(base64.b64encode(raw).decode(), safe="").encode()}
    earlier |= {b.encode() for b in base64_spellings(SECRET) | base64_spellings(raw.hex())}
    for form in earlier:
        assert any(spelling in form for spelling in found), form
    assert all(len(s) >= MIN_SECRET_LENGTH for s in found)


def test_a_short_secret_keeps_its_base64_but_no_short_offset_runs() -> None:
    found = spellings("pass")
    assert b"cGFzcw" in found and b"cGFzcw==" in found
    assert all(len(s) >= MIN_BASE64_CORE for s in base64_cores(b"pass"))


# -- the matcher ------------------------------------------------------------------------------------------------------

def _naive_spans(patterns: set[bytes], data: bytes) -> list[tuple[int, int]]:
    found = [(i, i + len(p)) for p in patterns for i in range(len(data)) if data.startswith(p, i)]
    return merge_spans(found)


_STEMS = st.sampled_from([b"a" * PREFIX_LENGTH, b"ab" * PREFIX_LENGTH])  # prefixes shared past the automata's
_PATTERNS = st.one_of(st.text("ab", min_size=1, max_size=2 * PREFIX_LENGTH).map(str.encode),
                      st.builds(bytes.__add__, _STEMS, st.text("ab", max_size=6).map(str.encode)))


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(_PATTERNS, max_size=6), min_size=1, max_size=6),
       text=st.text("abc", max_size=120).map(str.encode))
def test_the_matcher_finds_exactly_what_a_naive_search_finds(batches: list[list[bytes]], text: bytes) -> None:
    """Learned in batches with searches between (several automata, prefixes shared past PREFIX_LENGTH)."""
    matcher = SpellingMatcher()
    known: set[bytes] = set()
    for batch in batches:
        matcher.add(batch)
        known |= set(batch)
        planted = text + b"".join(batch) + text[:5] + (batch[0] if batch else b"")
        assert matcher.spans(planted) == _naive_spans(known, planted)
        assert matcher.found_in(planted) == bool(_naive_spans(known, planted))
    assert len(matcher) == len(known)


def test_prefixes_longer_than_the_automata_keep_apart() -> None:
    common = b"x" * PREFIX_LENGTH
    matcher = SpellingMatcher()
    matcher.add([common + b"-one", common + b"-two-longer"])
    assert matcher.spans(b".." + common + b"-two-longer..") == [(2, 2 + PREFIX_LENGTH + 11)]
    assert matcher.spans(b".." + common + b"-three..") == []


def test_learning_one_secret_at_a_time_never_rebuilds_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """The logarithmic method: n prefixes learned one by one, searched after each, are built O(n log n) bytes in
    all, never the whole set per secret, and a search runs O(log n) automata."""
    built: list[int] = []
    real = ahocorasick_rs.BytesAhoCorasick

    def counting(prefixes: list[bytes]) -> Any:
        built.append(len(prefixes))
        return real(prefixes)

    monkeypatch.setattr(ahocorasick_rs, "BytesAhoCorasick", counting)
    matcher = SpellingMatcher()
    n = 1024
    for i in range(n):
        matcher.add([f"{i:06d}-secret".encode()])
        assert matcher.spans(b"a line of text") == []
        assert matcher.automata <= math.log2(i + 1) + 1
    assert matcher.spans(b"...000512-secret...") == [(3, 16)]
    assert len(built) >= n and sum(built) <= 2 * n * math.log2(n)
    assert sum(size == n for size in built) <= 1  # the whole set was built at most once


def test_learning_while_other_threads_redact() -> None:
    redactor = Redactor()
    failures: list[str] = []

    def learn_many(base: int) -> None:
        for i in range(100):
            secret = f"thread-secret-{base}-{i:04d}"
            redactor.add(secret)
            if secret in redactor.redact(f"x {secret} y"):
                failures.append(secret)

    threads = [threading.Thread(target=learn_many, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and len(redactor.secrets) == 400


# -- text, bytes and images -------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(before=st.text(), after=st.text())
def test_redacting_any_text_keeps_it_text_and_removes_the_secret(before: str, after: str) -> None:
    """A UTF-16 or base64 spelling may begin inside a multi-byte character: the mask takes the whole character."""
    redactor = Redactor(["é-secret-ü", "\ud800lone-surrogate"])
    for secret in ("é-secret-ü", "\ud800lone-surrogate"):
        text = before + secret + after + secret.encode("utf-16-le", "surrogatepass").decode("latin-1")
        cleaned = redactor.redact(text)
        assert secret not in cleaned and MASK in cleaned
        assert redactor.redact(before) == before or redactor.contains(before)


def test_mask_bytes_keeps_lengths_and_masks_overlapping_secrets_whole() -> None:
    redactor = Redactor(["password123", "word123456"])
    data = b"[password123456]"
    assert redactor.mask_bytes(data) == b"[" + MASK_BYTE * 14 + b"]"
    assert redactor.redact_bytes(data) == b"[" + MASK.encode() + b"]"


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_image_whose_qr_encodes_a_secret_is_redrawn_with_the_payload_redacted() -> None:
    redactor = Redactor(["lab-wifi-password"])
    leaking = _png(render_qr('{"s":"lab","p":"lab-wifi-password","t":"AY12345678abcd"}'))
    redrawn = redactor.redact_image(leaking)
    assert decode_qr(Image.open(io.BytesIO(redrawn))) == [f'{{"s":"lab","p":"{MASK}","t":"AY12345678abcd"}}'.encode()]
    harmless = _png(render_qr("nothing secret here"))
    assert redactor.redact_image(harmless) == harmless
    assert redactor.redact_image(b"not an image lab-wifi-password") == placeholder_png()
    assert Redactor().redact_image(leaking) == leaking


def test_an_image_with_several_codes_one_of_them_secret_is_withheld() -> None:
    redactor = Redactor(["lab-wifi-password"])
    canvas = Image.new("L", (900, 450), 255)
    canvas.paste(render_qr("lab-wifi-password").convert("L"), (0, 0))
    canvas.paste(render_qr("another code").convert("L"), (450, 0))
    assert redactor.redact_image(_png(canvas)) == placeholder_png()
