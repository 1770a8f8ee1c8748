"""Attention over a KV cache with grouped KV heads, without copying K/V per query head.

transformers' sdpa path repeats K and V to every query head when a mask is given (a chunk of
prefill), which at 256K context is gigabytes per global layer. Here each KV head attends with
its own group of query heads through a stride-0 view instead; a single decode token packs the
group into the query length, as transformers does. Queries go in blocks small enough that an
attention kernel which materializes its score matrix (PyTorch falls back to the math kernel
for head dim 512, the global layers) stays within SCORE_BUDGET bytes at any context.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface

NAME = "codeassist_gqa"
SCORE_BUDGET = 256 * 2**20


def gqa_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """query [b, H, q, d], key/value [b, h, k, d], mask [b|1, 1, q, k] -> ([b, q, H, d], None)."""
    batch, heads, length, dim = query.shape
    groups = key.shape[1]
    rep = heads // groups
    if length == 1:
        packed = query.reshape(batch, groups, rep, dim)
        out = torch.nn.functional.scaled_dot_product_attention(
            packed, key, value, attn_mask=attention_mask, scale=scaling
        )
        return out.reshape(batch, heads, 1, -1).transpose(1, 2).contiguous(), None
    block = max(1, SCORE_BUDGET // (4 * batch * rep * key.shape[2]))
    out = query.new_empty(batch, heads, length, value.shape[3])
    for g in range(groups):
        k = key[:, g : g + 1].expand(batch, rep, key.shape[2], key.shape[3])
        v = value[:, g : g + 1].expand(batch, rep, value.shape[2], value.shape[3])
        for lo in range(0, length, block):
            hi = min(length, lo + block)
            mask = None if attention_mask is None else attention_mask[:, :, lo:hi]
            out[:, g * rep : (g + 1) * rep, lo:hi] = (
                torch.nn.functional.scaled_dot_product_attention(
                    query[:, g * rep : (g + 1) * rep, lo:hi], k, v, attn_mask=mask, scale=scaling
                )
            )
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, gqa_attention)
