"""What the device did against what it was given: the diagnosis a pairing FAIL carries besides the app's code.

"1512 TIMEOUT" says the app heard nothing; the device's own events (the device adapter's ``events()``, never
the emulator) say why: which SSID, password and token it decoded from the QR code, the EZ transmission or the
AP frame, whether it refused the configuration, which network it joined, how the cloud answered its
activation and its MQTT login. :func:`explain_pairing` turns them into one sentence, e.g. "the device decoded
SSID 'open cafÃ©', the QR code held 'open café'". Passwords are compared by length only: the events hold them
redacted (``<redacted N>``), and so does every message.

The events read here are the emulated camera's, and a vendor's ``events_hook`` may print the same names:
``config-received`` {mode, ssid, password, token}, ``config-refused`` {mode, reason}, ``qr-no-code``,
``qr-ignored`` {state}, ``qr-scan-stuck``, ``bind-push-refused`` {reason}, ``bind-push-ignored`` (a token
pushed by a bind by UUID, §11.6), ``wifi-join`` {ssid, outcome}, ``atop-request`` {token}, ``atop-refused``
{error_code, error_msg}, ``atop-activated``, ``mqtt-refused`` {reason}, ``mqtt-unreachable`` {reason},
``online``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

CARRIERS = {"qr": "the QR code", "ez": "the EZ transmission", "ap": "the AP frame", "ap-legacy": "the AP frame",
            "ap-lpv35": "the AP frame", "ble": "the BLE message", "mqtt-bind": "the bind push"}
_REDACTED = re.compile(r"^<redacted (\d+)>$")


class EventLike(Protocol):
    """A device event as the device contract gives it (:class:`harness.adapters.contracts.DeviceEvent`)."""

    @property
    def at(self) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


def _text(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


def _last(events: Sequence[EventLike], *names: str) -> EventLike | None:
    return next((e for e in reversed(events) if e.name in names), None)


def _config_deviation(config: EventLike, *, carrier: str, ssid: str, password: str, token: str) -> str | None:
    """How the configuration the device took differs from the one it was given, or None."""
    details = config.details
    wrong = []
    decoded_ssid = _text(details.get("ssid", ""))
    if "ssid" in details and decoded_ssid != ssid:
        wrong.append(f"the device decoded SSID {decoded_ssid!r}, {carrier} held {ssid!r}")
    length = _REDACTED.match(_text(details.get("password", "")))
    expected = len(password.encode("utf-8"))
    if length is not None and int(length.group(1)) != expected:
        wrong.append(f"the device decoded a password of {length.group(1)} bytes, {carrier} held one of {expected} "
                     f"bytes (passwords redacted)")
    decoded_token = _text(details.get("token", token))
    if decoded_token != token:
        wrong.append(f"the device decoded token {decoded_token!r}, {carrier} held {token!r}")
    return "; ".join(wrong) or None


def _before_config(events: Sequence[EventLike], carrier: str) -> str:
    """Why no configuration was taken: refused, no code found, ignored, stuck, or nothing at all."""
    refused = _last(events, "config-refused", "ble-config-refused", "bind-push-refused")
    if refused is not None:
        reason = refused.details.get("reason") or refused.details.get("detail") or refused.details.get("result")
        return f"the device refused {carrier}: {reason}"
    if _last(events, "qr-scan-stuck") is not None:
        return "the device's QR scan never ended"
    if _last(events, "qr-no-code") is not None:
        return "the device found no QR code in the image it was shown"
    if _last(events, "bind-push-ignored") is not None:
        return f"the device received {carrier} but ignored it (took no token from it, never activated)"
    ignored = _last(events, "qr-ignored", "config-ignored", "ap-ignored")
    if ignored is not None:
        return f"the device ignored {carrier} (it was {ignored.details.get('state', 'not listening')})"
    return f"the device never took {carrier} (no configuration among its events)"


def _after_config(events: Sequence[EventLike], *, ssid: str, token: str) -> str | None:
    """What went wrong after a correct configuration: joining, activating, logging in."""
    join = _last(events, "wifi-join")
    if join is not None and join.details.get("outcome") != "ok":
        return f"the device took the right configuration but could not join {ssid!r}: {join.details.get('outcome')}"
    refused = _last(events, "atop-refused")
    if refused is not None and _last(events, "atop-activated") is None:
        return (f"the cloud refused the device's activation: {refused.details.get('error_code')} "
                f"{refused.details.get('error_msg') or ''}".rstrip())
    request = _last(events, "atop-request")
    if request is None:
        return f"the device joined {ssid!r} but never asked the cloud to activate" if join is not None else None
    sent = _text(request.details.get("token", ""))
    if len(token) == 14 and sent and sent != token[2:10]:
        return f"the device activated with token {sent!r}, not the 8 characters {token[2:10]!r} of the token shown"
    mqtt = _last(events, "mqtt-refused", "mqtt-unreachable")
    if mqtt is not None and _last(events, "online") is None:
        return f"the device activated but its MQTT login failed ({mqtt.name}: {mqtt.details.get('reason')})"
    return None


def explain_pairing(events: Sequence[EventLike], *, since: float, mode: str, ssid: str, password: str,
                    token: str) -> str | None:
    """One sentence on what the device did with a pairing started at ``since`` (world clock) against what it
    was given (``mode``, ``ssid``, ``password``, ``token``), or None when its events show nothing amiss."""
    recent = [e for e in events if e.at >= since]
    carrier = CARRIERS.get(mode, f"the {mode} configuration")
    config = _last(recent, "config-received")
    if config is None:
        return _before_config(recent, carrier)
    deviation = _config_deviation(config, carrier=carrier, ssid=ssid, password=password, token=token)
    return deviation or _after_config(recent, ssid=ssid, token=token)


__all__ = ["CARRIERS", "explain_pairing"]
