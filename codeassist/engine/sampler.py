"""Token sampling on the device, for a batch of rows each with its own parameters.

Everything here is tensor arithmetic of fixed shapes, so it runs inside the captured decode
graph: no host reads, no per-row Python. A row samples by the Gumbel-max trick over its
temperature-scaled, top-k and top-p filtered logits; the noise is a counter-based hash of
(seed, token index, vocabulary index), so a seeded request draws the same tokens whether it
runs alone or batched with others, and no random-generator state lives on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_MASK32 = 0xFFFFFFFF
_MIX = 0x45D9F3B


@dataclass
class SamplingRows:
    """Per-row parameters of a batch (device tensors of shape [B])."""

    temperature: torch.Tensor  # float32; <= 0 means greedy
    top_k: torch.Tensor  # int64; <= 0 means no limit
    top_p: torch.Tensor  # float32; >= 1 means no limit
    seed: torch.Tensor  # int64, 0 <= seed < 2**31
    index: torch.Tensor  # int64: which generated token of its request this row draws


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer mix (values stay below 2**60, so int64 never overflows)."""
    x = (((x >> 16) ^ x) * _MIX) & _MASK32
    x = (((x >> 16) ^ x) * _MIX) & _MASK32
    return (x >> 16) ^ x


def uniform_noise(seed: torch.Tensor, index: torch.Tensor, vocab: int) -> torch.Tensor:
    """[B, vocab] floats in (0, 1), a pure function of (seed, index, vocabulary index)."""
    column = torch.arange(vocab, device=seed.device, dtype=torch.int64)
    row = _hash32((_hash32(seed & _MASK32) ^ (index & _MASK32)) & _MASK32)
    bits = _hash32((row[:, None] ^ column[None, :]) & _MASK32)
    return ((bits >> 8).to(torch.float32) + 0.5) / float(1 << 24)


def sample(logits: torch.Tensor, rows: SamplingRows, greedy_only: bool) -> torch.Tensor:
    """[B] token ids from [B, V] float32 logits."""
    greedy = logits.argmax(-1)
    if greedy_only:
        return greedy
    vocab = logits.shape[-1]
    hot = rows.temperature > 0
    scaled = logits / torch.where(hot, rows.temperature, 1.0)[:, None]
    ordered, _ = torch.sort(scaled, dim=-1, descending=True)
    rank = torch.arange(vocab, device=logits.device)[None, :]
    k = torch.where(rows.top_k > 0, rows.top_k.clamp(max=vocab), vocab)[:, None]
    in_top_k = rank < k
    probs = torch.softmax(ordered.masked_fill(~in_top_k, float("-inf")), dim=-1)
    # keep a token while the mass before it is under top_p (the first one always stays)
    before = torch.cumsum(probs, dim=-1) - probs
    keep = in_top_k & ((before < rows.top_p[:, None]) | (rank == 0))
    kept = keep.sum(-1, keepdim=True)
    threshold = ordered.gather(-1, kept - 1)
    filtered = scaled.masked_fill(scaled < threshold, float("-inf"))
    gumbel = -torch.log(-torch.log(uniform_noise(rows.seed, rows.index, vocab)))
    drawn = (filtered + gumbel).argmax(-1)
    return torch.where(hot, drawn, greedy)
