"""Text edits as plain data, and the file conventions (line endings, indentation) they keep.

Positions are 0-based lines and columns counted in Python characters (code points); the
language server converts them to the client's position encoding at its edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from codeassist.errors import UserError


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range [start, end) of a text."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    @property
    def is_empty(self) -> bool:
        return (self.start_line, self.start_col) == (self.end_line, self.end_col)


@dataclass(frozen=True)
class TextEdit:
    span: Span
    new_text: str


@dataclass
class FileEdit:
    """The edits to one file; version is the editor's document version they were computed for."""

    path: str
    version: int | None
    edits: list[TextEdit] = field(default_factory=list)


class EditRefused(UserError):
    """An edit that would damage the file (stale version, broken syntax, bad position)."""


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_ending(text: str) -> str:
    """The file's dominant line ending ("\\n" when it has none)."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    best = max((lf, "\n"), (crlf, "\r\n"), (cr, "\r"), key=lambda pair: pair[0])
    return best[1] if best[0] else "\n"


def with_line_ending(code: str, eol: str) -> str:
    """code with every line break written as eol."""
    return _LINE_BREAK.sub(eol, code) if eol != "\n" or "\r" in code else code


def split_lines(text: str) -> list[str]:
    """Lines of text without their breaks (a trailing break gives a last empty line)."""
    return _LINE_BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """Offset of the first character of every line."""
    starts = [0]
    for match in _LINE_BREAK.finditer(text):
        starts.append(match.end())
    return starts


def offset_of(text: str, line: int, col: int, starts: list[int] | None = None) -> int:
    """Offset of (line, col) in text; EditRefused when the position is not in the text."""
    starts = starts if starts is not None else line_starts(text)
    if line < 0 or col < 0 or line >= len(starts):
        raise EditRefused(
            f"position {line + 1}:{col + 1} is outside the document ({len(starts)} lines); "
            f"the document changed: try the action again."
        )
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content_end = end
    while content_end > starts[line] and text[content_end - 1] in "\r\n":
        content_end -= 1
    return min(starts[line] + col, content_end)


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """text with non-overlapping edits applied (positions refer to the original text)."""
    starts = line_starts(text)
    located = sorted(
        (
            offset_of(text, e.span.start_line, e.span.start_col, starts),
            offset_of(text, e.span.end_line, e.span.end_col, starts),
            e.new_text,
        )
        for e in edits
    )
    pieces = []
    cursor = 0
    for start, end, new_text in located:
        if start < cursor or end < start:
            raise EditRefused("the edits overlap; refusing to apply them. Try the action again.")
        pieces.append(text[cursor:start])
        pieces.append(new_text)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def text_in(text: str, span: Span) -> str:
    starts = line_starts(text)
    start = offset_of(text, span.start_line, span.start_col, starts)
    return text[start : offset_of(text, span.end_line, span.end_col, starts)]


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_unit(text: str) -> str:
    """The file's indentation step: a tab, or the most common space step (default 4)."""
    tabs = spaces = 0
    steps: dict[int, int] = {}
    previous = 0
    for line in split_lines(text):
        if not line.strip():
            continue
        lead = leading_whitespace(line)
        if lead.startswith("\t"):
            tabs += 1
            continue
        width = len(lead)
        if width:
            spaces += 1
        if width > previous:
            steps[width - previous] = steps.get(width - previous, 0) + 1
        previous = width
    if tabs > spaces:
        return "\t"
    if not steps:
        return "    "
    return " " * max(steps.items(), key=lambda pair: (pair[1], -pair[0]))[0]


def _indent_levels(lines: list[str], unit_width: int) -> list[tuple[int, int]]:
    """(level, remainder spaces) of each line's indentation in the code's own unit."""
    result = []
    for line in lines:
        lead = leading_whitespace(line).replace("\t", " " * unit_width)
        result.append(divmod(len(lead), unit_width))
    return result


def reindent(code: str, base: str, unit: str) -> str:
    """code re-indented to start at base, with its nesting written in the file's unit.

    The model's own indentation step (2 or 4 spaces, tabs) is detected and translated, so a
    block returned with 4 spaces lands in a tab-indented file as tabs.
    """
    lines = split_lines(code)
    content = [line for line in lines if line.strip()]
    if not content:
        return code
    own_unit = indent_unit("\n".join(content))
    own_width = 4 if own_unit == "\t" else len(own_unit)
    levels = _indent_levels(content, own_width)
    base_level = min(level for level, _ in levels)
    out = []
    for line in lines:
        if not line.strip():
            out.append("")
            continue
        (level, rest) = _indent_levels([line], own_width)[0]
        out.append(base + unit * (level - base_level) + " " * rest + line.lstrip(" \t"))
    return "\n".join(out)


def whole_lines(text: str, span: Span) -> Span:
    """span widened to whole lines: from column 0 of its first line to the end of its last.

    A selection that ends at column 0 of a line does not include that line.
    """
    end_line = span.end_line
    if end_line > span.start_line and span.end_col == 0:
        end_line -= 1
    lines = split_lines(text)
    end_line = min(end_line, len(lines) - 1)
    return Span(span.start_line, 0, end_line, len(lines[end_line]))


def replace_lines(text: str, span: Span, code: str) -> TextEdit:
    """An edit replacing the whole lines of span by code, in the file's indentation and endings.

    code is re-indented to the indentation of the first non-blank line of span.
    """
    span = whole_lines(text, span)
    lines = split_lines(text)
    original = [line for line in lines[span.start_line : span.end_line + 1] if line.strip()]
    base = leading_whitespace(original[0]) if original else ""
    body = reindent(code.strip("\r\n"), base, indent_unit(text))
    return TextEdit(span, with_line_ending(body, line_ending(text)))
