"""Packing ranked definitions into an exact token budget.

Signatures are cheap and bodies expensive, so a small budget gets many headers and a few
whole definitions; a large one gets bodies for most of what ranked, then whole files. A
definition is either whole or absent (a header item is labelled "signature", never passed
off as the definition). Classes the cursor's receiver may hold come as outlines (header
and members' signatures, bodies elided: retrieval/outline.py), and at large budgets (8K to
32K) the outlines of the best files come before the bodies of lower-ranked definitions;
above that, the best files fit whole. A body
asked for inside an outline is shown in place (the outline expands). `used` is the sum of
count_tokens(item.text), never above budget.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.callers import Caller
from retrieval.model import ContextItem, PackedContext
from retrieval.outline import (
    FULL,
    NAMES,
    SIGNATURES,
    OutlineText,
    Segment,
    join,
    render_segment,
    segments,
    subtree,
)
from retrieval.scores import Ranked
from retrieval.tags import CONTAINER_KINDS
from retrieval.tokens import estimate_tokens
from retrieval.view import IndexView

MAX_CANDIDATES = 4000
CALLER_SHARE = 0.4  # callers of changed code may fill this part of the budget
RECEIVER_OUTLINE_SHARE = 0.6  # receivers' class outlines may fill this part of the budget
SURE_RECEIVER_OUTLINE_SHARE = 0.85  # ... or this, when the receiver's class is known for sure
RECEIVER_OUTLINES = 6  # at most this many classes (the receiver's and its bases)
LARGE_BUDGET = 8192  # from here on, outlines of the best files come before most bodies
HUGE_BUDGET = 32768  # from here on, the best files fit whole: no file outlines
TOP_BODIES = 6  # bodies of the best definitions still come before file outlines
FILE_OUTLINE_SHARE = 0.75  # file outlines fill the budget up to this part
FILE_OUTLINES = 8


def _body_share(budget: int) -> float:
    """Part of the budget kept for bodies once headers are in."""
    if budget <= 2048:
        return 0.35
    if budget <= 8192:
        return 0.5
    return 0.65


@dataclass
class _Outline:
    """An outline in the pack: of definition `root` (None: the file's top level).

    Kept as segments (outline.segments) so that showing a body inside it redoes one
    segment; its text is joined, and counted exactly, when the pack is done.
    """

    path: str
    root: int | None
    start: int
    end: int
    defs: range  # the definitions inside it
    expanded: frozenset[int]
    detail: int  # outline.FULL, SIGNATURES or NAMES
    segments: list[Segment]
    segment_of: dict[int, int]  # definition -> the segment showing it
    parts: list[OutlineText]
    part_tokens: list[int]
    tokens: int  # the parts' tokens and the newlines joining them
    bounds: list[int]  # the first line of each segment's region, ascending
    by_span: dict[tuple[int, int], int]  # (start, end) -> the definition with that span
    score: float
    reason: str


class _Packer:
    def __init__(self, index: IndexView, budget: int, count: Callable[[str], int], explain: bool):
        self.index = index
        self.budget = budget
        self.count = count
        self.explain = explain
        self.used = 0
        self.items: dict[tuple[str, int, int], ContextItem] = {}
        # spans shown, per file, sorted; never one inside another (a span swallows those
        # inside it, and one inside a span is never added), so the one that could hold a
        # span is the last that starts at or before it
        self.by_file: dict[str, list[tuple[int, int]]] = {}
        self.outlines: dict[str, list[_Outline]] = {}
        self.cache = index.caches.span_table(count)
        self.versions: dict[str, object] = {}
        self.subtrees: dict[tuple[str, int | None], range] = {}
        self.newline = count("\n")
        self.rendered = index.caches.segments

    # ---- what is in ----------------------------------------------------------------------

    def covered(self, path: str, start: int, end: int) -> bool:
        """Lines start..end are shown already (by a span, or by an outline's shown lines)."""
        spans = self.by_file.get(path)
        if spans:
            i = bisect_right(spans, (start, 1 << 62)) - 1
            if i >= 0 and spans[i][1] >= end:
                return True
        outlines = self.outlines.get(path)
        for o in outlines or ():
            if o.start <= start and end <= o.end:
                i = bisect_right(o.bounds, start) - 1
                for s, e in o.parts[i].shown if i >= 0 else ():
                    if s <= start and end <= e:
                        return True
        return False

    def _outline_over(self, path: str, start: int, end: int) -> _Outline | None:
        for o in self.outlines.get(path, ()):
            if o.start <= start and end <= o.end:
                return o
        return None

    # ---- token counts --------------------------------------------------------------------

    def version(self, path: str) -> object:
        version = self.versions.get(path)
        if version is None:
            version = self.versions[path] = self.index.version(path)
        return version

    def text(self, path: str, start: int, end: int) -> str:
        return "\n".join(self.index.lines(path)[start - 1 : end])

    def span(self, path: str, start: int, end: int) -> list:
        """[length, blank, tokens or None] of a span, remembered per (file version, span).

        Tokens are counted on first need only; the text is rebuilt only when it is needed.
        """
        key = (path, self.version(path), start, end)
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

    def subtree(self, path: str, root: int | None) -> range:
        key = (path, root)
        got = self.subtrees.get(key)
        if got is None:
            got = self.subtrees[key] = subtree(self.index.tags(path), root)
        return got

    def _segment_key(
        self, path: str, segment: Segment, expanded: frozenset[int], detail: int
    ) -> tuple:
        if segment[0] == "member" and expanded:
            inside = self.subtree(path, segment[1])
            expanded = frozenset(j for j in expanded if j in inside)
        else:
            expanded = frozenset()
        return ("segment", path, self.version(path), segment, expanded, detail)

    def segment(
        self, path: str, segment: Segment, expanded: frozenset[int], detail: int
    ) -> tuple[OutlineText, int]:
        """One outline segment and its token count (counts remembered across queries)."""
        key = self._segment_key(path, segment, expanded, detail)
        rendered = self.rendered.get(key)
        if rendered is None:
            rendered = render_segment(
                self.index.tags(path), self.index.lines(path), segment, key[4], detail
            )
            self.index.caches.remember_segment(key, rendered)
        got = self.cache.get(key)
        if got is None:
            got = self.cache[key] = [len(rendered.text), False, self.count(rendered.text)]
        return rendered, got[2]

    def segment_tokens(
        self, path: str, segment: Segment, expanded: frozenset[int], detail: int
    ) -> tuple[int, bool]:
        """(tokens, shows anything) of a segment: rendered only when not counted before."""
        got = self.cache.get(self._segment_key(path, segment, expanded, detail))
        if got is None:
            rendered, tokens = self.segment(path, segment, expanded, detail)
            return tokens, bool(rendered.shown or rendered.text)
        return got[2], got[0] > 0

    def outline_cost(self, path: str, root: int | None, detail: int) -> int:
        """Tokens of an outline with nothing expanded (counts remembered across queries)."""
        tags = self.index.tags(path)
        if tags is None:
            return 0
        counts = [
            self.segment_tokens(path, seg, frozenset(), detail)
            for seg in segments(tags, self.index.lines(path), root)
        ]
        pieces = sum(1 for _t, shows in counts if shows)
        return sum(t for t, _shows in counts) + self.newline * max(pieces - 1, 0)

    def joined_tokens(self, parts: list[OutlineText], tokens: list[int]) -> int:
        """Tokens of the parts joined by newlines (exact for the estimator; the pack
        recounts the joined text at the end for other counters)."""
        pieces = sum(1 for p in parts if p.shown or p.text)
        return sum(tokens) + self.newline * max(pieces - 1, 0)

    # ---- adding --------------------------------------------------------------------------

    def _inside(self, path: str, start: int, end: int) -> list[tuple[int, int]]:
        """The spans of path that lie within start..end."""
        spans = self.by_file.get(path)
        if not spans:
            return []
        out = []
        for i in range(bisect_left(spans, (start, 0)), len(spans)):
            s, e = spans[i]
            if s > end:
                break
            if e <= end:
                out.append((s, e))
        return out

    def _drop(self, path: str, start: int, end: int) -> None:
        del self.items[(path, start, end)]
        self.by_file[path].remove((start, end))

    def add(
        self, path: str, start: int, end: int, kind: str, score: float, reason: str, limit: int
    ) -> bool:
        """Add a span unless it is already covered or does not fit under `limit` tokens used."""
        if self.covered(path, start, end):
            return True
        over = self._outline_over(path, start, end)
        if over is not None and not (start <= over.start and over.end <= end):
            return self._expand(over, start, end, limit)  # a body inside an outline
        length, blank, tokens = self.span(path, start, end)
        if blank:
            return False
        if length > 16 * max(limit - self.used, 0) + 64:
            return False  # far too long for what is left under any code tokenizer: skip counting
        # items this span swallows give their tokens back
        inner = self._inside(path, start, end)
        inner_outlines = [
            o for o in self.outlines.get(path, ()) if start <= o.start and o.end <= end
        ]
        refund = sum(self.items[(path, s, e)].tokens for s, e in inner)
        refund += sum(o.tokens for o in inner_outlines)
        if tokens is None:
            tokens = self.span_tokens(path, start, end)
        if self.used - refund + tokens > limit:
            return False
        for s, e in inner:
            self._drop(path, s, e)
        for o in inner_outlines:
            self.outlines[path].remove(o)
        self.used += tokens - refund
        text = self.text(path, start, end)
        self.items[(path, start, end)] = ContextItem(
            path, start, end, tokens, kind, round(score, 4), text, reason if self.explain else ""
        )
        insort(self.by_file.setdefault(path, []), (start, end))
        return True

    def _expand(self, o: _Outline, start: int, end: int, limit: int) -> bool:
        """Show a whole definition inside an outline (no other span fits inside one)."""
        member = o.by_span.get((start, end))
        if member is None or member not in o.segment_of:
            return False
        d = self.index.tags(o.path).defs[member]
        # the body adds at least its lines past the header: skip rendering what cannot fit
        if self.span_tokens(o.path, start, end) - self.span_tokens(o.path, start, d.sig_end) > (
            2 * (limit - self.used) + 16
        ):
            return False
        i = o.segment_of[member]
        expanded = o.expanded | {member}
        part, tokens = self.segment(o.path, o.segments[i], expanded, o.detail)
        parts = o.parts[:i] + [part] + o.parts[i + 1 :]
        part_tokens = o.part_tokens[:i] + [tokens] + o.part_tokens[i + 1 :]
        total = self.joined_tokens(parts, part_tokens)
        if self.used - o.tokens + total > limit:
            return False
        self.used += total - o.tokens
        o.expanded, o.parts, o.part_tokens, o.tokens = expanded, parts, part_tokens, total
        return True

    def add_outline(
        self,
        path: str,
        root: int | None,
        score: float,
        reason: str,
        limit: int,
        least_detail: int = NAMES,
        most_detail: int = FULL,
    ) -> bool:
        """Add the outline of definition `root` of `path` (None: of the whole file), at the
        most detail that fits (between least_detail and most_detail)."""
        tags = self.index.tags(path)
        lines = self.index.lines(path)
        if tags is None or not lines:
            return False
        if root is None:
            start, end = 1, len(lines)
        else:
            d = tags.defs[root]
            start, end = d.start, min(d.end, len(lines))
        for s, e in self.by_file.get(path, ()):
            if s <= start and end <= e:
                return True  # shown whole already
        if self._outline_over(path, start, end) is not None:
            return True
        inside = self.subtree(path, root)
        spans = {(tags.defs[k].start, tags.defs[k].end): k for k in inside}
        inner = self._inside(path, start, end)
        inner_outlines = [
            o for o in self.outlines.get(path, ()) if start <= o.start and o.end <= end
        ]
        expanded = frozenset(spans[x] for x in inner if x in spans and spans[x] != root)
        for o in inner_outlines:
            expanded |= o.expanded
        refund = sum(self.items[(path, s, e)].tokens for s, e in inner)
        refund += sum(o.tokens for o in inner_outlines)
        segs = segments(tags, lines, root)
        room = limit - self.used + refund
        if len(segs) * self.newline > room:
            return False  # not even a line per member fits
        for detail in range(most_detail, least_detail - 1, -1):
            counts = [self.segment_tokens(path, seg, expanded, detail) for seg in segs]
            pieces = sum(1 for _t, shows in counts if shows)
            total = sum(t for t, _shows in counts) + self.newline * max(pieces - 1, 0)
            if total <= room:
                break
        else:
            return False
        rendered = [self.segment(path, seg, expanded, detail) for seg in segs]
        parts = [r[0] for r in rendered]
        part_tokens = [r[1] for r in rendered]
        total = self.joined_tokens(parts, part_tokens)
        for s, e in inner:
            self._drop(path, s, e)
        for o in inner_outlines:
            self.outlines[path].remove(o)
        self.used += total - refund
        segment_of: dict[int, int] = {}
        bounds: list[int] = []
        for i, (what, k) in enumerate(segs):
            d = tags.defs[k]
            bounds.append(d.end if what == "tail" else d.start)
            if what == "member":
                for j in self.subtree(path, k):
                    segment_of[j] = i
        self.outlines.setdefault(path, []).append(
            _Outline(
                path,
                root,
                start,
                end,
                inside,
                expanded,
                detail,
                segs,
                segment_of,
                parts,
                part_tokens,
                total,
                bounds,
                {span: k for span, k in spans.items() if k != root},
                score,
                reason if self.explain else "",
            )
        )
        return True

    def all_items(self) -> list[ContextItem]:
        """Every item; outlines joined and counted exactly (a tokenizer that merges across
        lines may count a little more than their parts: the lowest-scored items then go)."""
        items = list(self.items.values())
        for outlines in self.outlines.values():
            for o in outlines:
                whole = join(o.parts)
                # the estimator counts lines apart, so the parts' sum is exact for it
                tokens = o.tokens if self.count is estimate_tokens else self.count(whole.text)
                self.used += tokens - o.tokens
                o.tokens = tokens
                items.append(
                    ContextItem(
                        o.path,
                        o.start,
                        o.end,
                        tokens,
                        "outline",
                        round(o.score, 4),
                        whole.text,
                        o.reason,
                        shown=whole.shown,
                    )  # fmt: skip
                )
        while self.used > self.budget and items:
            worst = min(items, key=lambda it: (it.kind == "caller", it.score))
            items.remove(worst)
            self.used -= worst.tokens
        return items


def pack(
    index: IndexView,
    ranked: list[Ranked],
    budget: int,
    count_tokens: Callable[[str], int],
    *,
    exclude: dict[str, list[tuple[int, int]]] | None = None,
    explain: bool = False,
    callers: Sequence[Caller] = (),
    sure_receiver: bool = False,
) -> PackedContext:
    """Fit the best of `ranked` into `budget` tokens as labelled items.

    sure_receiver: the receiver's class is declared (not guessed), so its outline may take
    most of the budget.

    callers (of changed code) come first, as items of kind "caller", within CALLER_SHARE of
    the budget; they are listed first too.
    """
    budget = max(int(budget), 0)
    p = _Packer(index, budget, count_tokens, explain)
    left_out: list[str] = []
    top = ranked[0].score if ranked else 1.0
    for c in callers:
        why = f"uses {c.name} (changed in {c.changed_path})"
        p.explain = True  # a caller always says whom it calls
        if not p.add(
            c.path, c.start_line, c.end_line, "caller", top, why, int(budget * CALLER_SHARE)
        ):
            left_out.append(f"{c.path}:{c.start_line}-{c.end_line}")
        p.explain = explain
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
        if p.covered(r.path, start, sig_end):
            return True
        if parent >= 0:
            enclosing_header(r, parent, limit)
        if end > sig_end and end - start <= 12 and not p.covered(r.path, start, end):
            # a short definition costs little more than its header: take it whole
            whole = span_tokens(r.path, start, end)
            if whole <= slack[0] * span_tokens(r.path, start, sig_end) + slack[1] and p.add(
                r.path, start, end, "definition", r.score, reason(r, "definition"), limit
            ):
                return True
        if r.path in p.outlines and p._outline_over(r.path, start, sig_end) is not None:
            return False  # inside an outline that does not show it: only a body can
        return p.add(r.path, start, sig_end, "signature", r.score, reason(r, "header"), limit)

    def body(r: Ranked, limit: int) -> bool:
        _name, kind, start, end, _sig_end, _col, parent = index.tags(r.path).defs[r.index]
        if (
            kind in CONTAINER_KINDS
            and end - start > 40
            and (budget < LARGE_BUDGET or span_tokens(r.path, start, end) > budget // 5)
        ):
            return False  # big classes: their members' headers say more per token
        if parent >= 0:
            enclosing_header(r, parent, limit)
        return p.add(r.path, start, end, "definition", r.score, reason(r, "definition"), limit)

    def bodies(rs: list[Ranked]) -> None:
        misses = 0
        for r in rs:
            if p.used >= budget or misses > 60:
                break
            if not body(r, budget):
                misses += 1

    # 1. definitions the query insists on (around review changes)
    for r in cands:
        if r.body:
            body(r, budget)
    # 2. the classes the cursor's receiver may hold (and their bases), as outlines, all at
    # the most detail at which all of them fit: every member's name beats some docstrings
    wanted = [r for r in cands if r.outline][:RECEIVER_OUTLINES]
    limit = int(budget * (SURE_RECEIVER_OUTLINE_SHARE if sure_receiver else RECEIVER_OUTLINE_SHARE))
    detail = NAMES
    for level in (FULL, SIGNATURES):
        if sum(p.outline_cost(r.path, r.index, level) for r in wanted) <= limit - p.used:
            detail = level
            break
    for r in wanted:
        p.add_outline(r.path, r.index, r.score, reason(r, "outline"), limit, most_detail=detail)
    # 3. headers of the best
    misses = 0  # in a row: once this many headers in a row do not fit, the rest rarely do
    for r in cands:
        if p.used >= header_limit or misses > 60:
            break
        misses = 0 if header(r, header_limit) else misses + 1
    # 4. bodies for the best-ranked, in rank order, while they fit; at large budgets the
    # outlines of the best files come after the first few
    if LARGE_BUDGET <= budget < HUGE_BUDGET:
        bodies(cands[:TOP_BODIES])
        files = _file_ranking(cands, exclude or {})
        limit = int(budget * FILE_OUTLINE_SHARE)
        for path, (s, r) in list(files.items())[:FILE_OUTLINES]:
            if p.used >= limit:
                break
            n = len(index.lines(path))
            if n and p.span_tokens(path, 1, n) <= (budget - p.used) // 4:
                continue  # small for this budget: its bodies, or all of it, come later
            p.add_outline(path, None, s, reason(r, "file outline"), limit)
    bodies(cands)
    # 5. leftover budget: more headers, then whole files of the best-ranked files
    misses = 0
    for r in cands:
        if p.used >= budget or misses > 60:
            break
        if not header(r, budget):
            misses += 1
    if budget - p.used > budget * 0.25:
        for path, (s, r) in _file_ranking(cands, exclude or {}).items():
            if budget - p.used < budget * 0.1:
                break
            n = len(index.lines(path))
            if n:
                p.add(path, 1, n, "file", s, reason(r, "whole file (budget left over)"), budget)

    items = p.all_items()
    best: dict[str, float] = {}
    for it in items:
        best[it.path] = max(best.get(it.path, 0.0), it.score)
    items.sort(key=lambda it: (it.kind != "caller", -best[it.path], it.path, it.start_line))
    omitted = left_out
    for r in cands[:400]:
        d = index.tags(r.path).defs[r.index]
        if not p.covered(r.path, d.start, d.sig_end):
            omitted.append(f"{r.path}:{d.start}-{d.end}")
        if len(omitted) >= 50 + len(left_out):
            break
    assert p.used <= budget
    return PackedContext(budget=budget, used=p.used, items=items, omitted=omitted)


def _file_ranking(
    cands: list[Ranked], exclude: dict[str, list[tuple[int, int]]]
) -> dict[str, tuple[float, Ranked]]:
    """Files by the summed score of their ranked definitions, best first (with their best)."""
    score: dict[str, float] = {}
    best: dict[str, Ranked] = {}
    for r in cands:
        if r.path in exclude:
            continue
        score[r.path] = score.get(r.path, 0.0) + r.score
        best.setdefault(r.path, r)
    order = sorted(score.items(), key=lambda kv: -kv[1])
    return {path: (s, best[path]) for path, s in order}
