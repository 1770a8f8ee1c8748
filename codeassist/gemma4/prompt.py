"""Gemma 4's chat format: rendering prompts and splitting thinking from the answer.

This is the one place that knows the turn format (GEMMA4.md). The tiny checkpoint's Jinja chat
template renders the same strings; a test holds the two together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from codeassist.gemma4 import tokens as t

ROLE_NAMES = {"system": "system", "user": "user", "assistant": "model", "model": "model"}

_THOUGHT_BLOCK = re.compile(re.escape(t.CHANNEL_OPEN) + r".*?" + re.escape(t.CHANNEL_CLOSE), re.S)


def strip_thinking(text: str) -> str:
    """The text with every thought block removed (only final answers go back into history)."""
    return _THOUGHT_BLOCK.sub("", text)


def render_chat(
    messages: Iterable[Mapping[str, str]],
    *,
    enable_thinking: bool = False,
    add_generation_prompt: bool = True,
    model_prefix: str = "",
) -> str:
    """The prompt text for messages, exactly as Gemma 4's chat template renders it.

    model_prefix is written into the opened model turn so that the model continues it (used
    for code completion, which has no fill-in-the-middle tokens).
    """
    messages = list(messages)
    parts = [t.BOS]
    system = None
    if messages and messages[0]["role"] == "system":
        system = messages.pop(0)["content"]
    if system is not None or enable_thinking:
        think = t.THINK if enable_thinking else ""
        parts.append(f"{t.TURN_OPEN}system\n{think}{system or ''}{t.TURN_CLOSE}\n")
    for message in messages:
        role = ROLE_NAMES.get(message["role"])
        if role is None or role == "system":
            raise ValueError(f"unsupported message role {message['role']!r} at this position")
        content = message["content"]
        if role == "model":
            content = strip_thinking(content)
        parts.append(f"{t.TURN_OPEN}{role}\n{content}{t.TURN_CLOSE}\n")
    if add_generation_prompt:
        parts.append(f"{t.TURN_OPEN}model\n")
        if not enable_thinking:
            parts.append(t.EMPTY_THOUGHT)
        parts.append(model_prefix)
    elif model_prefix:
        raise ValueError("model_prefix needs add_generation_prompt=True")
    return "".join(parts)


@dataclass
class Piece:
    kind: str  # "thinking" or "answer"
    text: str


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of text that is a proper prefix of marker."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class ThinkingParser:
    """Splits streamed model text into thinking and answer pieces.

    Feed decoded text that kept its special tokens; markers may arrive split across pieces.
    A thought block is `<|channel>thought\\n ... <channel|>`; an unclosed one (the model ran
    out of tokens) stays thinking. Stop tokens that reach the parser are dropped.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False
        self._name_pending = False

    def feed(self, text: str) -> list[Piece]:
        self._buffer += text
        return self._drain(final=False)

    def finish(self) -> list[Piece]:
        return self._drain(final=True)

    def _emit(self, pieces: list[Piece], kind: str, text: str) -> None:
        if kind == "answer":
            for stop in t.STOP_TOKENS:
                text = text.replace(stop, "")
        if text:
            if pieces and pieces[-1].kind == kind:
                pieces[-1].text += text
            else:
                pieces.append(Piece(kind, text))

    def _drain(self, final: bool) -> list[Piece]:
        pieces: list[Piece] = []
        while self._buffer:
            if self._thinking and self._name_pending:
                name = "thought\n"
                if self._buffer.startswith(name):
                    self._buffer = self._buffer[len(name) :]
                    self._name_pending = False
                    continue
                if name.startswith(self._buffer) and not final:
                    break
                self._name_pending = False
            marker = t.CHANNEL_CLOSE if self._thinking else t.CHANNEL_OPEN
            kind = "thinking" if self._thinking else "answer"
            index = self._buffer.find(marker)
            if index >= 0:
                self._emit(pieces, kind, self._buffer[:index])
                self._buffer = self._buffer[index + len(marker) :]
                self._thinking = not self._thinking
                self._name_pending = self._thinking
                continue
            keep = 0 if final else _partial_suffix(self._buffer, marker)
            if not final:
                # A stop token split across pieces must not leak into the answer either.
                for stop in t.STOP_TOKENS:
                    keep = max(keep, _partial_suffix(self._buffer, stop))
            cut = len(self._buffer) - keep
            self._emit(pieces, kind, self._buffer[:cut])
            self._buffer = self._buffer[cut:]
            break
        return pieces


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a complete model output."""
    parser = ThinkingParser()
    pieces = parser.feed(text) + parser.finish()
    thinking = "".join(p.text for p in pieces if p.kind == "thinking")
    answer = "".join(p.text for p in pieces if p.kind == "answer")
    return thinking, answer
