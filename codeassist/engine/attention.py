"""Attention over a KV cache with grouped KV heads, without copying K/V per query head.

transformers' sdpa path repeats K and V to every query head when a mask is given (a chunk of
prefill), which at 256K context is gigabytes per global layer. Here each KV head attends with
its own group of query heads through a stride-0 view instead; a single decode token packs the
group into the query length, as transformers does.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface

NAME = "codeassist_gqa"


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
    outs = []
    for g in range(groups):
        q = query[:, g * rep : (g + 1) * rep]
        k = key[:, g : g + 1].expand(batch, rep, key.shape[2], key.shape[3])
        v = value[:, g : g + 1].expand(batch, rep, value.shape[2], value.shape[3])
        outs.append(
            torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=attention_mask, scale=scaling
            )
        )
    return torch.cat(outs, dim=1).transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, gqa_attention)
