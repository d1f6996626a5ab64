"""The redactor: every spelling of a learned secret, secret-named keys, bytes, and process-wide learning."""

from __future__ import annotations

import json
import urllib.parse

from harness.redaction import MASK, Redactor, is_secret_key, learn, register, unregister

SECRET = 'pa$$ "w/ord" é'


def test_every_spelling_of_a_secret_is_masked() -> None:
    redactor = Redactor([SECRET])
    for text in (SECRET, json.dumps(SECRET), json.dumps(SECRET, ensure_ascii=False), urllib.parse.quote(SECRET),
                 repr(SECRET), repr(SECRET.encode()), SECRET.encode().hex()):
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
