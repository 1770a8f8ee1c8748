"""What a model call returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens served from the prefix cache


@dataclass
class ChatResult:
    text: str  # the answer, thinking removed
    thinking: str = ""
    finish_reason: str | None = None  # stop | length | cancelled | ...
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@dataclass
class CompletionResult:
    text: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
