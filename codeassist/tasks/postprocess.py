"""Rules that turn raw model text into a suggestion fit to insert at the cursor.

Each rule is a pure function of the raw text and the code around the cursor; `clean_suggestion`
applies them in order. Modes: "line" (cursor mid-line: one line only) and "block" (end of a
line or an empty line: several lines, up to the end of the current block).
"""

from __future__ import annotations

from codeassist.gemma4 import tokens as t

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
FENCE = "```"
# How far back the prefix is scanned for brackets still open at the cursor.
BRACKET_SCAN_LINES = 40


def strip_markers(text: str) -> str:
    """Text up to the first stop token, code fence or other control token."""
    cut = len(text)
    for marker in (*t.STOP_TOKENS, FENCE, t.TURN_OPEN, t.CHANNEL_OPEN, t.TOOL_CALL_OPEN):
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    return text[:cut]


def first_line_only(text: str) -> str:
    """Single-line mode: the text before its first newline."""
    return text.split("\n", 1)[0]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def cut_at_block_end(text: str, before: str) -> str:
    """Multi-line mode: the suggestion up to the end of the block the cursor is in.

    A later line indented less than the cursor's line leaves the block. When the cursor sits
    right after a block opener (`:`, `{`, `(` or `[`), the block is what is indented deeper; a
    line back at the opener's indent ends it, and is kept if it closes the bracket.
    """
    lines = text.split("\n")
    line_start = before.rsplit("\n", 1)[-1]
    current = line_start + lines[0]
    if current.strip():
        base = _indent_of(current)
    else:  # an empty line: the first line with text sets the indent
        first = next((ln for ln in lines[1:] if ln.strip()), "")
        base = _indent_of(first)
    # Only a block opened before the cursor: one the suggestion opens is part of its own text.
    opens_block = not lines[0].strip() and line_start.rstrip().endswith((":", *OPENERS))
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            kept.append(line)
            continue
        indent = _indent_of(line)
        if opens_block and indent <= base:
            if line.strip()[0] in CLOSERS:
                kept.append(line)
            break
        if indent < base:
            break
        kept.append(line)
    return "\n".join(kept).rstrip()


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
    following = [ln.strip() for ln in after.split("\n")[1:] if ln.strip()]
    if following and len(lines) > 1:
        target = following[0]
        for index in range(1, len(lines)):
            if lines[index].strip() == target and len(target) >= 2:
                lines = lines[:index]
                break
    return "\n".join(lines)


def already_present(text: str, after: str) -> bool:
    """True when the suggestion is only text that already follows the cursor."""
    stripped = text.strip()
    return not stripped or after.lstrip().startswith(stripped)


def clean_suggestion(raw: str, *, before: str, after: str, mode: str) -> str:
    """The suggestion to insert, or "" when nothing useful remains."""
    text = strip_markers(raw)
    text = first_line_only(text) if mode == "line" else cut_at_block_end(text, before)
    text = trim_suffix_repeat(text, before, after)
    text = balance_brackets(text, before, mode)
    text = text.rstrip() if mode == "block" or not after.split("\n", 1)[0] else text
    if already_present(text, after):
        return ""
    return text
