"""Bookkeeping for decoders that listen on a noisy medium: tallies of candidate values, and a search over them.

Used by the EZ receiver (:mod:`harness.protocol.smartconfig`): a slot (a broadcast group, a multicast
sequence number) may see several values, the real one repeated round after round and the odd corrupted or
unrelated one; the decoder keeps them all, bounded, and lets a check (a CRC) choose.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Votes(Generic[K]):
    """A bounded tally: counts per value and first-seen order, ranked most votes first, oldest first on ties."""

    __slots__ = ("_cap", "_counts", "_next", "_order")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._counts: dict[K, int] = {}
        self._order: dict[K, int] = {}
        self._next = 0

    def add(self, key: K) -> bool:
        """Count one sighting; True when the ranking changed (a new value, or one overtook another)."""
        old = self._counts.get(key)
        if old is None:
            if len(self._counts) >= self._cap:
                # Under a flood, drop the value with fewest votes that had longest to gather more.
                weakest = min(self._counts, key=lambda k: (self._counts[k], self._order[k]))
                del self._counts[weakest], self._order[weakest]
            self._counts[key] = 1
            self._order[key] = self._next
            self._next += 1
            return True
        self._counts[key] = old + 1
        mine = self._order[key]
        return any(
            (count == old and self._order[k] < mine) or (count == old + 1 and self._order[k] > mine)
            for k, count in self._counts.items()
            if k != key
        )

    def ranked(self) -> list[K]:
        return sorted(self._counts, key=lambda k: (-self._counts[k], self._order[k]))

    def winner(self, min_votes: int, accept: Callable[[K], bool] = lambda key: True) -> K | None:
        """The unique most-voted value (among those ``accept`` allows) with at least ``min_votes`` votes."""
        best: K | None = None
        best_count = tied = 0
        for key, count in self._counts.items():
            if not accept(key):
                continue
            if count > best_count:
                best, best_count, tied = key, count, 0
            elif count == best_count:
                tied += 1
        return best if best_count >= min_votes and not tied else None




def best_first(choices: list[list[tuple[int, int]]]) -> Iterable[list[tuple[int, int]]]:
    """Combinations of one candidate per position, fewest demotions from the top-ranked first.

    A combination is the sparse, ordered tuple of its demotions ``(variable position, rank)``. Each has exactly
    one parent (drop the last demotion's rank by one, or move it back one position, or remove it), so a heap
    walks them in order of total rank without a visited set and with at most three children per step.
    """
    variable = [i for i, options in enumerate(choices) if len(options) > 1]
    heap: list[tuple[int, tuple[tuple[int, int], ...]]] = [(0, ())]
    while heap:
        cost, demotions = heapq.heappop(heap)
        combo = [options[0] for options in choices]
        for slot, rank in demotions:
            combo[variable[slot]] = choices[variable[slot]][rank]
        yield combo
        slot, rank = demotions[-1] if demotions else (-1, 1)
        if slot + 1 < len(variable):
            heapq.heappush(heap, (cost + 1, (*demotions, (slot + 1, 1))))  # demote one more position
            if demotions and rank == 1:
                heapq.heappush(heap, (cost, (*demotions[:-1], (slot + 1, 1))))  # move the last demotion on
        if demotions and rank + 1 < len(choices[variable[slot]]):
            heapq.heappush(heap, (cost + 1, (*demotions[:-1], (slot, rank + 1))))  # demote it further


__all__ = ["Votes", "best_first"]
