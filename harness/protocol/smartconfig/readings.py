"""Readings of an EZ broadcast group (PROTOCOL.md §2.3 steps 4-5) and what they prove, for :mod:`.broadcast`.

A *reading* is what arrived of one group's window in one round: its data values in order, any of them possibly
lost (and, on a noisy air, possibly one inserted or two swapped). A window is the group's bytes, then (the last
group only) zero padding (§2.3 step 5). Everything here is a pure function of readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

from harness.protocol.smartconfig.codec import group_crc

Reading = tuple[int, ...]
Partial = tuple[int | None, ...]

# How much damage the air has shown (broadcast.py): nothing, datagrams lost, datagrams inserted or reordered.
CLEAN, LOSSY, NOISY = 0, 1, 2
_OPEN_CAP = 64


@dataclass(frozen=True, slots=True)
class Shape:
    """A group's size in bytes and the window lengths a sender emits for it (§2.3 steps 4-5)."""

    size: int
    windows: tuple[int, ...]
    last: bool = False

    @property
    def widest(self) -> int:
        return self.windows[-1]

    def widths(self, readings: Sequence[Reading], pending: Reading | None, *, damage: int) -> tuple[int, ...]:
        """The windows to read the readings against, widest first (it assumes nothing about the sender's tail).
        The narrower is tried too when the readings show it is the sender's: on a clean air a reading (even one
        still arriving: the group's bytes come first) that fills it exactly; on a damaged air 2 finished readings
        that fill it exactly, none longer (each would need datagrams lost from the wider window in just the
        right number; on a noisy air one value longer may be an insertion). It only matters when the group's
        last bytes are zeros, which the wider tail could hold."""
        narrow = self.windows[0]
        every = [*readings, *([pending] if pending else [])]
        proof = narrow + (2 if damage == NOISY else 1)
        if len(self.windows) == 1 or any(len(reading) >= proof for reading in every):
            return (self.widest,)
        exact = sum(1 for reading in (every if damage == CLEAN else readings) if len(reading) == narrow)
        return (self.widest, narrow) if exact >= (1 if damage == CLEAN else 2) else (self.widest,)


def shape_of(length: int, seq: int) -> Shape:
    """The shape of group ``seq`` of a message of ``length`` bytes (§2.3 steps 2, 4-5)."""
    last = (length - 1) // 4
    if seq < last:
        return Shape(4, (4,))
    size = length - 4 * last
    return Shape(size, tuple(sorted({4, 2 * size})), last=True)  # padded: 4 values; tuya-convert: p bytes and p zeros


def place(partial: Partial, reading: Reading, positions: Sequence[int]) -> Partial | None:
    out = list(partial)
    for value, position in zip(reading, positions, strict=True):
        if position >= len(out):
            if value:
                return None  # §2.3 step 5: what follows a group's bytes in its window is zero padding
        elif out[position] is None:
            out[position] = value
        elif out[position] != value:
            return None
    return tuple(out)


def fold(readings: Iterable[Reading], size: int, width: int) -> set[Partial] | None:
    """Every partial value (None: a byte no reading pins) that all ``readings`` fit as subsequences of its window.

    None when more than :data:`_OPEN_CAP` stay open (too little known yet); an empty set when nothing fits all.
    """
    partials: set[Partial] = {(None,) * size}
    for reading in readings:
        if len(reading) > width:
            return set()
        grown = {placed for partial in partials for positions in combinations(range(width), len(reading))
                 if (placed := place(partial, reading, positions)) is not None}
        if len(grown) > _OPEN_CAP:
            return None
        partials = grown
        if not partials:
            break
    return partials


def fits(reading: Reading, value: bytes, width: int) -> list[frozenset[int]]:
    """Each way ``reading`` fits the window of ``value``, as the byte positions it pins (empty: it does not fit)."""
    window = value + bytes(max(0, width - len(value)))
    return [frozenset(p for p in positions if p < len(value))
            for positions in combinations(range(len(window)), len(reading))
            if all(window[p] == v for v, p in zip(reading, positions, strict=True))]


def least_pinned(reading: Reading, value: bytes, width: int) -> int:
    """How many of the value's bytes the reading shows, whichever way it fits (0 when it does not)."""
    return min((len(pinned) for pinned in fits(reading, value, width)), default=0)


