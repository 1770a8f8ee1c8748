"""LSP positions (line, character in the negotiated encoding) <-> code-point columns and spans.

The one place that converts between the client's position encoding (UTF-16 for VS Code, UTF-8
for recent Neovim) and the code-point columns that codeassist.tasks works in.
"""

from __future__ import annotations

from lsprotocol import types

from codeassist.tasks.edits import Span, split_lines

UTF8 = types.PositionEncodingKind.Utf8.value
UTF16 = types.PositionEncodingKind.Utf16.value
UTF32 = types.PositionEncodingKind.Utf32.value


def units_of(char: str, encoding: str) -> int:
    """How many code units of encoding one code point takes (a lone surrogate: as encoded)."""
    if encoding == UTF8:
        return len(char.encode("utf-8", "surrogatepass"))
    if encoding == UTF32:
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def line_text(text: str, line: int) -> str | None:
    """The text of a 0-based line without its line break; None past the last line."""
    if line < 0:
        return None
    parts = text.split("\n", line)
    if len(parts) <= line:
        return None
    end = parts[-1].find("\n")
    current = parts[-1] if end < 0 else parts[-1][:end]
    return current[:-1] if current.endswith("\r") else current


def to_column(line: str, character: int, encoding: str) -> int:
    """The code-point column of a client character offset (clamped to the line's end).

    An offset inside a character (half a surrogate pair) rounds down to its start.
    """
    if encoding == UTF32:
        return max(0, min(character, len(line)))
    units = 0
    for index, char in enumerate(line):
        units += units_of(char, encoding)
        if units > character:
            return index
    return len(line)


def to_character(line: str, column: int, encoding: str) -> int:
    """The client character offset of a code-point column."""
    prefix = line[:column]
    if encoding == UTF32:
        return len(prefix)
    if encoding == UTF8:
        return len(prefix.encode("utf-8", "surrogatepass"))
    return len(prefix) + sum(1 for c in prefix if ord(c) > 0xFFFF)


def to_span(text: str, rng: types.Range, encoding: str) -> Span:
    """A client range as a code-point span, clamped to the document (start <= end)."""
    lines = split_lines(text)

    def point(position: types.Position) -> tuple[int, int]:
        if position.line >= len(lines):
            return len(lines) - 1, len(lines[-1])
        line = max(0, position.line)
        return line, to_column(lines[line], max(0, position.character), encoding)

    start, end = point(rng.start), point(rng.end)
    if end < start:
        start, end = end, start
    return Span(start[0], start[1], end[0], end[1])


def to_range(text: str, span: Span, encoding: str) -> types.Range:
    """A code-point span of text as a client range."""
    lines = split_lines(text)

    def position(line: int, column: int) -> types.Position:
        source = lines[line] if 0 <= line < len(lines) else ""
        return types.Position(line=line, character=to_character(source, column, encoding))

    return types.Range(
        start=position(span.start_line, span.start_col),
        end=position(span.end_line, span.end_col),
    )
