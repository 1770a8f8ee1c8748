"""BM25 between a query's names and each definition's own text (its code window)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from retrieval.parse import FileTags

if TYPE_CHECKING:
    from retrieval.index import RepoIndex

K1 = 1.2
B = 0.75
MAX_DF_SHARE = 0.05  # names in more than 5% of windows carry no signal and cost time


class Bm25Index:
    """name -> {path: [def index, ...]}, kept file by file."""

    def __init__(self) -> None:
        self.postings: dict[str, dict[str, list[int]]] = {}
        self.df: dict[str, int] = {}
        self.lengths: dict[str, list[int]] = {}
        self.docs = 0
        self.total_len = 0

    def add(self, path: str, tags: FileTags) -> None:
        lens = []
        for i, terms in enumerate(tags.def_terms):
            lens.append(len(terms))
            for t in terms:
                name = tags.names[t]
                m = self.postings.get(name)
                if m is None:
                    m = self.postings[name] = {}
                lst = m.get(path)
                if lst is None:
                    m[path] = [i]
                else:
                    lst.append(i)
                self.df[name] = self.df.get(name, 0) + 1
        self.lengths[path] = lens
        self.docs += len(lens)
        self.total_len += sum(lens)

    def remove(self, path: str, tags: FileTags) -> None:
        lens = self.lengths.pop(path, [])
        self.docs -= len(lens)
        self.total_len -= sum(lens)
        for name in tags.names:
            m = self.postings.get(name)
            if m is None:
                continue
            lst = m.pop(path, None)
            if lst:
                self.df[name] -= len(lst)


def _bm25(index: RepoIndex) -> Bm25Index:
    got = index.__dict__.get("_bm25")
    if got is None:
        got = Bm25Index()
        for p in index.paths():
            t = index.tags(p)
            if t is not None:
                got.add(p, t)
        index.__dict__["_bm25"] = got
    return got


def bm25_scores(
    index: RepoIndex, terms: dict[str, float], *, exclude: set[str], limit: int
) -> dict[tuple[str, int], float]:
    """The `limit` best definitions for the weighted query `terms`, scores scaled to [0, 1]."""
    bm = _bm25(index)
    if not bm.docs or not terms:
        return {}
    n = bm.docs
    avg = bm.total_len / n if n else 1.0
    max_df = max(50, int(n * MAX_DF_SHARE))
    acc: dict[tuple[str, int], float] = {}
    top_terms = sorted(terms.items(), key=lambda kv: -kv[1])[:40]
    for name, qw in top_terms:
        df = bm.df.get(name, 0)
        if df == 0 or df > max_df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        w = idf * min(qw, 3.0)
        for path, idxs in bm.postings[name].items():
            if path in exclude:
                continue
            lens = bm.lengths[path]
            for i in idxs:
                dl = lens[i]
                s = w * (K1 + 1) / (1 + K1 * (1 - B + B * dl / avg))
                key = (path, i)
                acc[key] = acc.get(key, 0.0) + s
    if not acc:
        return {}
    best = sorted(acc.items(), key=lambda kv: -kv[1])[:limit]
    top = best[0][1]
    return {k: v / top for k, v in best}
