"""BM25 between the names near a query and each definition's own text (its code window).

Windows are definitions (a function, a method, a class header with its attributes), so a
hit is a unit the packer can show whole. Only the candidate files (those the other signals
surfaced) are scored: a global posting list over every definition costs seconds to build at
start-up and tens of milliseconds a query on a large repository. Document frequencies are
per file, over the whole repository (kept up to date by the index).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from retrieval.tags import FileTags, name_index
from retrieval.view import IndexView

K1 = 1.2
B = 0.75
MAX_DF_SHARE = 0.2  # names in more than a fifth of the files carry little signal


def postings(tags: FileTags) -> tuple[dict[int, list[int]], list[float]]:
    """Per file, kept on its tags: term index -> definitions using it, each one's BM25 norm."""
    got = tags.postings
    if got is None:
        all_terms = tags.def_terms
        avg = sum(len(t) for t in all_terms) / len(all_terms) or 1.0
        by_term: dict[int, list[int]] = {}
        for i, def_terms in enumerate(all_terms):
            for t in def_terms:
                lst = by_term.get(t)
                if lst is None:
                    by_term[t] = [i]
                else:
                    lst.append(i)
        norms = [(K1 + 1) / (1 + K1 * (1 - B + B * len(t) / avg)) for t in all_terms]
        got = tags.postings = (by_term, norms)
    return got


def bm25_scores(
    index: IndexView,
    terms: dict[str, float],
    files: Iterable[str],
    *,
    exclude: set[str],
    limit: int,
) -> dict[tuple[str, int], float]:
    """The `limit` best definitions of `files` for the weighted query `terms`, scaled to [0, 1]."""
    n_files = max(index.file_count(), 1)
    max_df = max(20, int(n_files * MAX_DF_SHARE))
    weights: dict[str, float] = {}
    for name, qw in sorted(terms.items(), key=lambda kv: -kv[1])[:40]:
        df = index.doc_freq(name)
        if 0 < df <= max_df:
            weights[name] = math.log(1 + (n_files - df + 0.5) / (df + 0.5)) * min(qw, 3.0)
    if not weights:
        return {}
    acc: dict[tuple[str, int], float] = {}
    for path in files:
        if path in exclude:
            continue
        tags = index.tags(path)
        if tags is None or not tags.defs:
            continue
        names = name_index(tags)
        wanted = sorted((names[t], w) for t, w in weights.items() if t in names)
        if not wanted:
            continue
        by_term, norms = postings(tags)
        sums: dict[int, float] = {}
        for k, w in wanted:  # ascending term index: the order each definition lists them
            for i in by_term.get(k, ()):
                sums[i] = sums.get(i, 0.0) + w
        for i in sorted(sums):  # in definition order, as ties are broken by it
            acc[(path, i)] = sums[i] * norms[i]
    if not acc:
        return {}
    best = sorted(acc.items(), key=lambda kv: -kv[1])[:limit]
    top = best[0][1]
    return {k: v / top for k, v in best}
