"""Gemma 4's chat format: rendering prompts and splitting thinking from the answer.

This is the one place that knows the turn format (docs/prompt-format.md). Google's official
template and the tiny checkpoint's template render the same strings; tests hold them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from codeassist.gemma4.tokens import (
    BOS,
    CHANNEL_CLOSE,
    CHANNEL_OPEN,
    EMPTY_THOUGHT,
    STOP_TOKENS,
    THINK,
    TURN_CLOSE,
    TURN_OPEN,
)

SYSTEM_ROLES = ("system", "developer")
MODEL_ROLES = ("assistant", "model")


def strip_thinking(text: str) -> str:
    """The text with every thought block removed, as the official template does it.

    Whatever follows an opening `<|channel>` up to the next `<channel|>` (or the end) goes;
    a stray `<channel|>` goes too. Only final answers go back into history.
    """
    return "".join(part.split(CHANNEL_OPEN, 1)[0] for part in text.split(CHANNEL_CLOSE))


def render_chat(
    messages: Iterable[Mapping[str, str]],
    *,
    enable_thinking: bool = False,
    add_generation_prompt: bool = True,
    model_prefix: str = "",
) -> str:
    """The prompt text for messages, exactly as Google's Gemma 4 chat template renders it.

    docs/prompt-format.md states the rules (trimmed contents, `<|think|>\\n` at the top of
    the system turn, an empty thought after the generation prompt when thinking is off,
    thoughts stripped from earlier model turns). model_prefix is written into the opened model
    turn so that the model continues it (code completion has no fill-in-the-middle tokens).
    """
    messages = list(messages)
    if not messages:
        raise ValueError("render_chat needs at least one message")
    parts = [BOS]
    has_system = messages[0]["role"] in SYSTEM_ROLES
    if has_system or enable_thinking:
        parts.append(f"{TURN_OPEN}system\n")
        if enable_thinking:
            parts.append(THINK + "\n")
        if has_system:
            parts.append(messages.pop(0)["content"].strip())
        parts.append(TURN_CLOSE + "\n")
    previous = None
    for message in messages:
        role, content = message["role"], message["content"]
        if role in MODEL_ROLES:
            # The official template continues the open model turn after an "assistant"
            # message (its tool-call flow); we render the same text.
            if previous != "assistant":
                parts.append(f"{TURN_OPEN}model\n")
            parts.append(strip_thinking(content).strip())
        elif role == "user":
            parts.append(f"{TURN_OPEN}user\n{content.strip()}")
        else:
            raise ValueError(
                f"unsupported message role {role!r} at this position: Gemma 4 turns are one "
                "leading system (or developer) message, then user and assistant messages"
            )
        parts.append(TURN_CLOSE + "\n")
        previous = role
    if add_generation_prompt:
        parts.append(f"{TURN_OPEN}model\n")
        if not enable_thinking:
            parts.append(EMPTY_THOUGHT)
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
        self.opened = False  # a thought block was seen (even an empty one)

    def feed(self, text: str) -> list[Piece]:
        self._buffer += text
        return self._drain(final=False)

    def finish(self) -> list[Piece]:
        return self._drain(final=True)

    def _emit(self, pieces: list[Piece], kind: str, text: str) -> None:
        if kind == "answer":
            for stop in STOP_TOKENS:
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
            marker = CHANNEL_CLOSE if self._thinking else CHANNEL_OPEN
            kind = "thinking" if self._thinking else "answer"
            index = self._buffer.find(marker)
            if index >= 0:
                self._emit(pieces, kind, self._buffer[:index])
                self._buffer = self._buffer[index + len(marker) :]
                self._thinking = not self._thinking
                self._name_pending = self._thinking
                self.opened = self.opened or self._thinking
                continue
            keep = 0 if final else _partial_suffix(self._buffer, marker)
            if not final:
                # A stop token split across pieces must not leak into the answer either.
                for stop in STOP_TOKENS:
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
