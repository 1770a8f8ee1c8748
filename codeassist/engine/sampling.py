"""Request parameters and step results: plain data, importable without torch (the daemon's API)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SamplingParams:
    temperature: float = 1.0  # 0: greedy
    top_p: float = 0.95
    top_k: int = 64  # 0: no limit
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    seed: int | None = None  # same seed, same prompt: same tokens (alone or in a batch)


@dataclass
class StepOutput:
    token_id: int | None  # None after a prefill chunk
    text: str  # new text (special tokens kept; stop tokens and stop strings are not included)
    finished: bool
    finish_reason: str | None  # "stop" | "length" | "cancelled" | "error"
    error: str | None = None  # the message when finish_reason == "error"
