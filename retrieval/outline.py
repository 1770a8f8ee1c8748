"""Outlines: a class (or a file's top level) as its header and its members' signatures.

At full detail each member shows its header lines (decorators included), a Python
docstring's first line, and, where its body was left out, ONE marker line: the body's
indentation, the language's line comment, and `ELIDED_MARKER`, e.g. `        # [body
elided]`. Less detail drops the docstrings (SIGNATURES), then the decorators and markers
too (NAMES: the line naming each member, for small budgets). Members in `expanded` are shown
whole. Every line but the markers is the file's own, verbatim; `shown` lists which.
"""

from __future__ import annotations

from typing import NamedTuple

from retrieval.tags import CONTAINER_KINDS, VALUE_KINDS, DefTag, FileTags, members_of

ELIDED_MARKER = "[body elided]"
FULL, SIGNATURES, NAMES = 2, 1, 0  # detail levels
_HASH_COMMENT = frozenset({"python", "ruby"})
MAX_VALUE_LINES = 3  # a field or constant longer than this shows its first line


class OutlineText(NamedTuple):
    """The rendered outline: its text and the file lines it shows (1-based, inclusive).

    A tuple of strings and ints: packers keep thousands, the cycle collector skips them.
    """

    text: str
    shown: tuple[tuple[int, int], ...]


def marker_line(lang: str, indent: str) -> str:
    """The line that stands for an elided body."""
    comment = "#" if lang in _HASH_COMMENT else "//"
    return f"{indent}{comment} {ELIDED_MARKER}"


