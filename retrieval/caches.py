"""Data that ranking and packing derive from the index and keep between queries.

Every such cache is a field here, and the index drops what an edit makes stale in one
place (`TagIndex._invalidate`, through `forget_file` / `forget_names` / `clear`). Per-file
data that depends on a file's content alone lives on its `FileTags` instead (a new version of
a file is a new `FileTags`, so it never goes stale).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_PAGERANK_MEMO = 64  # seeds sets remembered (one per current file and its neighbours)
MAX_TOKEN_COUNTERS = 2  # token-count tables kept (a model tokenizer and the estimator)
MAX_SPANS_PER_COUNTER = 200_000
MAX_SEGMENTS = 20_000  # rendered outline segments kept (keys carry the file's version)


_LAST_WORD = re.compile(r"[A-Z][a-z0-9]+$")


def add_type_names(table: dict[str, set[str]], names: Iterable[str]) -> None:
    """File capitalized names under their last CamelCase word."""
    for name in names:
        if name[:1].isupper():
            m = _LAST_WORD.search(name)
            if m:
                table.setdefault(m.group(0), set()).add(name)


@dataclass
class RankCaches:
    """What ranking and packing remember between queries."""

    # file -> its out-edges in the def/ref graph (weights sum to 1)
    neighbors: dict[str, dict[str, float]] = field(default_factory=dict)
    # name -> (defining files, name quality), or () for names that link no files
    links: dict[str, tuple] = field(default_factory=dict)
    # seeds (a tuple of (file, weight)) -> PageRank, valid while the graph does not change
    pagerank: dict[tuple, dict[str, float]] = field(default_factory=dict)
    # counter -> {(path, version, start, end): [length, blank, tokens or None]}
    spans: OrderedDict[Callable[[str], int], dict] = field(default_factory=OrderedDict)
    # (path, version, segment, expanded, detail) -> rendered outline segment
    segments: OrderedDict[tuple, object] = field(default_factory=OrderedDict)
    # last CamelCase word -> capitalized defined names ending with it ("Request" ->
    # HttpRequest, ...); built on first use, names only added (lookups check they exist)
    type_suffixes: dict[str, set[str]] | None = None

    def forget_file(self, path: str) -> None:
        """One file's tags changed: its out-edges and every PageRank are stale."""
        self.neighbors.pop(path, None)
        self.pagerank.clear()

    def forget_names(self, names: list[str]) -> None:
        """These names' definitions changed: the graph edges they make are stale."""
        for name in names:
            self.links.pop(name, None)
        if self.type_suffixes is not None:
            add_type_names(self.type_suffixes, names)

    def clear(self) -> None:
        """Everything is stale (a refresh from disk)."""
        self.neighbors.clear()
        self.links.clear()
        self.pagerank.clear()
        self.type_suffixes = None

    def span_table(self, count: Callable[[str], int]) -> dict:
        """The token-count table for one counter (the two most recent counters are kept)."""
        got = self.spans.get(count)
        if got is None:
            got = self.spans[count] = {}
            while len(self.spans) > MAX_TOKEN_COUNTERS:
                self.spans.popitem(last=False)
        else:
            self.spans.move_to_end(count)
            if len(got) > MAX_SPANS_PER_COUNTER:
                got.clear()
        return got

    def remember_segment(self, key: tuple, rendered: object) -> None:
        """Keep a rendered outline segment (bounded, oldest out first)."""
        self.segments[key] = rendered
        if len(self.segments) > MAX_SEGMENTS:
            self.segments.popitem(last=False)

    def remember_pagerank(self, seeds: tuple, ranks: dict[str, float]) -> None:
        """Keep a PageRank result (bounded)."""
        if len(self.pagerank) >= MAX_PAGERANK_MEMO:
            self.pagerank.clear()
        self.pagerank[seeds] = ranks
