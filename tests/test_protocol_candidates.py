"""The candidate tallies and the best-first search the EZ receiver is built on."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.protocol._candidates import Votes, best_first


def test_votes_rank_by_count_then_age_and_report_ranking_changes() -> None:
    votes: Votes[str] = Votes(cap=3)
    assert votes.add("a") and votes.add("b")
    assert votes.ranked() == ["a", "b"]
    assert votes.add("b")  # b overtakes a
    assert votes.ranked() == ["b", "a"]
    assert not votes.add("b")  # already on top
    assert votes.winner(1) == "b" and votes.winner(4) is None
    assert votes.add("a") is False and votes.winner(1) == "b"
    assert votes.add("a") and votes.winner(1) is None  # 3 to 3: a tie has no winner
    assert votes.winner(1, accept=lambda key: key == "a") == "a"
    votes.add("c")
    votes.add("d")  # over the cap: the weakest, c, goes
    assert votes.ranked() == ["a", "b", "d"]  # a and b tie, a is older


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=6))
def test_best_first_visits_every_combination_once_in_order_of_demotions(sizes: list[int]) -> None:
    choices = [[(position, rank) for rank in range(size)] for position, size in enumerate(sizes)]
    seen = [tuple(combo) for combo in best_first(choices)]
    assert sorted(seen) == sorted(itertools.product(*choices))
    costs = [sum(rank for _, rank in combo) for combo in seen]
    assert costs == sorted(costs)
