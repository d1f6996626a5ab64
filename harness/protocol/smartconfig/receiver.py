"""The device side of EZ mode: one receiver fed what a sniffer sees, on either channel or both (PROTOCOL.md §2).

- **Noise**: on a real air unrelated datagrams are normal, so the receiver ignores every length and every
  well-formed IPv4 address that is not part of the EZ alphabet, silently. A non-``int`` length or a non-``str``
  address is the caller's mistake (:class:`LocalProtocolError`). A ``str`` that is not a dotted-quad IPv4
  address is a :class:`RemoteProtocolError` citing §2.4: the sender broke the address mapping, as tuya-convert
  does for characters above U+00FF (§2.6); no socket stack would have put such a datagram on the air.
- **Checks**: nothing is accepted unless its check passes: the header CRC-8 of L, every group's 7-bit CRC-8
  (:mod:`.broadcast`), every multicast section's CRC-32 and the password's zero padding (:mod:`.multicast`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.protocol.errors import LocalProtocolError
from harness.protocol.smartconfig.broadcast import BroadcastDecoder
from harness.protocol.smartconfig.codec import Channel, EzCredentials, Observation, decode_multicast_address
from harness.protocol.smartconfig.multicast import MulticastDecoder


@dataclass(frozen=True, slots=True)
class ReceiverProgress:
    """How far a :class:`SmartConfigReceiver` has got, for evidence timelines and device state machines."""

    preamble_lengths: bool
    preamble_addresses: bool
    broadcast_length: int | None
    broadcast_groups_known: int
    broadcast_groups_total: int | None
    multicast_sections: frozenset[str]
    completed_by: Channel | None


class SmartConfigReceiver:
    """The device side of EZ mode: fed what a sniffer sees, one datagram at a time, on either channel or both.

    Lost, duplicated, reordered and unrelated datagrams are expected; what each round delivers is kept until
    one channel yields a message whose every check passes. Then :attr:`result` is set and further input is
    ignored. ``broadcast_votes`` is how many readings of each broadcast group (and intact headers) a clean air
    needs, at least 2 once the air has shown damage (:mod:`.broadcast`); ``length_offset`` is subtracted from
    every length (a sniffer sees frame lengths, §2.3 inference).
    """

    def __init__(self, *, broadcast_votes: int = 1, length_offset: int = 0) -> None:
        if isinstance(broadcast_votes, bool) or not isinstance(broadcast_votes, int) or broadcast_votes < 1:
            raise LocalProtocolError(f"broadcast_votes must be a positive int, got {broadcast_votes!r}")
        if isinstance(length_offset, bool) or not isinstance(length_offset, int):
            raise LocalProtocolError(f"length_offset must be an int, got {length_offset!r}")
        self._offset = length_offset
        self._broadcast = BroadcastDecoder(votes=broadcast_votes)
        self._multicast = MulticastDecoder()
        self._result: EzCredentials | None = None
        self._completed_by: Channel | None = None

    @property
    def result(self) -> EzCredentials | None:
        return self._result

    @property
    def completed_by(self) -> Channel | None:
        return self._completed_by

    def progress(self) -> ReceiverProgress:
        return ReceiverProgress(
            preamble_lengths=self._broadcast.preamble_seen,
            preamble_addresses=self._multicast.preamble_seen,
            broadcast_length=self._broadcast.length,
            broadcast_groups_known=self._broadcast.groups_known,
            broadcast_groups_total=self._broadcast.groups_total,
            multicast_sections=self._multicast.sections,
            completed_by=self._completed_by,
        )

    def feed(self, observation: Observation) -> None:
        if not isinstance(observation, Observation):
            raise LocalProtocolError(f"feed() takes an Observation, got {type(observation).__name__}")
        if observation.kind == "length":
            self.feed_length(int(observation.value))
        else:
            self.feed_address(str(observation.value))

    def feed_length(self, length: int) -> None:
        """One broadcast datagram of ``length`` bytes (§2.3). Values outside the EZ alphabet are noise, ignored."""
        if isinstance(length, bool) or not isinstance(length, int):
            raise LocalProtocolError(f"a length must be an int, got {type(length).__name__}")
        if self._result is not None:
            return
        self._broadcast.feed(length - self._offset)
        if self._broadcast.result is not None:
            self._result, self._completed_by = self._broadcast.result, "broadcast"

    def feed_address(self, address: str) -> None:
        """One multicast datagram to ``address`` (§2.4). Well-formed addresses outside the EZ alphabet are ignored."""
        if self._result is not None:
            decode_multicast_address(address)  # malformed input is still refused, even once complete
            return
        self._multicast.feed(address)
        if self._multicast.result is not None:
            self._result, self._completed_by = self._multicast.result, "multicast"


__all__ = ["ReceiverProgress", "SmartConfigReceiver"]
