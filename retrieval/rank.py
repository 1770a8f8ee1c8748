"""Ranking: which definitions matter for a query (a cursor position or a set of changes).

Each signal is one function in `signals.py`, adding to a shared `Scores` with weights named
in `Weights`; an item's reasons (--explain) say which signals chose it.
"""

from __future__ import annotations

from retrieval import signals
from retrieval.query import Query
from retrieval.resolve import NameResolver
from retrieval.scores import Ranked, Scores
from retrieval.view import IndexView


def rank_definitions(
    index: IndexView,
    q: Query,
    *,
    explain: bool = False,
    weights: signals.Weights = signals.WEIGHTS,
) -> list[Ranked]:
    """Definitions ranked for query `q`, best first (files in q.exclude left out)."""
    scores = Scores(set(q.exclude), explain)
    resolver = NameResolver(index, q.path)
    # after `x.` the next name is a member of x's class: the rest is background
    others = weights.member_access_others if q.receiver_classes else 1.0
    signals.changed_code(q, scores)
    scores.factor = others
    signals.names_near_cursor(index, q, resolver, scores, weights)
    scores.factor = 1.0
    signals.receiver_members(index, q, resolver, scores, weights)
    scores.factor = others
    signals.imported_definitions(index, q, resolver, scores, weights)
    ranks = signals.pagerank_neighbours(index, q, scores, weights)
    signals.lexical_matches(index, q, resolver, ranks, scores, weights)
    scores.factor = 1.0
    signals.test_files_last(q, scores, weights)
    return scores.ranked()


__all__ = ["Query", "Ranked", "Scores", "rank_definitions"]
