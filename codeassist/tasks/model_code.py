"""Code out of a model answer: fenced blocks, an unclosed fence, or raw code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeassist.gemma4.prompt import split_thinking
from codeassist.tasks.edits import EditRefused

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.M)


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    code: str
    closed: bool  # False when the answer ended inside the block (ran out of tokens)


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown answer, in order."""
    blocks = []
    position = 0
    while True:
        opening = _FENCE.search(text, position)
        if opening is None:
            return blocks
        fence = opening.group(1)
        body_start = opening.end() + 1
        closing = re.compile(
            r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.M
        ).search(text, body_start)
        if closing is None:
            blocks.append(CodeBlock(opening.group(2), text[body_start:].rstrip(), False))
            return blocks
        body = text[body_start : closing.start()]
        blocks.append(CodeBlock(opening.group(2), body.rstrip("\n").rstrip("\r"), True))
        position = closing.end()


def answer_text(output: str) -> str:
    """The answer part of raw model output (thinking and stop tokens removed)."""
    return split_thinking(output)[1]


def _split_at_closing_fence(text: str) -> tuple[str, str]:
    """(code before the first closing fence, text after it)."""
    closing = re.search(r"^[ \t]*(`{3,}|~{3,})[ \t]*$", text, re.M)
    if closing is None:
        return text, ""
    return text[: closing.start()], text[closing.end() :]


def extract_code(output: str, *, prefilled_fence: bool = False, count: int = 1) -> list[str]:
    """count code pieces from a model answer.

    prefilled_fence: the prompt already opened a fence in the model turn, so the answer starts
    with code and ends at the closing fence (or at the end). Otherwise the first count fenced
    blocks are taken; an answer without fences is taken whole as code (count 1 only).
    EditRefused when the answer holds no usable code.
    """
    text = answer_text(output)
    if prefilled_fence:
        # The model sometimes opens the fence the prompt already opened.
        text = re.sub(r"\A\s*(`{3,}|~{3,})[\w+#.-]*[ \t]*\r?\n", "", text)
        first, rest = _split_at_closing_fence(text)
        pieces = [first.strip("\r\n")] + [b.code for b in code_blocks(rest)]
    else:
        blocks = code_blocks(text)
        pieces = [b.code for b in blocks] if blocks else [text.strip("\n")]
    pieces = [p for p in pieces if p.strip()]
    if len(pieces) < count:
        raise EditRefused(
            f"the model did not return the code for this action (expected {count} code "
            f"block{'s' if count > 1 else ''}, got {len(pieces)}); nothing was changed. "
            f"Try the action again."
        )
    return pieces[:count]
