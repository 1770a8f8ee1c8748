"""Rules that turn raw model text into a suggestion fit to insert at the cursor.

Each rule is a pure function of the raw text and the code around the cursor; `clean_suggestion`
applies them in order. Modes: "line" (cursor mid-line: one line only) and "block" (end of a
line or an empty line: several lines, up to the end of the current block).
"""

from __future__ import annotations

import re
import unicodedata

from codeassist.gemma4.tokens import CHANNEL_OPEN, STOP_TOKENS, TOOL_CALL_OPEN, TURN_OPEN

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
FENCE = "```"
# How far back the prefix is scanned for brackets still open at the cursor.
BRACKET_SCAN_LINES = 40


# Added tokens that carry no text (fillers, padding, media placeholders): an endpoint that
# decodes them (ours never does) must not put them into the buffer.
FILLER_TOKEN = re.compile(r"<unused\d+>|<pad>|<[a-z_]*soft_token>|<\|?(?:image|audio|video)\|?>")
# Bidirectional overrides and isolates: they make code read differently from what it does.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unwanted(char: str) -> bool:
    if char in "\n\t":
        return False
    return (
        char == "\ufffd"  # a byte sequence that was not valid UTF-8
        or char in BIDI_CONTROLS
        or unicodedata.category(char) in ("Cc", "Cs")  # control characters, lone surrogates
    )


def strip_unprintable(text: str) -> str:
    """Text without filler tokens, control characters (but newline and tab) and U+FFFD."""
    text = FILLER_TOKEN.sub("", text)
    if "\ufffd" not in text and text.replace("\n", "").replace("\t", "").isprintable():
        return text  # the common case, checked in C
    return "".join(char for char in text if not _unwanted(char))


def strip_markers(text: str) -> str:
    """Text up to the first stop token, code fence or other control token."""
    cut = len(text)
    for marker in (*STOP_TOKENS, FENCE, TURN_OPEN, CHANNEL_OPEN, TOOL_CALL_OPEN):
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    return text[:cut]


