"""The OpenAI wire format of answers: JSON bodies and server-sent event chunks (pure)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from codeassist.daemon.request import Usage
from codeassist.gemma4.prompt import Piece, ThinkingParser


@dataclass
class Meta:
    kind: str  # "chat" or "text"
    model: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def response_id(self) -> str:
        return ("chatcmpl-" if self.kind == "chat" else "cmpl-") + self.id


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event carrying a JSON object (or the literal `[DONE]`)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.reused_tokens},
    }


def error_body(message: str, kind: str = "invalid_request_error", code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def chat_chunk(meta: Meta, delta: dict[str, str], finish_reason: str | None = None) -> dict:
    return {
        "id": meta.response_id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def text_chunk(
    meta: Meta, text: str, finish_reason: str | None = None, reasoning: str | None = None
) -> dict:
    choice: dict[str, Any] = {
        "index": 0,
        "text": text,
        "logprobs": None,
        "finish_reason": finish_reason,
    }
    if reasoning:
        choice["reasoning_content"] = reasoning
    return {
        "id": meta.response_id,
        "object": "text_completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [choice],
    }


def usage_chunk(meta: Meta, usage: Usage) -> dict:
    return {
        "id": meta.response_id,
        "object": "chat.completion.chunk" if meta.kind == "chat" else "text_completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
        "usage": usage_body(usage),
    }


def delta_chunks(meta: Meta, pieces: list[Piece]) -> list[dict]:
    """Stream chunks for parsed pieces: thinking as `reasoning_content`, never in the answer."""
    chunks = []
    for piece in pieces:
        if meta.kind == "chat":
            key = "reasoning_content" if piece.kind == "thinking" else "content"
            chunks.append(chat_chunk(meta, {key: piece.text}))
        elif piece.kind == "thinking":
            chunks.append(text_chunk(meta, "", reasoning=piece.text))
        else:
            chunks.append(text_chunk(meta, piece.text))
    return chunks


def final_chunk(meta: Meta, finish_reason: str | None) -> dict:
    if meta.kind == "chat":
        return chat_chunk(meta, {}, finish_reason)
    return text_chunk(meta, "", finish_reason)


def full_response(
    meta: Meta, answer: str, thinking: str, finish_reason: str | None, usage: Usage
) -> dict[str, Any]:
    """The non-streaming body of a chat or text completion."""
    if meta.kind == "chat":
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if thinking:
            message["reasoning_content"] = thinking
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": answer, "logprobs": None, "finish_reason": finish_reason}
        if thinking:
            choice["reasoning_content"] = thinking
        obj = "text_completion"
    return {
        "id": meta.response_id,
        "object": obj,
        "created": meta.created,
        "model": meta.model,
        "choices": [choice],
        "usage": usage_body(usage),
    }


class Splitter:
    """Feeds engine text through the one ThinkingParser and keeps both sides."""

    def __init__(self) -> None:
        self._parser = ThinkingParser()
        self.answer: list[str] = []
        self.thinking: list[str] = []

    def feed(self, text: str) -> list[Piece]:
        return self._record(self._parser.feed(text))

    def finish(self) -> list[Piece]:
        return self._record(self._parser.finish())

    def _record(self, pieces: list[Piece]) -> list[Piece]:
        for piece in pieces:
            (self.thinking if piece.kind == "thinking" else self.answer).append(piece.text)
        return pieces