def _indent_of(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _docstring_line(lines: list[str], d: DefTag, lang: str) -> int | None:
    """The line of a Python docstring's opening right after a header, if there is one."""
    if lang != "python" or d.sig_end >= d.end:
        return None
    text = lines[d.sig_end].lstrip() if d.sig_end < len(lines) else ""
    if text.startswith(('"""', "'''", 'r"""', "r'''", 'u"""')):
        return d.sig_end + 1
    return None


def _body_indent(lines: list[str], d: DefTag, first_shown_after: int) -> str:
    """Indentation of the body's first non-blank line (after the shown part)."""
    for n in range(first_shown_after, min(d.end, first_shown_after + 8)):
        if n < len(lines) and lines[n].strip():
            return _indent_of(lines[n])
    head = lines[d.start - 1] if d.start <= len(lines) else ""
    return _indent_of(head) + "    "


def _name_line(lines: list[str], d: DefTag) -> int:
    """The header line that holds the definition's name (after its decorators)."""
    for n in range(d.start, d.sig_end + 1):
        text = lines[n - 1] if n <= len(lines) else ""
        if d.name in text and not text.lstrip().startswith("@"):
            return n
    return d.start


class _Renderer:
    def __init__(
        self, tags: FileTags, lines: list[str], expanded: frozenset[int], detail: int
    ) -> None:
        self.tags = tags
        self.lines = lines
        self.expanded = expanded
        self.detail = detail
        self.parts: list[tuple[int, int] | str] = []  # line ranges, or marker lines

    def span(self, start: int, end: int) -> None:
        end = min(end, len(self.lines))
        if start <= end:
            self.parts.append((start, end))

    def marker(self, d: DefTag, after: int) -> None:
        if self.detail > NAMES:
            self.parts.append(marker_line(self.tags.lang, _body_indent(self.lines, d, after)))

    def member(self, k: int) -> None:
        d = self.tags.defs[k]
        lang = self.tags.lang
        if k in self.expanded:
            self.span(d.start, d.end)
            return
        if d.kind in CONTAINER_KINDS:
            self.container(k)
            return
        if self.detail == NAMES:
            n = _name_line(self.lines, d)
            self.span(n, n)
            return
        if d.end <= d.sig_end:
            self.span(d.start, d.end)
            return
        if d.kind in VALUE_KINDS:
            if d.end - d.start < MAX_VALUE_LINES:
                self.span(d.start, d.end)
                return
            self.span(d.start, d.start)
            self.marker(d, d.start)
            return
        doc = _docstring_line(self.lines, d, lang) if self.detail == FULL else None
        last = doc or d.sig_end
        self.span(d.start, last)
        if last < d.end:
            self.marker(d, d.sig_end)

    def container(self, k: int) -> None:
        for segment in segments(self.tags, self.lines, k):
            self.segment(segment)

    def segment(self, segment: Segment) -> None:
        what, k = segment
        d = self.tags.defs[k]
        if what == "head":
            doc = _docstring_line(self.lines, d, self.tags.lang) if self.detail == FULL else None
            self.span(d.start, doc or d.sig_end)
        elif what == "tail":
            self.span(d.end, d.end)
        elif what == "whole":
            self.span(d.start, d.end)
        else:
            self.member(k)

    def result(self) -> OutlineText:
        out: list[str] = []
        shown: list[tuple[int, int]] = []
        last = 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            start, end = max(part[0], last + 1), part[1]
            if start > end:
                continue  # already shown (a member inside a range shown whole)
            out.extend(self.lines[start - 1 : end])
            if shown and shown[-1][1] == start - 1:
                shown[-1] = (shown[-1][0], end)
            else:
                shown.append((start, end))
            last = end
        return OutlineText("\n".join(out), tuple(shown))


# A piece of an outline: ("head", class), ("member", definition), ("tail", class: its
# closing brace), ("whole", class without members). An outline is its segments joined by
# newlines, so a packer can redo the one segment an expanded body changes.
Segment = tuple[str, int]


def segments(tags: FileTags, lines: list[str], root: int | None) -> list[Segment]:
    """The segments of the outline of `root` (None: the file's top level), in order."""
    if root is None:
        return [("member", k) for k, d in enumerate(tags.defs) if d.parent < 0]
    d = tags.defs[root]
    kids = members_of(tags, root)
    if not kids:
        return [("whole", root)]  # nothing to outline: a short class or an empty one
    out: list[Segment] = [("head", root)] + [("member", k) for k in kids]
    if tags.lang != "python" and d.end > tags.defs[kids[-1]].end:
        closing = lines[d.end - 1] if d.end <= len(lines) else ""
        if closing.strip() in ("}", "};", "end"):
            out.append(("tail", root))  # the closing brace keeps the outline readable
    return out


def render_segment(
    tags: FileTags,
    lines: list[str],
    segment: Segment,
    expanded: frozenset[int] = frozenset(),
    detail: int = FULL,
) -> OutlineText:
    """One segment of an outline."""
    r = _Renderer(tags, lines, expanded, detail)
    r.segment(segment)
    return r.result()


def join(parts: list[OutlineText]) -> OutlineText:
    """Segments (or outlines) one after the other."""
    texts = [p.text for p in parts if p.shown or p.text]
    shown: list[tuple[int, int]] = []
    for p in parts:
        for start, end in p.shown:
            if shown and shown[-1][1] == start - 1:
                shown[-1] = (shown[-1][0], end)
            else:
                shown.append((start, end))
    return OutlineText("\n".join(texts), tuple(shown))


def outline(
    tags: FileTags,
    lines: list[str],
    root: int | None,
    expanded: frozenset[int] = frozenset(),
    detail: int = FULL,
) -> OutlineText:
    """The outline of definition `root` of a file (None: the file's top level)."""
    return join(
        [render_segment(tags, lines, s, expanded, detail) for s in segments(tags, lines, root)]
    )


def subtree(tags: FileTags, root: int | None) -> range:
    """Indices of `root` and every definition inside it (defs are in start order)."""
    if root is None:
        return range(len(tags.defs))
    end = tags.defs[root].end
    j = root + 1
    while j < len(tags.defs) and tags.defs[j].start <= end:
        j += 1
    return range(root, j)