def explain(reading: Reading, value: bytes, width: int) -> list[frozenset[int]]:
    """As :func:`fits`, but a reading one value longer than the window holds an inserted datagram (a noisy air):
    the ways it fits with one of its values taken out. A reading that merely disagrees supports nothing."""
    ways = fits(reading, value, width)
    if ways or len(reading) != width + 1:
        return ways
    return [pinned for i in range(len(reading)) for pinned in fits(reading[:i] + reading[i + 1:], value, width)]


def sole(seq: int, check: int, size: int, width: int, readings: list[Reading]) -> tuple[bytes | None, str]:
    """The one value all ``readings`` allow whose check passes, and how it went: ``ok``, ``open`` (too little
    known, or more than one value passes), ``conflict`` (no value allows them all) or ``fails`` (the one value
    they pin fails its check)."""
    partials = fold(readings, size, width)
    if partials is None or any(None in partial for partial in partials):
        return None, "open"
    if not partials:
        return None, "conflict"
    passing = [value for value in (bytes(b for b in partial if b is not None) for partial in partials)
               if group_crc(seq, value) == check]
    if not passing:
        return None, "fails"
    return (passing[0], "ok") if len(passing) == 1 else (None, "open")


def support(value: bytes, readings: Sequence[Reading], width: int) -> tuple[int, int, bool, frozenset[int]]:
    """How many readings pin the value's least-pinned byte, how many pin all of it, whether it explains more of
    the readings showing all but one byte than it cannot, and which readings (by index) it explains."""
    counts = [0] * len(value)
    whole = shown = against = 0
    enough = max(1, len(value) - 1)
    explained: set[int] = set()
    for index, reading in enumerate(readings):
        ways = explain(reading, value, width)
        if not ways:
            against += len(reading) >= enough
            continue
        explained.add(index)
        pinned = frozenset.intersection(*ways)
        whole += len(pinned) == len(value)
        shown += min(len(way) for way in ways) >= enough
        for position in pinned:
            counts[position] += 1
    return min(counts), whole, shown > against, frozenset(explained)


def candidates(readings: list[Reading], size: int, width: int) -> set[bytes]:
    """Values some reading or pair of readings pins whole; a reading one value too long, with each taken out."""
    pool = [reading for reading in readings if len(reading) <= width]
    singles = {reading[:i] + reading[i + 1:] for reading in readings if len(reading) == width + 1
               for i in range(len(reading))}
    found: set[bytes] = set()
    sets = [{variant} for variant in singles]
    sets += [{first, second} for i, first in enumerate(pool) for second in pool[i:]]
    for together in sets:
        for partial in fold(together, size, width) or ():
            if None not in partial:
                found.add(bytes(b for b in partial if b is not None))
    return found


def outvotes(mine: frozenset[int], rival: frozenset[int]) -> bool:
    """A value beats a rival passing the same check only when 2 more readings explain it and not the rival than
    the other way round: readings both explain prove nothing between them, and a reordered pair of datagrams,
    or an inserted one where one was lost, can make a rival that two rounds' readings show."""
    return len(mine - rival) >= len(rival - mine) + 2


def covered(seq: int, check: int, size: int, width: int, readings: list[Reading], need: int) -> bytes | None:
    """Noisy air: the one value whose check passes, whose every byte ``need`` readings pin, and which outvotes
    every other value passing the check."""
    scored = {value: support(value, readings, width) for value in candidates(readings, size, width)
              if group_crc(seq, value) == check}
    # A duplicated datagram where another was lost makes a wrong value with two equal bytes side by side, and
    # the same accident twice makes it look read whole twice: such a value must be read whole once more.
    found = [value for value, (least, whole, majority, mine) in scored.items()
             if least >= need and whole >= need + any(a == b for a, b in pairwise(value)) and majority
             and all(outvotes(mine, other[3]) for rival, other in scored.items() if rival != value)]
    return found[0] if len(found) == 1 else None


__all__ = [
    "CLEAN",
    "LOSSY",
    "NOISY",
    "Partial",
    "Reading",
    "Shape",
    "candidates",
    "covered",
    "explain",
    "fits",
    "fold",
    "least_pinned",
    "outvotes",
    "place",
    "shape_of",
    "sole",
    "support",
]
