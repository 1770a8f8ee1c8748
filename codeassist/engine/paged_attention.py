"""Decode attention read straight from the K/V pools: no gathered copy of the context (Triton).

The pure-torch decode step gathers each row's blocks (`pool[tables]`) before attending, which
copies the context once per layer and token: at a 256K context that is a GiB per global layer
and batch row, in memory and in bandwidth. This kernel instead walks each row's block table
and reads keys and values where they are, with an online softmax (flash-decoding): programs
over (row, KV head, split of the table), then a small merge of the splits in torch. The same
kernel reads a sliding ring, seen as `ring / S` blocks of S slots whose positions it derives
from the query's position (slot t holds the latest p <= pos with p % ring == t).

It runs on CUDA when Triton is there (engine/kernels' rule); tests run it on the CPU through
Triton's interpreter against the torch path.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import custom_op

from codeassist.engine.layout import DECODE_SPLITS


@triton.jit
def _decode_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    table_ptr,
    pos_ptr,
    acc_ptr,
    stat_ptr,
    n_table,
    per_split,
    scale,
    window,
    ring,
    HEADS: tl.constexpr,
    KV_HEADS: tl.constexpr,
    REP: tl.constexpr,
    REP_PAD: tl.constexpr,
    D: tl.constexpr,
    S: tl.constexpr,
    TILE: tl.constexpr,
    SPLITS: tl.constexpr,
):
    b = tl.program_id(0)
    g = tl.program_id(1)
    split = tl.program_id(2)
    pos = tl.load(pos_ptr + b)
    r = tl.arange(0, REP_PAD)
    d = tl.arange(0, D)
    q = tl.load(
        q_ptr + (b * HEADS + g * REP + r)[:, None] * D + d[None, :],
        mask=(r < REP)[:, None],
        other=0.0,
    ).to(tl.float32)
    q = q * scale
    top = tl.full((REP_PAD,), float("-inf"), tl.float32)
    total = tl.zeros((REP_PAD,), tl.float32)
    acc = tl.zeros((REP_PAD, D), tl.float32)
    first = split * per_split
    last = tl.minimum(first + per_split, n_table)
    for j in range(first, last):
        block = tl.load(table_ptr + b * n_table + j)
        for t0 in range(0, S, TILE):
            t = t0 + tl.arange(0, TILE)
            slot = j * S + t
            if ring > 0:  # noqa: SIM108 - Triton has no runtime conditional expression
                key_pos = pos - ((pos - slot) % ring + ring) % ring
            else:
                key_pos = slot
            ok = (key_pos <= pos) & (key_pos >= 0)
            if window > 0:
                ok = ok & (key_pos > pos - window)
            where = ((block * S + t)[:, None] * KV_HEADS + g) * D + d[None, :]
            k = tl.load(k_ptr + where).to(tl.float32)
            v = tl.load(v_ptr + where).to(tl.float32)
            scores = tl.dot(q, tl.trans(k), input_precision="ieee")
            scores = tl.where(ok[None, :], scores, float("-inf"))
            new_top = tl.maximum(top, tl.max(scores, 1))
            safe = tl.where(new_top == float("-inf"), 0.0, new_top)
            weights = tl.exp(scores - safe[:, None])
            keep = tl.exp(top - safe)
            total = total * keep + tl.sum(weights, 1)
            acc = acc * keep[:, None] + tl.dot(weights, v, input_precision="ieee")
            top = new_top
    base = (b * KV_HEADS + g) * SPLITS + split
    tl.store(acc_ptr + (base * REP_PAD + r)[:, None] * D + d[None, :], acc)
    tl.store(stat_ptr + (base * REP_PAD + r) * 2, top)
    tl.store(stat_ptr + (base * REP_PAD + r) * 2 + 1, total)


def _empty_partials(
    query: torch.Tensor, kv_heads: int, splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The op's outputs, unfilled: the kernel and the fake must agree on these shapes."""
    batch, heads, dim = query.shape
    rep_pad = max(16, triton.next_power_of_2(heads // kv_heads))
    acc = query.new_empty(batch, kv_heads, splits, rep_pad, dim, dtype=torch.float32)
    return acc, query.new_empty(batch, kv_heads, splits, rep_pad, 2, dtype=torch.float32)


# An opaque op with a shape-only fake: torch.compile puts one node in the graph (also under
# Triton's CPU interpreter, which cannot run on fake tensors), and on CUDA it is captured with
# the rest of the step.
@custom_op("codeassist::paged_decode_partials", mutates_args=())
def paged_decode_partials(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    table: torch.Tensor,
    positions: torch.Tensor,
    scale: float,
    window: int,
    ring: int,
    splits: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-split softmax partials: acc [B, h, splits, R, D] and (max, sum) [B, h, splits, R, 2]."""
    batch, heads, dim = query.shape
    slots, kv_heads = keys.shape[1], keys.shape[2]
    acc, stat = _empty_partials(query, kv_heads, splits)
    rep, rep_pad = heads // kv_heads, acc.shape[3]
    n_table = table.shape[1]
    per_split = -(-n_table // splits)
    tile = max(16, min(slots, 8192 // dim))
    _decode_kernel[(batch, kv_heads, splits)](
        query,
        keys,
        values,
        table,
        positions,
        acc,
        stat,
        n_table,
        per_split,
        scale,
        window,
        ring,
        HEADS=heads,
        KV_HEADS=kv_heads,
        REP=rep,
        REP_PAD=rep_pad,
        D=dim,
        S=slots,
        TILE=tile,
        SPLITS=splits,
    )
    return acc, stat


@paged_decode_partials.register_fake
def _(query, keys, values, table, positions, scale, window, ring, splits):
    return _empty_partials(query, keys.shape[2], splits)


def paged_decode_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    table: torch.Tensor,
    positions: torch.Tensor,
    scale: float,
    window: int | None = None,
    ring: int = 0,
) -> torch.Tensor:
    """query [B, H, D] against pool blocks keys/values [N, S, h, D] listed by table [B, NB]
    (positions [B]: each row's query position) -> [B, H, D] in query's dtype.

    ring > 0: the blocks are a ring of `ring` slots (table lists its ring / S blocks in order).
    """
    batch, heads, dim = query.shape
    kv_heads = keys.shape[2]
    acc, stat = paged_decode_partials(
        query.contiguous(),
        keys,
        values,
        table.contiguous(),
        positions.contiguous(),
        float(scale),
        int(window or 0),
        int(ring),
        DECODE_SPLITS,
    )
    top, total = stat[..., 0], stat[..., 1]
    best = top.amax(2, keepdim=True)
    weight = torch.exp(top - best)  # splits with nothing visible have top -inf: weight 0
    out = (acc * weight[..., None]).sum(2) / (total * weight).sum(2)[..., None]
    rep = heads // kv_heads
    return out[:, :, :rep].reshape(batch, heads, dim).to(query.dtype)


def ring_blocks(ring: int) -> int:
    """Slots per block when a ring of `ring` slots is read as blocks (a power of two <= 256)."""
    size = 256
    while ring % size:
        size //= 2
    return size
