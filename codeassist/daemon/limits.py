"""How big a request can be before tokenizing it: bounds derived from the context limit.

No token is longer than the longest string in the vocabulary, so a prompt of more characters
than `max_context * longest_token` cannot fit the context whatever its tokens: it is refused
from its length alone, in microseconds, where tokenizing it could take minutes and gigabytes.
A JSON body spells one character in at most 12 bytes (a surrogate pair escaped as two
`\\uXXXX`), which bounds the body before it is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

JSON_BYTES_PER_CHAR = 12
BODY_SLACK_BYTES = 64 * 1024  # the rest of a request: fields, message roles, stop strings
# The engine reserves K/V for prompt + max_tokens in whole blocks of 256 tokens at a sequence's
# first step (engine.kv_tokens_needed): a cap leaves this much for the rounding.
RESERVE_SLACK = 512


@dataclass(frozen=True)
class PromptLimits:
    max_context: int  # tokens the model takes
    max_token_chars: int  # the longest token, in characters

    @property
    def max_prompt_chars(self) -> int:
        return self.max_context * self.max_token_chars

    @property
    def max_body_bytes(self) -> int:
        return self.max_prompt_chars * JSON_BYTES_PER_CHAR + BODY_SLACK_BYTES


def prompt_limits(vocabulary: Iterable[str], max_context: int) -> PromptLimits:
    """The bounds for a model whose tokens (as the tokenizer spells them) are `vocabulary`.

    A vocabulary string is never shorter than the text its token decodes to (byte-level
    tokens spell one byte per character, byte-fallback tokens `<0xNN>` six for one).
    """
    longest = max((len(token) for token in vocabulary), default=1)
    return PromptLimits(max_context=max_context, max_token_chars=max(1, longest))


def too_long(chars: int, limits: PromptLimits) -> str | None:
    """Why a prompt of `chars` characters cannot fit, or None when it may."""
    if chars <= limits.max_prompt_chars:
        return None
    return (
        f"the prompt has {chars:,} characters; the model's context of "
        f"{limits.max_context:,} tokens holds at most {limits.max_prompt_chars:,} characters "
        "of any text. Send less context."
    )


def body_too_large(length: int, limits: PromptLimits) -> str | None:
    """Why a request body of `length` bytes is refused unread, or None."""
    if length <= limits.max_body_bytes:
        return None
    return (
        f"the request body has {length:,} bytes; no prompt that fits the model's context of "
        f"{limits.max_context:,} tokens needs more than {limits.max_body_bytes:,}. "
        "Send less context."
    )


def capped_max_tokens(prompt_tokens: int, max_tokens: int, max_context: int, keep: int) -> int:
    """max_tokens as asked when the answer fits the context after the prompt; asked beyond it,
    what fits, leaving `keep` tokens of K/V for completions where the prompt allows it."""
    room = max_context - prompt_tokens
    if max_tokens <= room:
        return max_tokens
    spare = room - keep - RESERVE_SLACK
    return max(1, spare if spare >= 1 else room)
