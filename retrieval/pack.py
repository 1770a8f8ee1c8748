"""Packing ranked definitions into an exact token budget.

Signatures are cheap and bodies expensive, so a small budget gets many headers and a few
whole definitions; a large one gets bodies for most of what ranked, then whole files. A
definition is either whole or absent (a header item is labelled "signature", never passed
off as the definition). `used` is the sum of count_tokens(item.text), never above budget.
"""

from __future__ import annotations

from collections.abc import Callable

from retrieval.model import ContextItem, PackedContext
from retrieval.scores import Ranked
from retrieval.tags import CONTAINER_KINDS
from retrieval.view import IndexView

MAX_CANDIDATES = 4000


def _body_share(budget: int) -> float:
    """Part of the budget kept for bodies once headers are in."""
    if budget <= 2048:
        return 0.35
    if budget <= 8192:
        return 0.5
    return 0.65


class _Packer:
    def __init__(self, index: IndexView, budget: int, count: Callable[[str], int], explain: bool):
        self.index = index
        self.budget = budget
        self.count = count
        self.explain = explain
        self.used = 0
        self.items: dict[tuple[str, int, int], ContextItem] = {}
        self.by_file: dict[str, list[tuple[int, int]]] = {}
        self.cache = index.caches.span_table(count)
        self.versions: dict[str, object] = {}

    def covered(self, path: str, start: int, end: int) -> bool:
        for s, e in self.by_file.get(path, ()):  # noqa: SIM110 (a loop is faster than any())
            if s <= start and end <= e:
                return True
        return False

    def text(self, path: str, start: int, end: int) -> str:
        return "\n".join(self.index.lines(path)[start - 1 : end])

    def span(self, path: str, start: int, end: int) -> list:
        """[length, blank, tokens or None] of a span, remembered per (file version, span).

        Tokens are counted on first need only; the text is rebuilt only when it is needed.
        """
        version = self.versions.get(path)
        if version is None:
            version = self.versions[path] = self.index.version(path)
        key = (path, version, start, end)
        cache = self.cache
        got = cache.get(key)
        if got is None:
            text = self.text(path, start, end)
            got = cache[key] = [len(text), not text.strip(), None]
        return got

    def span_tokens(self, path: str, start: int, end: int) -> int:
        """count(text of the span), remembered across queries."""
        got = self.span(path, start, end)
        if got[2] is None:
            got[2] = self.count(self.text(path, start, end))
        return got[2]

    def add(
        self, path: str, start: int, end: int, kind: str, score: float, reason: str, limit: int
    ) -> bool:
        """Add a span unless it is already covered or does not fit under `limit` tokens used."""
        if self.covered(path, start, end):
            return True
        length, blank, tokens = self.span(path, start, end)
        if blank:
            return False
        if length > 16 * max(limit - self.used, 0) + 64:
            return False  # far too long for what is left under any code tokenizer: skip counting
        # items this span swallows give their tokens back
        inner = [(path, s, e) for s, e in self.by_file.get(path, ()) if start <= s and e <= end]
        refund = sum(self.items[k].tokens for k in inner)
        if tokens is None:
            tokens = self.span_tokens(path, start, end)
        if self.used - refund + tokens > limit:
            return False
        for k in inner:
            del self.items[k]
            self.by_file[path].remove((k[1], k[2]))
        self.used += tokens - refund
        text = self.text(path, start, end)
        self.items[(path, start, end)] = ContextItem(
            path, start, end, tokens, kind, round(score, 4), text, reason if self.explain else ""
        )
        self.by_file.setdefault(path, []).append((start, end))
        return True


