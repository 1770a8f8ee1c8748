"""The token estimator used when no model tokenizer is available.

It counts what a code BPE tokenizer usually splits apart: each run of letters/digits costs
one token per 4 characters (rounded up), each punctuation character one token, each line
break one token; runs of spaces are free (tokenizers merge indentation). Code BPE
vocabularies hold whole common identifiers, so this tends to count more tokens than a real
tokenizer does: the safe side for a budget. Pass the model tokenizer's counter when exact
figures matter.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]|\n")


def estimate_tokens(text: str) -> int:
    """Estimated tokens in `text` (see the module docstring for the rule)."""
    total = 0
    for m in _WORD.findall(text):
        n = len(m)
        total += (n + 3) // 4 if n > 1 else 1
    return total
