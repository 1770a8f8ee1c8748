"""The def/ref file graph and personalized PageRank over it (truncated, local)."""

from __future__ import annotations

import functools
import heapq
import math

from retrieval.view import IndexView

ALPHA = 0.85  # probability of following an edge rather than jumping back to a seed
STEPS = 2  # terms of the power series kept: files further than 2 hops get nothing
KEEP = 24  # files kept after each step (the mass of the rest is small)


@functools.lru_cache(maxsize=1 << 16)
def _quality(name: str) -> float:
    """Aider's observation: long specific names link files; `_private` and tiny names less."""
    q = 1.0
    if len(name) >= 8 or ("_" in name.strip("_")) or (name[:1].islower() and name != name.lower()):
        q *= 3.0
    if name.startswith("_"):
        q *= 0.3
    if len(name) <= 2:
        q *= 0.2
    return q


def file_neighbors(index: IndexView, path: str) -> dict[str, float]:
    """Out-edges of `path`: files defining names it uses, weighted and normalized to sum 1."""
    cache = index.caches.neighbors
    got = cache.get(path)
    if got is not None:
        return got
    tags = index.tags(path)
    out: dict[str, float] = {}
    if tags is not None:
        own = set(tags.def_names)
        links = index.caches.links  # name -> (defining files, quality), filled on first use
        def_files = index.def_files
        sqrt = math.sqrt
        for name, count in zip(tags.names, tags.counts, strict=False):
            link = links.get(name)
            if link is None:
                files = def_files(name)
                link = links[name] = (files, _quality(name)) if 0 < len(files) <= 25 else ()
            if not link or name in own:
                continue
            files, quality = link
            w = sqrt(count) * quality / len(files)
            for f in files:
                if f != path:
                    out[f] = out.get(f, 0.0) + w
    total = sum(out.values())
    if total:
        out = {f: w / total for f, w in out.items()}
    cache[path] = out
    return out


def personalized_pagerank(index: IndexView, seeds: dict[str, float]) -> dict[str, float]:
    """PPR(seeds) ~ (1-a) * sum_k (a P)^k s, truncated at STEPS and pruned to KEEP files.

    Remembered per seeds until the graph changes (the index drops index.caches.pagerank on
    any edit or refresh), so queries on new lines of an unchanged file skip it.
    """
    key = tuple(seeds.items())
    got = index.caches.pagerank.get(key)
    if got is None:
        got = _pagerank(index, seeds)
        index.caches.remember_pagerank(key, got)
    return dict(got)


def _pagerank(index: IndexView, seeds: dict[str, float]) -> dict[str, float]:
    total = sum(seeds.values()) or 1.0
    frontier = {f: w / total for f, w in seeds.items()}
    rank: dict[str, float] = {}
    for f, w in frontier.items():
        rank[f] = rank.get(f, 0.0) + (1 - ALPHA) * w
    for _ in range(STEPS):
        nxt: dict[str, float] = {}
        for f, w in frontier.items():
            for g, e in file_neighbors(index, f).items():
                nxt[g] = nxt.get(g, 0.0) + ALPHA * w * e
        if not nxt:
            break
        frontier = dict(heapq.nlargest(KEEP, nxt.items(), key=lambda kv: kv[1]))
        for f, w in frontier.items():
            rank[f] = rank.get(f, 0.0) + (1 - ALPHA) * w
    return rank
