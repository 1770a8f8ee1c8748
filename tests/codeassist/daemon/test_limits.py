"""Request sizes refused before tokenizing: bounds from the context and the vocabulary."""

from __future__ import annotations

from codeassist.daemon.limits import (
    RESERVE_SLACK,
    body_too_large,
    capped_max_tokens,
    prompt_limits,
    too_long,
)


def test_bounds_follow_the_longest_token_and_the_context():
    limits = prompt_limits(["a", "ĠĠĠĠ", "<start_of_turn>"], max_context=1000)
    assert limits.max_token_chars == len("<start_of_turn>")
    assert limits.max_prompt_chars == 15_000
    # A body spells a character in at most 12 bytes (an escaped surrogate pair).
    assert limits.max_body_bytes >= 12 * 15_000


def test_a_prompt_over_the_bound_is_refused_with_the_numbers():
    limits = prompt_limits(["abcd"], max_context=10)
    assert too_long(40, limits) is None
    why = too_long(41, limits)
    assert why is not None and "41 characters" in why and "10 tokens" in why
    assert body_too_large(limits.max_body_bytes, limits) is None
    big = body_too_large(50_000_000, limits)
    assert big is not None and "50,000,000 bytes" in big


def test_no_text_has_more_characters_per_token_than_the_bound_assumes(tiny_checkpoint):
    """The bound only refuses what cannot fit: every text spends at most max_token_chars
    characters per token (whitespace runs, special tokens, non-ASCII included)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    limits = prompt_limits(tokenizer.get_vocab(), max_context=32768)
    texts = [
        "def add(a, b):\n    return a + b\n" * 50,
        " " * 5000,
        "\t\n" * 300,
        "<start_of_turn>user\nhi<end_of_turn>\n" * 40,
        "clearTimeout(handle); " * 100,
        "naïve café 日本語 😀 " * 50,
        "x" * 3000,
    ]
    for text in texts:
        tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        assert len(text) <= tokens * limits.max_token_chars, text[:40]


def test_max_tokens_beyond_the_context_is_capped_leaving_room_for_completions():
    assert capped_max_tokens(1_000, 8_000, 32_768, keep=3_200) == 8_000  # fits: as asked
    capped = capped_max_tokens(1_000, 10**9, 32_768, keep=3_200)
    assert capped == 32_768 - 1_000 - 3_200 - RESERVE_SLACK
    assert 1_000 + capped + RESERVE_SLACK + 3_200 == 32_768  # a completion still fits
    assert capped_max_tokens(1_000, 10**9, 32_768, keep=0) == 32_768 - 1_000 - RESERVE_SLACK
    # A prompt that leaves less than the room kept: what the context holds, alone.
    assert capped_max_tokens(31_000, 10**9, 32_768, keep=3_200) == 1_768
