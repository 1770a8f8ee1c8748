"""The engine's own byte accounting against the memory plan, on the tiny (scaled-down) config.

At several contexts: what the engine allocates at load (weights, the full-attention pool, the
sliding rings) must be exactly what the plan counts, and the transient memory actually
allocated while the last chunk of the longest prompt is prefilled (the worst moment; measured
from the profiler's allocation events) must stay under the plan's activation figure, without
the plan being a blanket overestimate. The prefix cache keeps ring copies only (never the whole
K/V), within its budget, checked before any copy is made.
"""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams, layout
from codeassist.engine.plan import memory_plan

MiB = 2**20


def _prompt(n: int, seed: int = 0) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


def _peak(prof) -> int:
    """Peak of bytes allocated (net of frees) since profiling started."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    running = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        running += event.nbytes()
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize(
    ("quantize", "context", "chunk", "segment"),
    [
        ("nf4", 300, 128, None),  # shorter than window + slack
        ("none", 1500, 512, None),  # full-attention layers read in one piece
        ("nf4", 3000, 1024, 1024),  # ... and in three segments merged by their statistics
    ],
)
def test_engine_bytes_match_the_plan(
    tiny_checkpoint, monkeypatch, quantize, context, chunk, segment
):
    if segment:
        monkeypatch.setattr(layout, "SEGMENT", segment)
    settings = EngineSettings(quantize=quantize, prefill_chunk=chunk, prefix_cache_mib=4)
    engine = Engine.load(str(tiny_checkpoint), settings, context=context)
    plan = memory_plan(
        str(tiny_checkpoint),
        context=context,
        quantize=quantize,
        prefill_chunk=chunk,
        prefix_cache_bytes=4 * MiB,
        sequences=engine.max_sequences,
        device="cpu",
    )
    held = engine.memory()
    assert engine.max_context == context
    assert held.weights == plan.weights_bytes
    assert held.kv_pool == plan.kv_pool_bytes and held.rings == plan.ring_bytes
    assert held.graphs == plan.graph_pool_bytes == 0  # no CUDA graphs on the CPU
    # the worst moment: the last chunk of the longest prompt, the prefix cache filling up
    seq = engine.add_request(_prompt(context - 1), SamplingParams(temperature=0.7, max_tokens=1))
    while seq.prefilled + chunk < len(seq.prompt_ids):
        engine.step(seq)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = engine.step(seq)
    assert out.token_id is not None and out.finished
    transient = _peak(prof)
    assert transient <= plan.activation_bytes_per_chunk
    assert transient >= plan.activation_bytes_per_chunk / 6  # an estimate, not a blanket
    held = engine.memory()
    assert 0 < held.prefix_copies <= plan.prefix_cache_bytes
    assert held.total + transient <= plan.total_bytes
    engine.release(seq)


def test_the_prefix_cache_keeps_ring_copies_only(make_engine):
    """A long prompt's cache entry costs one ring copy, whatever its length: its full-attention
    blocks are shared with the pool, not copied."""
    engine = make_engine(quantize="none", prefill_chunk=256, prefix_cache_mib=8)
    sizes = []
    for length in (400, 2000):
        list(engine.generate(_prompt(length, seed=length), SamplingParams(max_tokens=1)))
        sizes.append(engine.stats()["prefix_cache_bytes"])
    snapshot = engine.kv.snapshot_bytes()
    assert sizes == [snapshot, 2 * snapshot]  # the same for 400 and 2,000 tokens
    stats = engine.stats()
    assert stats["prefix_cache_shared_blocks"] == (400 + 255) // 256 + (2000 + 255) // 256
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"] - stats["prefix_cache_shared_blocks"]


def test_the_budget_is_checked_before_copying(make_engine, monkeypatch):
    """Ring copies are made only once the budget has room for them (older entries evicted
    first), and never for an entry that could not fit at all."""
    engine = make_engine(quantize="none", prefill_chunk=256, prefix_cache_mib=0)
    cache, snapshot = engine.prefix_cache, engine.kv.snapshot_bytes()
    copy_rings = engine.kv.copy_rings
    held_at_copy = []

    def spy(row):
        held_at_copy.append(cache.nbytes)
        return copy_rings(row)

    monkeypatch.setattr(engine.kv, "copy_rings", spy)
    cache.budget = snapshot - 1  # not even one copy fits
    list(engine.generate(_prompt(300, seed=1), SamplingParams(max_tokens=1)))
    assert held_at_copy == [] and cache.entries == {}
    cache.budget = snapshot  # exactly one: the second prompt's copy comes after an eviction
    for seed in (2, 3):
        list(engine.generate(_prompt(300, seed=seed), SamplingParams(max_tokens=1)))
    assert held_at_copy == [0, 0] and cache.nbytes == snapshot and cache.evictions == 1