def pack(
    index: IndexView,
    ranked: list[Ranked],
    budget: int,
    count_tokens: Callable[[str], int],
    *,
    exclude: dict[str, list[tuple[int, int]]] | None = None,
    explain: bool = False,
) -> PackedContext:
    """Fit the best of `ranked` into `budget` tokens as labelled items."""
    budget = max(int(budget), 0)
    p = _Packer(index, budget, count_tokens, explain)
    cands = ranked[:MAX_CANDIDATES]
    header_limit = int(budget * (1 - _body_share(budget)))

    def reason(r: Ranked, what: str) -> str:
        return f"{what}: " + "; ".join(r.reasons) if explain else ""

    # how much more than its header a short definition may cost to be taken whole
    slack = (1.0, 0) if budget <= 2048 else (2.0, 24)

    span_tokens = p.span_tokens

    def enclosing_header(r: Ranked, parent: int, limit: int) -> None:
        """A member's class header goes first: the member reads wrong without it."""
        pd = index.tags(r.path).defs[parent]
        if pd.kind in CONTAINER_KINDS and not p.covered(r.path, pd.start, pd.sig_end):
            p.add(r.path, pd.start, pd.sig_end, "signature", r.score, reason(r, "enclosing"), limit)

    def header(r: Ranked, limit: int) -> bool:
        _name, _kind, start, end, sig_end, _col, parent = index.tags(r.path).defs[r.index]
        if parent >= 0:
            enclosing_header(r, parent, limit)
        if end > sig_end and end - start <= 12 and not p.covered(r.path, start, end):
            # a short definition costs little more than its header: take it whole
            whole = span_tokens(r.path, start, end)
            if whole <= slack[0] * span_tokens(r.path, start, sig_end) + slack[1] and p.add(
                r.path, start, end, "definition", r.score, reason(r, "definition"), limit
            ):
                return True
        return p.add(r.path, start, sig_end, "signature", r.score, reason(r, "header"), limit)

    def body(r: Ranked, limit: int) -> bool:
        _name, kind, start, end, _sig_end, _col, parent = index.tags(r.path).defs[r.index]
        if (
            kind in CONTAINER_KINDS
            and end - start > 40
            and (budget < 8192 or span_tokens(r.path, start, end) > budget // 5)
        ):
            return False  # big classes: their members' headers say more per token
        if parent >= 0:
            enclosing_header(r, parent, limit)
        return p.add(r.path, start, end, "definition", r.score, reason(r, "definition"), limit)

    # 1. definitions the query insists on (around review changes), then headers of the best
    for r in cands:
        if r.body:
            body(r, budget)
    misses = 0  # in a row: once this many headers in a row do not fit, the rest rarely do
    for r in cands:
        if p.used >= header_limit or misses > 60:
            break
        misses = 0 if header(r, header_limit) else misses + 1
    # 2. bodies for the best-ranked, in rank order, while they fit
    misses = 0
    for r in cands:
        if p.used >= budget or misses > 60:
            break
        if not body(r, budget):
            misses += 1
    # 3. leftover budget: more headers, then whole files of the best-ranked files
    misses = 0
    for r in cands:
        if p.used >= budget or misses > 60:
            break
        if not header(r, budget):
            misses += 1
    if budget - p.used > budget * 0.25:
        file_score: dict[str, float] = {}
        file_best: dict[str, Ranked] = {}
        for r in cands:
            file_score[r.path] = file_score.get(r.path, 0.0) + r.score
            file_best.setdefault(r.path, r)
        for path, s in sorted(file_score.items(), key=lambda kv: -kv[1]):
            if budget - p.used < budget * 0.1:
                break
            if path in (exclude or {}):
                continue
            n = len(index.lines(path))
            if n:
                p.add(
                    path,
                    1,
                    n,
                    "file",
                    s,
                    reason(file_best[path], "whole file (budget left over)"),
                    budget,
                )

    items = list(p.items.values())
    best: dict[str, float] = {}
    for it in items:
        best[it.path] = max(best.get(it.path, 0.0), it.score)
    items.sort(key=lambda it: (-best[it.path], it.path, it.start_line))
    omitted = []
    for r in cands[:400]:
        d = index.tags(r.path).defs[r.index]
        if not p.covered(r.path, d.start, d.sig_end):
            omitted.append(f"{r.path}:{d.start}-{d.end}")
        if len(omitted) >= 50:
            break
    assert p.used <= budget
    return PackedContext(budget=budget, used=p.used, items=items, omitted=omitted)
