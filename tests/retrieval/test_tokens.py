"""The token estimator: one token per 4 characters of a word (rounded up), one per punctuation
character and per line break, indentation free."""

from __future__ import annotations

import random
import re

from retrieval import estimate_tokens


def _by_the_rule(text: str) -> int:
    pieces = re.findall(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]|\n", text)
    return sum(-(-len(p) // 4) for p in pieces)


def test_the_rule_on_examples():
    assert estimate_tokens("") == 0
    assert estimate_tokens("x") == 1
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert estimate_tokens("a_long_identifier9") == 5  # 18 characters
    assert estimate_tokens("f(x)\n") == 5  # f ( x ) and the line break
    assert estimate_tokens("        return") == 2  # indentation is free
    assert estimate_tokens("héllo wörld") == 6  # é and ö are not word characters here


def test_agrees_with_the_rule_on_random_code_like_text():
    rng = random.Random(7)
    alphabet = "abcXYZ019_ \n\t(){}.,:;'\"é€🙂"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        assert estimate_tokens(text) == _by_the_rule(text), repr(text)
