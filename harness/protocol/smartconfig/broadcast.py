"""The device side of the EZ broadcast channel (PROTOCOL.md §2.3): the message built up round after round.

The phone repeats the same rounds for the whole pairing window (§2.5): a header (L and CRC-8(L)), then per group
its check value, its sequence number and its 4 data bytes (§2.3 steps 3-5). A datagram lost in one round is
sent again in the next, so this decoder keeps what every round delivered, keyed by the group's sequence number,
and emits the message as soon as the header and every group are held. What it keeps and when it trusts it:

- **Readings.** The data values that followed a group's control values, up to the next control or header value,
  are one *reading* of that group: its bytes in order, with any of them possibly lost (and, on a noisy air,
  possibly one inserted). A group whose sequence value was lost is placed from the round's order: it follows
  the group before (§2.3 step 4); a reading is kept only once the next group's control values confirm that
  order (a skipped group's data may be in it, a stray control value may have opened it), and a group's own
  sequence value arriving late inside its data does not end it. Each group keeps its 8 newest readings and a
  tally of its check values.
- **The header.** L is trusted only once its CRC-8 checks (§2.3 step 3): from four header values read in
  order, or from the most frequent value of each nibble over the rounds when 3 of them were seen twice and
  agree with one L (the check nibbles pin L as well: CRC-8 of one byte is a bijection). A header that
  announces another L starts a new message: everything held is dropped, which also bounds what is kept.
- **A group is held** when one value explains its readings and its 7-bit check passes (§2.3 step 4), with a
  demand for evidence that grows with the damage the air has shown, because 1 corrupted group in 128 passes
  a 7-bit check:

  - *a clean air* (nothing lost or out of place so far): ``votes`` readings (default 1) pinning the value;
  - *a lossy air* (datagrams missing, never one out of place): the value must be the only one every reading
    allows (lost datagrams alone cannot make a wrong group: a reading is then always a subsequence of the
    true one), and ``max(votes, 2)`` readings must show all but at most one of its bytes (or the readings
    show as many bytes in all as that many whole readings hold);
  - *a noisy air* (a datagram duplicated, reordered or stray inside the alphabet, or a reading no group value
    explains): the check value must have been read ``max(votes, 2)`` times, that many readings must show the
    whole value (one more when two equal bytes stand side by side, as a duplicated datagram would make them)
    and every byte must be pinned at its place by that many (a reading one value too long counts
    with the inserted one taken out), it must explain more of the readings that show all but one byte than it
    cannot, and against any other value passing the check, 2 more readings must explain it and not the other
    than the other way round (the last group's reading counts once its window is whole).
    A fluke needs the same wrong bytes at the same places twice and must still outvote the rounds.

  A held group is kept across rounds; a reading that contradicts it and alone pins another value passing the
  check (a fluke, or another stream of the same length) releases it to be decided again on a noisy air's
  terms, and a complete message that does not parse (§2.3 step 2) releases every group.
- **Tails** (§2.3 step 5): the last group's window is its p bytes then zeros, 4 values in all (padded) or 2p
  (tuya-convert); its reading is taken as soon as its p bytes arrived, and stray 256 values are ignored.
- **Limits.** A group of 4 equal bytes needs one reading with all 4: with one of 4 equal values lost, which one
  is unknowable, and a value with a fifth byte lost every time fits as well. A 7-bit check cannot make a noisy
  air safe, only unlikely to fool: measured in tests/test_protocol_smartconfig_air.py's terms, see there.
- **Bounds**: 8 readings of at most 12 values per group, 128 groups, 8 control values between two runs, and a
  group's readings are searched only while they leave at most 64 partial values open.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

from harness.protocol.smartconfig.codec import (
    BROADCAST_PREAMBLE,
    EzCredentials,
    crc8_maxim,
    group_crc,
    parse_broadcast_data,
)
from harness.protocol.smartconfig.readings import (
    CLEAN,
    LOSSY,
    NOISY,
    Reading,
    Shape,
    covered,
    fits,
    fold,
    least_pinned,
    shape_of,
    sole,
)

_KEPT = 8
_RUN_CAP = 12
_CONTROL_CAP = 8
_WIDEST = 8  # the widest window of any group: tuya-convert's last group of 4 bytes and 4 zeros (§2.3 step 5)


def _header_nibbles(length: int) -> tuple[int, int, int, int]:
    check = crc8_maxim(bytes([length]))
    return length >> 4, length & 0xF, check >> 4, check & 0xF


@dataclass(slots=True)
class _Group:
    """What the rounds delivered of one group: its newest readings, a tally of its check values, its value once
    held."""

    readings: deque[Reading] = field(default_factory=lambda: deque(maxlen=_KEPT))
    checks: dict[int, int] = field(default_factory=dict)
    held: bytes | None = None

    def check(self) -> int | None:
        """The most frequent check value seen for this group, if one leads (§2.3 step 4: 0x80 | crc)."""
        if not self.checks:
            return None
        ranked = sorted(self.checks.values(), reverse=True)
        if len(ranked) > 1 and ranked[0] == ranked[1]:
            return None
        return max(self.checks, key=self.checks.__getitem__)

    def add_check(self, check: int) -> None:
        if check not in self.checks and len(self.checks) >= 8:
            del self.checks[min(self.checks, key=self.checks.__getitem__)]
        self.checks[check] = self.checks.get(check, 0) + 1


class BroadcastDecoder:
    """Fed broadcast datagram lengths (after any frame offset) one at a time; :attr:`result` is set once the
    header and every group are held. See the module docstring for what is trusted when."""

    def __init__(self, *, votes: int = 1) -> None:
        self.result: EzCredentials | None = None
        self.preamble_seen = False
        self.length: int | None = None
        self._votes = votes
        self._damage = CLEAN
        self._recent: tuple[int, ...] = ()
        self._header: list[int] = []
        self._headers: deque[int] = deque(maxlen=votes)
        self._nibbles: list[dict[int, int]] = [{} for _ in range(4)]
        self._controls: list[int] = []
        self._run: list[int] | None = None
        self._owner: int | None = None
        self._prev: int | None = None
        self._merged: int | None = None
        self._unconfirmed: tuple[int, Reading] | None = None
        self._split: tuple[int, Reading] | None = None
        self._groups: dict[int, _Group] = {}

    @property
    def groups_total(self) -> int | None:
        return None if self.length is None else (self.length + 3) // 4

    @property
    def groups_known(self) -> int:
        total = self.groups_total or 0
        return sum(1 for seq in range(total) if seq in self._groups and self._groups[seq].held is not None)

    def feed(self, value: int) -> None:
        """One datagram length; values outside the EZ alphabet (§2.3: 16-79, 128-511) are ignored."""
        if self.result is not None:
            return
        self._recent = (*self._recent[-3:], value)
        if self._recent == BROADCAST_PREAMBLE:
            self.preamble_seen = True
        if 16 <= value < 80:
            self._header_value(value >> 4, value & 0xF)
        elif 128 <= value < 256:
            self._control_value(value & 0x7F)
        elif 256 <= value < 512:
            self._data_value(value & 0xFF)

    def _damaged(self, level: int) -> None:
        self._damage = max(self._damage, level)

    # --- §2.3 step 3: the header ------------------------------------------------------------------------------

    def _header_value(self, kind: int, nibble: int) -> None:
        # 0x10|L>>4, 0x20|L&0xF, 0x30|c>>4, 0x40|c&0xF, in this order, at the start of every round.
        votes = self._nibbles[kind - 1]
        if nibble in votes or len(votes) < 16:
            votes[nibble] = votes.get(nibble, 0) + 1
        if self.length is None or nibble == _header_nibbles(self.length)[kind - 1]:
            self._round_starts()
        else:
            self._damaged(NOISY)  # a stray header value, or another stream's (whose whole header resets)
        if len(self._header) == kind - 1:
            self._header.append(nibble)
        else:
            self._damaged(NOISY if len(self._header) >= kind else LOSSY)
            self._header = [nibble] if kind == 1 else []
        if len(self._header) == 4:
            length, check = self._header[0] << 4 | self._header[1], self._header[2] << 4 | self._header[3]
            self._header = []
            if crc8_maxim(bytes([length])) != check:
                self._damaged(NOISY)  # four header values in order whose CRC-8 fails: one is corrupt
                return
            self._headers.append(length)
            if len(self._headers) == self._votes and len(set(self._headers)) == 1:
                self._trust(length)
        elif self.length is None:
            self._trust_nibbles()

    def _end_header(self) -> None:
        if self._header:
            self._damaged(LOSSY)  # a header cut short: its last values were lost
            self._header = []

    def _trust_nibbles(self) -> None:
        """L from the header values of several rounds: each nibble settled when one value was seen ``max(votes, 2)``
        times and more than any other; with 3 settled, the leading value of every nibble seen must agree with
        exactly one L. CRC-8 of one byte is a bijection (§2.2), so the check nibbles pin L as well as L's own do,
        and any 3 nibbles cross-check."""
        need = max(self._votes, 2)
        settled: list[int | None] = []
        for votes in self._nibbles:
            ranked = sorted(votes.values(), reverse=True)
            leads = bool(ranked) and ranked[0] >= need and (len(ranked) == 1 or ranked[1] < ranked[0])
            settled.append(max(votes, key=votes.__getitem__) if leads else None)
        leading = [max(votes, key=votes.__getitem__) if votes else None for votes in self._nibbles]
        if sum(nibble is not None for nibble in settled) < 3:
            return
        fitting = [length for length in range(256) if all(
            got is None or got == want for got, want in zip(leading, _header_nibbles(length), strict=True))]
        if len(fitting) == 1:
            self._trust(fitting[0])

    def _trust(self, length: int) -> None:
        if length < 4 or length == self.length:
            return  # L < 4 cannot hold a message (§2.3 step 2)
        if self.length is not None:
            # Another message: start over at this round, judging the air afresh (its header looked "stray").
            self._groups.clear()
            self._damage = CLEAN
            self._run = self._owner = self._unconfirmed = self._split = self._merged = None
            self._controls, self._prev = [], -1
        self.length = length
        total = (length + 3) // 4
        for seq in [seq for seq in self._groups if seq >= total]:
            del self._groups[seq]
        for seq in sorted(self._groups):
            self._evaluate(seq)

    def _round_starts(self) -> None:
        self._close_run()
        self._settle(None, round_start=True)
        self._controls = []
        self._prev, self._merged = -1, None

    # --- §2.3 step 4: control values and data runs ------------------------------------------------------------

    def _control_value(self, value: int) -> None:
        self._end_header()
        self._close_run()
        self._controls.append(value)
        if len(self._controls) > _CONTROL_CAP:
            del self._controls[0]

    def _data_value(self, byte: int) -> None:
        self._end_header()
        if self._controls:
            self._open_run()
        if self._run is None:
            self._damaged(LOSSY)  # data whose group's control values were all lost: kept out of every group
            self._run, self._owner = [], None
        if self._owner is None:
            return
        if len(self._run) < _RUN_CAP:
            self._run.append(byte)
        if self.length is not None and self._owner == (self.length - 1) // 4:
            self._evaluate(self._owner, pending=tuple(self._run))  # the last group: nothing may follow it

    def _open_run(self) -> None:
        unconfirmed = self._unconfirmed
        if len(self._controls) == 1 and unconfirmed is not None and self._controls[0] == unconfirmed[0] == self._prev \
                and self._damage == NOISY and self.length is not None \
                and len(unconfirmed[1]) < shape_of(self.length, unconfirmed[0]).size:
            # On a noisy air, the last group's own sequence value again, late (reordered) or duplicated, after
            # only part of its data: the data goes on. (A group's check value equal to the group before's number,
            # its sequence value lost, reads the same but follows a whole run: 1 in 128, and left to the rule
            # that a lone control value opens the next group.)
            self._controls, self._unconfirmed = [], None
            self._run, self._owner = list(unconfirmed[1]), unconfirmed[0]
            return
        owner, check = self._resolve(self._controls)
        self._settle(owner)
        self._controls = []
        self._run, self._owner = [], owner
        if owner is not None and check is not None:
            self._group(owner).add_check(check)

    def _resolve(self, controls: list[int]) -> tuple[int | None, int | None]:
        """The group the data after ``controls`` belongs to, and its check value when one was read."""
        expected = None if self._prev is None else self._prev + 1
        merged, self._merged = self._merged, None
        if len(controls) > 2 and any(a == b for a, b in pairwise(controls)):
            self._damaged(NOISY)  # a duplicated control value: read the pair without the copy
            controls = [value for i, value in enumerate(controls) if not i or value != controls[i - 1]]
        last = controls[-1]
        if len(controls) == 1:
            self._damaged(LOSSY)  # one of the pair was lost: the group is the one after the last run's
            if expected is None or merged is not None:
                return None, None
            return self._plausible(expected), (None if last == expected else last)
        seq, check = last, controls[-2]
        if len(controls) > 2:
            self._damaged(LOSSY)  # a group's data all lost between its control values and the next pair
            if expected is not None and seq != expected and controls[-2] == expected:
                return self._plausible(expected + 1), last  # ... then the next group's sequence value
        self._note_sequence(seq, expected, merged)
        return self._plausible(seq), check

    def _note_sequence(self, seq: int, expected: int | None, merged: object) -> None:
        """What the group's sequence value says of the air, against the one expected after the previous group."""
        if expected is None or seq == expected:
            if merged is not None:
                self._damaged(NOISY)  # the run before was too long although no group was skipped: an insertion
        elif seq > expected or seq == 0:
            self._damaged(LOSSY)  # groups' control values lost, or a round whose header was lost
        else:
            self._damaged(NOISY)  # a control value out of place: duplicated, reordered or stray

    def _plausible(self, seq: int) -> int | None:
        if self.length is not None and seq >= (self.length + 3) // 4:
            self._damaged(NOISY)
            return None
        return seq

    def _close_run(self) -> None:
        """End a data run; its reading waits for what follows to confirm its group (:meth:`_settle`)."""
        run, owner = self._run, self._owner
        self._run = self._owner = None
        if run is None:
            return
        self._prev = owner
        if owner is None:
            return
        reading = tuple(run)
        shape = None if self.length is None else shape_of(self.length, owner)
        if shape is not None and shape.last and len(reading) > shape.widest and not any(reading[shape.widest:]):
            reading = reading[:shape.widest]  # §2.3 step 5: stray 256 values after the last group are ignored
        widest = _WIDEST if shape is None else shape.widest
        if len(reading) > (4 if shape is None else widest):
            # The next group's control values lost (§2.3 step 4), an insertion, or (L unknown) the last group's tail.
            if shape is not None and shape.last:
                self._damaged(NOISY)
            self._merged = owner
            if len(reading) == 8:
                self._split = (owner, reading)  # two whole groups, if the next control values show one skipped
        elif shape is not None and len(reading) not in shape.windows:
            self._damaged(LOSSY)
        if len(reading) <= (_WIDEST if shape is None else widest + 1):
            self._unconfirmed = (owner, reading)  # one value too long: kept for a noisy air to take one out

    def _settle(self, following: int | None, *, round_start: bool = False) -> None:
        """Commit the last run's reading when what follows confirms its group: the next group in order, a new
        round, or nothing known. A run followed by a skip may hold the skipped group's data (both its control
        values lost); one followed by its own group again was opened by a stray control value (§2.3 step 4)."""
        unconfirmed, self._unconfirmed = self._unconfirmed, None
        split, self._split = self._split, None
        if unconfirmed is not None:
            seq, reading = unconfirmed
            shape = None if self.length is None else shape_of(self.length, seq)
            too_long = len(reading) > (4 if shape is None else shape.widest)
            if too_long and not (round_start and (shape is None or shape.last)):
                if following == seq + 1:
                    self._commit(seq, reading)  # too long, yet no group skipped: an inserted datagram (noisy air)
            elif round_start or following is None or following == seq + 1:
                self._commit(seq, reading)
            elif following <= seq:
                self._damaged(NOISY)
        if split is not None and following == split[0] + 2 and self.length is not None \
                and split[0] + 1 < (self.length - 1) // 4:
            self._commit(split[0], split[1][:4])  # exactly one group skipped, none of 8 data values lost
            self._commit(split[0] + 1, split[1][4:])

    def _group(self, seq: int) -> _Group:
        if seq not in self._groups:
            self._groups[seq] = _Group()
        return self._groups[seq]

    # --- holding groups -----------------------------------------------------------------------------------------

    def _commit(self, seq: int, reading: Reading) -> None:
        group = self._group(seq)
        group.readings.append(reading)
        if group.held is not None and self.length is not None:
            shape = shape_of(self.length, seq)
            if not fits(reading, group.held, shape.widest):
                self._damaged(NOISY)  # a reading the held value cannot explain: a datagram inserted, or a rival
                check = group.check()
                rivals = fold([reading], shape.size, shape.widest) or set()
                if any(None not in partial and group_crc(seq, bytes(b for b in partial if b is not None)) == check
                       for partial in rivals):
                    group.held = None  # two values pass the check: decide again, each byte pinned twice
        self._evaluate(seq)

    def _evaluate(self, seq: int, pending: Reading | None = None) -> None:
        group = self._groups.get(seq)
        if self.length is None or self.result is not None or group is None or group.held is not None:
            return
        check = group.check()
        shape = shape_of(self.length, seq)
        readings = [reading for reading in group.readings if len(reading) <= shape.widest + 1]
        every = [*readings, *([pending] if pending and len(pending) <= shape.widest + 1 else [])]
        if check is None or not every:
            return
        value = self._decide(seq, check, shape, readings, pending, every, votes=group.checks[check])
        if value is not None:
            group.held = value
            self._complete()

    def _decide(self, seq: int, check: int, shape: Shape, readings: list[Reading], pending: Reading | None,
                every: list[Reading], *, votes: int) -> bytes | None:
        """The group's value, tried window width by window width: the one value the readings settle on (clean
        or lossy air), or on noisy air the value enough readings cover once ``votes`` checks agree."""
        for width in shape.widths(readings, pending, damage=self._damage):
            value = None
            if self._damage < NOISY:
                fitting = [reading for reading in every if len(reading) <= width]
                value = self._settled(seq, check, shape.size, width, fitting, judge=width == shape.widest)
            if value is None and self._damage == NOISY and votes >= max(self._votes, 2):
                whole = [*readings, *([pending] if pending and len(pending) in shape.windows else [])]
                value = covered(seq, check, shape.size, width, whole, max(self._votes, 2))
            if value is not None:
                return value
        return None

    def _settled(self, seq: int, check: int, size: int, width: int, readings: list[Reading], *,
                 judge: bool) -> bytes | None:
        """Clean or lossy air: the one value every reading allows, if its check passes and enough readings show it.
        One reading no value explains along with the others (a run misplaced after both control values of a
        group were lost) is set aside when the others settle on one value; more than that, read against the
        widest window (``judge``), prove the air noisy. A value failing its check proves nothing (a misplaced
        run, or the check misread): the group waits for more readings."""
        value, state = sole(seq, check, size, width, readings)
        if state == "conflict" and len(readings) > 2:
            others = {found for i in range(len(readings))
                      if (found := sole(seq, check, size, width, readings[:i] + readings[i + 1:])[0]) is not None}
            if len(others) == 1:
                value = others.pop()
                readings = [reading for reading in readings if fits(reading, value, width)]
                self._damaged(LOSSY)
        if value is None:
            if state == "conflict" and len(readings) > 2 and judge:
                self._damaged(NOISY)  # more than one reading no value explains: datagrams were inserted
            return None
        need = self._votes if self._damage == CLEAN else max(self._votes, 2)
        pinned = [least_pinned(reading, value, width) for reading in readings]
        # need readings showing all but one byte each, or as many bytes in all as need whole readings hold
        informative = sum(1 for count in pinned if count >= max(1, size - 1))
        return value if informative >= need or sum(pinned) >= need * size else None

    def _complete(self) -> None:
        total = self.groups_total
        if total is None or self.groups_known < total:
            return
        data = b"".join(self._groups[seq].held or b"" for seq in range(total))
        credentials = parse_broadcast_data(data)
        if credentials is None:
            self._damaged(NOISY)  # a group took a wrong value that passed its 7-bit check: take them all again
            for group in self._groups.values():
                group.held = None
            return
        self.result = credentials


__all__ = ["BroadcastDecoder"]
