"""The OpenAI-compatible request bodies, validated with pydantic (outside input)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeassist.daemon.keep_alive import parse_keep_alive

PriorityName = Literal["interactive", "normal", "batch"]
# What torch.Generator.manual_seed takes: a signed or unsigned 64-bit integer.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
# Larger asks are capped at what the context holds; this only keeps the number an integer.
MAX_TOKENS_CAP = 2**31


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart] | None = ""
    # Thinking of an earlier assistant turn; never rendered back (docs/prompt-format.md).
    reasoning_content: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    seed: int | None = Field(default=None, ge=SEED_MIN, le=SEED_MAX)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1)
    priority: PriorityName = "normal"
    # Ollama's keep_alive: how long the daemon keeps the model after this request.
    keep_alive: str | float | None = None

    @field_validator("max_tokens", "max_completion_tokens", mode="before", check_fields=False)
    @classmethod
    def _token_count(cls, value: Any) -> Any:
        """A whole number >= 1; beyond the context it is capped there, not refused."""
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a whole number of tokens")
        if isinstance(value, float) and not (value == value and value.is_integer()):
            raise ValueError("must be a whole number of tokens")
        if value < 1:
            raise ValueError("must be at least 1")
        return int(min(value, MAX_TOKENS_CAP))

    @field_validator("keep_alive")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_keep_alive(value)
        return value

    def keep_alive_s(self, default: float | None) -> float | None:
        """Seconds to keep the model after this request (None: never); default when unset."""
        return default if self.keep_alive is None else parse_keep_alive(self.keep_alive)

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatRequest(_Common):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None  # accepted; not enforced by this engine

    @field_validator("messages")
    @classmethod
    def _system_first(cls, messages: list[Message]) -> list[Message]:
        for index, message in enumerate(messages):
            if message.role == "system" and index != 0:
                raise ValueError("a system message is only allowed as the first message")
        return messages

    def enable_thinking(self) -> bool:
        return bool((self.chat_template_kwargs or {}).get("enable_thinking", False))

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Common):
    prompt: str | list[str]

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and len(prompt) != 1:
            raise ValueError("exactly one prompt per request is supported")
        return prompt

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def token_limit(self) -> int | None:
        return self.max_tokens
