"""Sizes the engine's code and its memory plan share: plain numbers, no torch.

The plan (engine/plan.py) counts the bytes the engine allocates from these, and must import
without torch: the review command and the pre-commit hook ask it for the context window.
"""

from __future__ import annotations

BLOCK = 256  # tokens per full-attention K/V block (engine/kv_cache.py)

# attention (engine/attention.py): bytes of float32 scores one prefill query block may hold,
# and the positions of a full-attention layer read at once during prefill
SCORE_BUDGET = 256 * 2**20
SEGMENT = 16384

# The paged decode kernel's programs per (row, KV head), each walking 1/DECODE_SPLITS of the
# row's block table: a constant, not a function of the shapes, so one compiled decode step
# serves every (batch, context) bucket (splits with no block left return at once).
DECODE_SPLITS = 32


def blocks_for(tokens: int) -> int:
    """Full-attention blocks that hold `tokens` positions."""
    return -(-tokens // BLOCK)
