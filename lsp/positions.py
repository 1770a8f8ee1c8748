"""LSP positions (line, character in the negotiated encoding) <-> code-point columns."""

from __future__ import annotations

from lsprotocol import types

UTF8 = types.PositionEncodingKind.Utf8.value
UTF16 = types.PositionEncodingKind.Utf16.value
UTF32 = types.PositionEncodingKind.Utf32.value


def units_of(char: str, encoding: str) -> int:
    """How many code units of encoding one code point takes."""
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
