"""Attention with grouped KV heads over the engine's K/V storage, and the masks that govern it.

Masks are computed from positions, never stored: a key is visible to a query when it is not
in the future, is a real position (>= 0; ring slots never written are labelled negative) and,
on sliding layers, lies within the window. Each KV head attends with its own group of query
heads (a stride-0 view, never a copy of K/V per query head). Prefill goes in query blocks small
enough that a kernel which materializes its score matrix (PyTorch's math kernel, the one used
for head dim 512) stays within SCORE_BUDGET bytes, and a long full-attention context is read in
segments of SEGMENT positions merged by their softmax statistics, so no step ever holds a copy
of the whole context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.nn.functional import scaled_dot_product_attention

from codeassist.engine import layout

Segment = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # keys, values [h, L, d]; pos [L]


def visible(query_pos: torch.Tensor, key_pos: torch.Tensor, window: int | None) -> torch.Tensor:
    """Booleans (broadcast of query_pos and key_pos): may a query see a key."""
    ok = (key_pos <= query_pos) & (key_pos >= 0)
    if window is not None:
        ok = ok & (key_pos > query_pos - window)
    return ok


def ring_positions(newest: torch.Tensor, ring: int) -> torch.Tensor:
    """[..., ring]: the position each slot of a ring holds when its newest position is newest.

    Slot t holds the latest position p <= newest with p % ring == t; slots never written come
    out negative (invisible).
    """
    slots = torch.arange(ring, device=newest.device)
    last = newest[..., None]
    return last - torch.remainder(last - slots, ring)


def decode_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    allowed: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """query [B, H, d], keys/values [B, h, L, d], allowed [B, L] -> [B, H, d]."""
    batch, heads, dim = query.shape
    groups = keys.shape[1]
    packed = query.view(batch, groups, heads // groups, dim)
    out = scaled_dot_product_attention(
        packed, keys, values, attn_mask=allowed[:, None, None, :], scale=scale
    )
    return out.reshape(batch, heads, -1)


def prefill_attention(
    query: torch.Tensor,
    segments: Callable[[], Iterator[Segment]],
    query_pos: torch.Tensor,
    window: int | None,
    scale: float,
    single: bool,
) -> torch.Tensor:
    """query [H, T, d] against the keys of `segments()` -> [T, H, d].

    single: segments() yields exactly one segment (attention in one pass per query block).
    """
    heads, length, _ = query.shape
    if single:
        ((keys, values, key_pos),) = list(segments())
        return _one_pass(query, keys, values, visible(query_pos[:, None], key_pos, window), scale)
    groups = None
    out = None
    for keys, values, key_pos in segments():
        groups = keys.shape[0]
        if out is None:
            out = _Merge(heads, length, values.shape[-1], query.device)
        mask = visible(query_pos[:, None], key_pos, window)
        out.add(query, keys, values, mask, scale)
    assert out is not None and groups is not None
    return out.result().to(query.dtype).transpose(0, 1)


def _query_block(heads_per_group: int, length: int, keys: int) -> int:
    return max(1, min(length, layout.SCORE_BUDGET // (4 * heads_per_group * max(1, keys))))


def _one_pass(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, scale: float
) -> torch.Tensor:
    heads, length, _ = query.shape
    groups = keys.shape[0]
    rep = heads // groups
    block = _query_block(rep, length, keys.shape[1])
    out = query.new_empty(heads, length, values.shape[-1])
    for g in range(groups):
        # 4-D operands: PyTorch's fused CPU kernel takes them (3-D ones fall back to the math
        # kernel, 2.5x slower); the group's K/V is a stride-0 view, never a copy per head
        k = keys[None, g : g + 1].expand(1, rep, *keys.shape[1:])
        v = values[None, g : g + 1].expand(1, rep, *values.shape[1:])
        for lo in range(0, length, block):
            hi = min(length, lo + block)
            out[g * rep : (g + 1) * rep, lo:hi] = scaled_dot_product_attention(
                query[None, g * rep : (g + 1) * rep, lo:hi],
                k,
                v,
                attn_mask=mask[None, None, lo:hi],
                scale=scale,
            )[0]
    return out.transpose(0, 1)


class _Merge:
    """Softmax over several key segments, one at a time (running max, sum and output)."""

    def __init__(self, heads: int, length: int, dim: int, device: torch.device) -> None:
        self.top = torch.full((heads, length, 1), float("-inf"), device=device)
        self.total = torch.zeros(heads, length, 1, device=device)
        self.acc = torch.zeros(heads, length, dim, device=device)

    def add(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
        scale: float,
    ) -> None:
        heads, length, _ = query.shape
        groups = keys.shape[0]
        rep = heads // groups
        block = _query_block(rep, length, keys.shape[1])
        for g in range(groups):
            rows = slice(g * rep, (g + 1) * rep)
            k, v = keys[g].float(), values[g].float()
            for lo in range(0, length, block):
                hi = min(length, lo + block)
                # one score matrix per block, updated in place (SCORE_BUDGET bounds it)
                scores = query[rows, lo:hi].float() @ k.transpose(0, 1)
                scores.mul_(scale).masked_fill_(~mask[lo:hi], float("-inf"))
                top = torch.maximum(self.top[rows, lo:hi], scores.amax(-1, keepdim=True))
                safe = torch.where(torch.isinf(top), 0.0, top)
                weights = scores.sub_(safe).exp_()
                keep = torch.exp(self.top[rows, lo:hi] - safe)
                self.total[rows, lo:hi] = self.total[rows, lo:hi] * keep + weights.sum(
                    -1, keepdim=True
                )
                self.acc[rows, lo:hi] = self.acc[rows, lo:hi] * keep + weights @ v
                self.top[rows, lo:hi] = top

    def result(self) -> torch.Tensor:
        return self.acc / self.total
