"""Length-prefixed binary framing shared by the AP codecs (PROTOCOL.md §3.1 55AA, §3.2 6699).

A :class:`FrameError` names in ``reason`` which framing check failed, so that tests and the stateful
fuzzer can tell "refused for a bad CRC" from "refused for a bad suffix". :class:`FrameBuffer` is the
h11-style ``receive_data``/``next_frame`` reassembler both framings use on byte streams.
"""

from __future__ import annotations

import enum
from typing import Generic, TypeVar

from .errors import ProtocolError, RemoteProtocolError

#: A framing sanity limit of this harness, not of the specification: a declared frame length above it
#: is refused, so a stream buffer never waits for gigabytes behind a corrupted length field. 65,535 is
#: above any UDP datagram (§3.1) and far above anything the TLS config channel (§3.2) carries.
MAX_FRAME_LEN = 0xFFFF


class FrameFault(enum.StrEnum):
    """Which framing check a frame failed (the machine-readable ``FrameError.reason``)."""

    PREFIX = "prefix"
    SUFFIX = "suffix"
    LENGTH = "length"
    CRC = "crc"
    TAG = "tag"
    RESERVED = "reserved"


class FrameError(RemoteProtocolError):
    """A frame broke its framing; ``reason`` says which check failed."""

    def __init__(self, message: str, *, reason: FrameFault, section: str) -> None:
        super().__init__(message, section=section)
        self.reason = reason


def check_prefix(data: bytes, prefix: bytes, section: str) -> None:
    """Refuse ``data`` unless it starts with ``prefix``; input cut off inside the prefix is a length fault."""
    if data.startswith(prefix):
        return
    if prefix.startswith(data):
        raise FrameError(f"frame of {len(data)} bytes is cut off inside its prefix {prefix.hex()}",
                         reason=FrameFault.LENGTH, section=section)
    raise FrameError(f"frame does not start with {prefix.hex().upper()} (got {data[:4].hex()})",
                     reason=FrameFault.PREFIX, section=section)


F = TypeVar("F")


class FrameBuffer(Generic[F]):
    """Reassemble frames from a byte stream, resynchronising on the prefix after garbage.

    After each ``receive_data`` call ``next_frame()`` until it returns None. A candidate frame that fails
    its checks raises FrameError once and only its prefix is dropped, so a corrupted length cannot swallow
    the next good frame. The frames and errors produced depend only on the bytes, never on how they were
    chunked.

    A framing subclasses it with ``_prefix``, ``_header_len`` (bytes needed to know the frame's length),
    ``_frame_len(header)`` and ``_decode(frame)``.
    """

    _prefix: bytes
    _header_len: int

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded = 0
        """Bytes dropped while hunting for a prefix (garbage between frames)."""

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def _frame_len(self, header: bytes) -> int:
        raise NotImplementedError

    def _decode(self, frame: bytes) -> F:
        raise NotImplementedError

    def _drop(self, count: int) -> None:
        del self._buffer[:count]
        self.discarded += count

    def next_frame(self) -> F | None:
        start = self._buffer.find(self._prefix)
        if start < 0:
            # Keep a tail that may be the start of a prefix still arriving.
            self._drop(max(0, len(self._buffer) - (len(self._prefix) - 1)))
            return None
        self._drop(start)
        if len(self._buffer) < self._header_len:
            return None
        try:
            total = self._frame_len(bytes(self._buffer[: self._header_len]))
            if len(self._buffer) < total:
                return None
            frame = self._decode(bytes(self._buffer[:total]))
        except ProtocolError:
            self._drop(len(self._prefix))
            raise
        del self._buffer[:total]
        return frame

    @property
    def pending(self) -> int:
        """Bytes received and not yet returned as a frame or dropped."""
        return len(self._buffer)


__all__ = ["MAX_FRAME_LEN", "FrameBuffer", "FrameError", "FrameFault", "check_prefix"]
