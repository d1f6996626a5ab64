"""The one error family every codec raises.

Modelled on h11: a :class:`LocalProtocolError` means *our* caller asked for something the protocol
forbids (a harness bug or a misuse of the API); a :class:`RemoteProtocolError` means the bytes or text
we were handed break the protocol (the device or cloud under test is at fault), and it names the
PROTOCOL.md section that the input breaks. Adapter and lab trouble is never a ProtocolError.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error a codec in :mod:`harness.protocol` raises."""

    def __init__(self, message: str, *, section: str | None = None) -> None:
        self.message = message
        self.section = section
        super().__init__(f"{message} (PROTOCOL.md {section})" if section else message)


class LocalProtocolError(ProtocolError):
    """The caller asked for something the specification forbids (e.g. encode a 33-byte SSID)."""


class RemoteProtocolError(ProtocolError):
    """The input breaks the specification; ``section`` names the PROTOCOL.md section it breaks."""

    def __init__(self, message: str, *, section: str) -> None:
        super().__init__(message, section=section)


__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
