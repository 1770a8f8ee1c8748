"""What a model call returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens served from the prefix cache
    counted: bool = False  # the server sent no usage: these are our own count of the texts


@dataclass
class ChatResult:
    text: str  # the answer, thinking removed
    thinking: str = ""
    finish_reason: str | None = None  # stop | length | cancelled | ...
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    # What the user should know about how the endpoint served this call (each said once per
    # client), e.g. that it ignored the request to think.
    notices: list[str] = field(default_factory=list)


@dataclass
class CompletionResult:
    text: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    notices: list[str] = field(default_factory=list)