def first_line_only(text: str) -> str:
    """Single-line mode: the text before its first newline."""
    return text.split("\n", 1)[0]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def block_length(lines: list[str], before: str) -> int | None:
    """How many of lines belong to the block the cursor is in; None if all may.

    A later line indented less than the cursor's line leaves the block. When the cursor sits
    right after a block opener (`:`, `{`, `(` or `[`), the block is what is indented deeper; a
    line back at the opener's indent ends it, and is kept if it closes the bracket.
    """
    line_start = before.rsplit("\n", 1)[-1]
    current = line_start + lines[0]
    if current.strip():
        base = _indent_of(current)
    else:  # an empty line: the first line with text sets the indent
        first = next((ln for ln in lines[1:] if ln.strip()), "")
        base = _indent_of(first)
    # Only a block opened before the cursor: one the suggestion opens is part of its own text.
    opens_block = not lines[0].strip() and line_start.rstrip().endswith((":", *OPENERS))
    for index in range(1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        indent = _indent_of(line)
        if opens_block and indent <= base:
            return index + 1 if line.strip()[0] in CLOSERS else index
        if indent < base:
            return index
    return None


def cut_at_block_end(text: str, before: str) -> str:
    """Multi-line mode: the suggestion up to the end of the block the cursor is in."""
    lines = text.split("\n")
    kept = block_length(lines, before)
    return "\n".join(lines if kept is None else lines[:kept]).rstrip()


def bracket_events(text: str, quote: str | None = None):
    """(index, bracket) for each bracket of text outside strings and # or // comments.

    quote is the string delimiter open at the start of text (None outside strings).
    """
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote or char == "\n":
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            if end < 0:
                return
            i = end
            continue
        elif char in OPENERS or char in CLOSERS:
            yield i, char
        i += 1


def _open_quote(line: str) -> str | None:
    """The string delimiter left open at the end of a line (None if none)."""
    quote: str | None = None
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "#" or line.startswith("//", i):
            break
        i += 1
    return quote


def open_brackets(before: str) -> tuple[list[str], str | None]:
    """The brackets still open at the cursor (scanning the last lines), and an open quote."""
    tail = "\n".join(before.split("\n")[-BRACKET_SCAN_LINES:])
    stack: list[str] = []
    for _, char in bracket_events(tail):
        if char in OPENERS:
            stack.append(char)
        elif stack and stack[-1] == CLOSERS[char]:
            stack.pop()
    return stack, _open_quote(tail.rsplit("\n", 1)[-1])


def balance_brackets(text: str, before: str, mode: str) -> str:
    """Cut at a closer that matches nothing open, and back off brackets the suggestion leaves open.

    Brackets open before the cursor may be closed by the suggestion; brackets the suggestion
    opens itself must be closed within it (block mode: the cut falls on a line end).
    """
    stack, quote = open_brackets(before)
    own = 0  # brackets the suggestion opened and has not closed (always on top of the stack)
    opened_at: int | None = None  # where the outermost still-open own bracket was opened
    for index, char in bracket_events(text, quote):
        if char in OPENERS:
            if own == 0:
                opened_at = index
            stack.append(char)
            own += 1
        elif stack and stack[-1] == CLOSERS[char]:
            stack.pop()
            own = max(0, own - 1)
        else:
            text = text[:index]
            break
    if own > 0 and opened_at is not None:
        cut = opened_at
        if mode == "block":
            cut = max(0, text.rfind("\n", 0, cut))
        text = text[:cut]
    return text.rstrip() if mode == "block" else text


def _imbalance(line: str) -> int:
    """Closers that match nothing plus openers left open in one line."""
    stack: list[str] = []
    stray = 0
    for _, char in bracket_events(line):
        if char in OPENERS:
            stack.append(char)
        elif stack and stack[-1] == CLOSERS[char]:
            stack.pop()
        else:
            stray += 1
    return stray + len(stack)


def trim_suffix_repeat(text: str, before: str, after: str) -> str:
    """Drop the end of the suggestion that repeats the code after the cursor.

    Same line: a tail equal to the start of the rest of the line is dropped (only when the
    brackets of the line come out no worse). Later lines: the suggestion stops where it
    reaches the next non-blank line that already follows the cursor.
    """
    rest_of_line = after.split("\n", 1)[0]
    lines = text.split("\n")
    if rest_of_line.strip():
        head = lines[0]
        line_start = before.rsplit("\n", 1)[-1]
        for size in range(min(len(head), len(rest_of_line)), 0, -1):
            overlap = rest_of_line[:size]
            if not overlap.strip() or not head.endswith(overlap):
                continue
            trimmed = head[:-size]
            worse = _imbalance(line_start + trimmed + rest_of_line) > _imbalance(
                line_start + head + rest_of_line
            )
            if not worse:
                lines[0] = trimmed
                break
    reached = reaches_following_code(lines, after)
    return "\n".join(lines if reached is None else lines[:reached])


def reaches_following_code(lines: list[str], after: str) -> int | None:
    """Index of the first suggested line (after the first) that is the next line of code
    already following the cursor; None if none is."""
    target = next((ln.strip() for ln in after.split("\n")[1:] if ln.strip()), "")
    if len(target) < 2:
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == target:
            return index
    return None


def already_present(text: str, after: str) -> bool:
    """True when the suggestion is only text that already follows the cursor."""
    stripped = text.strip()
    return not stripped or after.lstrip().startswith(stripped)


def suggestion_complete(raw: str, *, before: str, after: str, mode: str) -> bool:
    """True when more generated text could not change the suggestion: stop generating.

    Watched while the answer streams: a marker or fence ends it; line mode ends at the first
    newline; block mode ends once a line leaves the block (its indent is known from its first
    non-blank character on) or a whole line is code that already follows the cursor.
    """
    if strip_markers(raw) != raw:
        return True
    if mode == "line":
        return "\n" in raw
    lines = raw.split("\n")
    if len(lines) < 2:
        return False
    started = lines if lines[-1].strip() else lines[:-1]
    if block_length(started, before) is not None:
        return True
    return reaches_following_code(lines[:-1], after) is not None


def clean_suggestion(raw: str, *, before: str, after: str, mode: str) -> str:
    """The suggestion to insert, or "" when nothing useful remains."""
    text = strip_unprintable(strip_markers(raw))
    text = first_line_only(text) if mode == "line" else cut_at_block_end(text, before)
    text = trim_suffix_repeat(text, before, after)
    text = balance_brackets(text, before, mode)
    text = text.rstrip() if mode == "block" or not after.split("\n", 1)[0] else text
    if already_present(text, after):
        return ""
    return text
