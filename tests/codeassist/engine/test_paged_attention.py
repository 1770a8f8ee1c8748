"""The Triton decode-attention kernel (reads K/V in place) against the gathered torch path.

On the CPU it runs in Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1 before
anything imports Triton), which runs every program in numpy: shapes are tiny and the table is
split in 4 (32 on a GPU), enough to have splits that hold several blocks and splits that hold
none.
"""

from __future__ import annotations

import pytest
import torch

from codeassist.engine import paged_attention
from codeassist.engine.attention import decode_attention, ring_positions, visible
from codeassist.engine.paged_attention import paged_decode_attention, ring_blocks


@pytest.fixture(autouse=True)
def few_splits(monkeypatch):
    monkeypatch.setattr(paged_attention, "DECODE_SPLITS", 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blocks_in_place_equal_gathered_blocks(dtype):
    generator = torch.Generator().manual_seed(0)
    heads, kv_heads, dim, slots = 4, 2, 64, 32
    keys = torch.randn(10, slots, kv_heads, dim, generator=generator).to(dtype)
    values = torch.randn(10, slots, kv_heads, dim, generator=generator).to(dtype)
    query = torch.randn(3, heads, dim, generator=generator).to(dtype)
    table = torch.tensor([[1, 2, 3], [4, 0, 0], [5, 9, 7]])  # row 1: one block, then padding
    positions = torch.tensor([70, 10, 95])
    got = paged_decode_attention(query, keys, values, table, positions, 0.125)
    span = torch.arange(table.shape[1] * slots)
    want = decode_attention(
        query.float(),
        keys[table].flatten(1, 2).transpose(1, 2).float(),
        values[table].flatten(1, 2).transpose(1, 2).float(),
        visible(positions[:, None], span[None, :], None),
        0.125,
    )
    assert got.dtype == dtype
    assert torch.allclose(got.float(), want, atol=1e-5 if dtype == torch.float32 else 1e-2)


def test_a_ring_read_in_place_equals_the_gathered_ring():
    generator = torch.Generator().manual_seed(1)
    heads, kv_heads, dim, ring, window = 4, 1, 128, 96, 40
    keys = torch.randn(4, ring, kv_heads, dim, generator=generator)
    values = torch.randn(4, ring, kv_heads, dim, generator=generator)
    query = torch.randn(3, heads, dim, generator=generator)
    rows, positions = torch.tensor([1, 3, 2]), torch.tensor([200, 20, 95])  # wrapped, not yet
    block = ring_blocks(ring)
    per_row = ring // block
    table = rows[:, None] * per_row + torch.arange(per_row)[None, :]
    got = paged_decode_attention(
        query,
        keys.view(-1, block, kv_heads, dim),
        values.view(-1, block, kv_heads, dim),
        table,
        positions,
        0.1,
        window=window,
        ring=ring,
    )
    allowed = visible(positions[:, None], ring_positions(positions, ring), window)
    want = decode_attention(
        query, keys[rows].transpose(1, 2), values[rows].transpose(1, 2), allowed, 0.1
    )
    assert block == 32 and torch.allclose(got, want, atol=1e-5)


def test_the_engine_decodes_the_same_with_the_kernel(make_engine):
    """A whole batched decode step of the tiny model, kernel against gathered blocks."""
    from codeassist.engine import SamplingParams
    from codeassist.engine.graphs import DecodeRow, pack

    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    seqs = [
        engine.add_request([2, *range(300, 300 + n)], SamplingParams(temperature=0, max_tokens=9))
        for n in (150, 20)
    ]
    while any(s.in_prefill or not s.generated for s in seqs):
        engine.step_many(seqs)
    rows = []
    for s in seqs:
        engine.kv.grow(s.kv, s.kv.length + 1)
        rows.append(DecodeRow(s.generated[-1], s.kv.length, s.kv.row, s.kv.blocks, 0, 0, 1, 0, 1))
    ints, floats = pack(rows, *engine.graphs.buckets(rows))
    assert not engine.runner.paged()  # on the CPU the gathered path is the default...
    want, want_logits = engine.graphs.step(ints, floats, True, False)
    engine.runner.attention = "triton"
    assert engine.runner.paged()  # ...and the kernel runs when asked (interpreted here)
    got, got_logits = engine.graphs.step(ints, floats, True, True)
    assert torch.equal(got, want)
    assert torch.allclose(got_logits, want_logits, atol=1e-4)
    for seq in seqs:
        engine.release(seq)
