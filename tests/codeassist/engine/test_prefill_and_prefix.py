"""Chunked prefill (same logits as one shot, sliding layers bounded) and prefix reuse (== cold)."""

from __future__ import annotations

import torch

from codeassist.engine import SamplingParams
from codeassist.engine.kv_cache import SequenceKV

GREEDY = SamplingParams(temperature=0, max_tokens=8)


def _prompt(n: int, seed: int = 0) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


def _tokens(engine, prompt, params=GREEDY) -> list[int]:
    return [o.token_id for o in engine.generate(prompt, params) if o.token_id is not None]


def test_chunked_prefill_equals_one_shot(exact_engine):
    prompt = _prompt(400)  # > 3 windows of 128
    window = exact_engine.window
    one_shot = SequenceKV(
        exact_engine.shapes, exact_engine.owners, torch.device("cpu"), torch.float32
    )
    want = exact_engine.runner.forward(prompt, one_shot, all_logits=True)
    chunked = SequenceKV(
        exact_engine.shapes, exact_engine.owners, torch.device("cpu"), torch.float32
    )
    got, seen = [], 0
    for start in range(0, len(prompt), 48):
        got.append(
            exact_engine.runner.forward(prompt[start : start + 48], chunked, all_logits=True)
        )
        seen = max(seen, chunked.max_sliding_len())
    got = torch.cat(got)
    assert torch.allclose(got, want, atol=1e-3, rtol=0), (got - want).abs().max()
    assert seen == window  # sliding layers never keep more than the window between chunks
    assert one_shot.max_sliding_len() == window
    full = [b for i, b in chunked.layers.items() if chunked.shapes[i].window is None]
    assert all(b.live_len() == len(prompt) for b in full)


def test_engine_prefills_in_chunks(make_engine):
    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    prompt = _prompt(300)
    outs = list(engine.generate(prompt, GREEDY))
    assert [o.token_id for o in outs[:4]] == [None] * 4  # chunks 0-64-128-192-256, then 256-300
    assert outs[4].token_id is not None
    assert engine.max_sliding_len == engine.window
    one_shot = make_engine(quantize="none", dtype="float32", prefill_chunk=4096, prefix_cache_mib=0)
    assert _tokens(one_shot, prompt) == [o.token_id for o in outs if o.token_id is not None]


def test_prefix_reuse_matches_cold_run(make_engine):
    warm = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    cold = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    first = _prompt(300)
    _tokens(warm, first)
    typed = first[:295] + [500, 501, 502]  # the user typed: the tail differs
    before = warm.stats()
    got = _tokens(warm, typed, SamplingParams(temperature=0, max_tokens=16))
    after = warm.stats()
    assert after["reused_tokens"] - before["reused_tokens"] == 295
    assert after["computed_tokens"] - before["computed_tokens"] == 3
    assert got == _tokens(cold, typed, SamplingParams(temperature=0, max_tokens=16))
    assert after["prefix_cache_hits"] == before["prefix_cache_hits"] + 1


def test_prefix_reuse_bf16_nf4_matches_cold_run(make_engine):
    warm = make_engine(prefill_chunk=64)
    cold = make_engine(prefill_chunk=64, prefix_cache_mib=0)
    first = _prompt(260, seed=3)
    _tokens(warm, first)
    typed = first[:250] + [700, 701]
    params = SamplingParams(temperature=0, max_tokens=16)
    assert _tokens(warm, typed, params) == _tokens(cold, typed, params)
    assert warm.stats()["reused_tokens"] == 250


def test_sliding_window_trap_is_respected(make_engine):
    """A cached prompt whose sliding tail moved past the shared prefix is not reused."""
    warm = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    cold = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    long = _prompt(700, seed=1)
    _tokens(warm, long)
    # the sliding tail kept runs from 700 - 128 - 256 = 316; reuse at 250 would need 122..250
    early = long[:250] + [600, 601, 602]
    before = warm.stats()["reused_tokens"]
    assert _tokens(warm, early) == _tokens(cold, early)
    assert warm.stats()["reused_tokens"] == before  # no unsafe reuse
    late = long[:600] + [600, 601]
    assert _tokens(warm, late) == _tokens(cold, late)
    assert warm.stats()["reused_tokens"] == before + 600


def test_prefix_cache_is_bounded_lru(make_engine):
    engine = make_engine(quantize="none", prefill_chunk=64, prefix_cache_mib=1)
    sizes = []
    for seed in range(6):
        _tokens(engine, _prompt(200, seed=10 + seed), SamplingParams(temperature=0, max_tokens=1))
        stats = engine.stats()
        sizes.append(stats["prefix_cache_bytes"])
        assert stats["prefix_cache_bytes"] <= stats["prefix_cache_budget_bytes"]
    assert engine.stats()["prefix_cache_evictions"] > 0
    # the most recent prompt is still there: asking it again reuses all but its last token
    last = _prompt(200, seed=15)
    before = engine.stats()["reused_tokens"]
    _tokens(engine, last, SamplingParams(temperature=0, max_tokens=1))
    assert engine.stats()["reused_tokens"] - before == 199


def test_divergence_point_is_snapshotted_for_the_next_request(make_engine):
    """Prompts that share a long context but differ well before their ends (cursor moved)."""
    warm = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    cold = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    context = _prompt(400, seed=5)
    first = context + _prompt(300, seed=6)[1:]
    second = context + _prompt(300, seed=7)[1:]
    third = context + _prompt(200, seed=8)[1:]
    _tokens(warm, first)
    assert _tokens(warm, second) == _tokens(cold, second)  # too far back: computed cold...
    stats = warm.stats()
    assert stats["reused_tokens"] == 0 and stats["prefix_snapshots"] == 1  # ...but remembered
    assert _tokens(warm, third) == _tokens(cold, third)
    assert warm.stats()["reused_tokens"] == 400


def test_stable_prefix_hint_keeps_that_state(make_engine):
    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    context = _prompt(500, seed=9)
    seq = engine.add_request(context + [300] * 300, GREEDY, stable_prefix=len(context))
    while not engine.step(seq).finished:
        pass
    engine.release(seq)
    assert engine.stats()["prefix_snapshots"] == 1
    _tokens(engine, context + [301] * 280)
    assert engine.stats()["reused_tokens"] == len(context)


def test_attention_in_query_blocks_is_exact(exact_engine, monkeypatch):
    """Bounding the score matrix (queries in blocks) changes nothing but memory."""
    from codeassist.engine import attention

    prompt = _prompt(150, seed=4)

    def run():
        kv = SequenceKV(
            exact_engine.shapes, exact_engine.owners, torch.device("cpu"), torch.float32
        )
        return exact_engine.runner.forward(prompt, kv, all_logits=True)

    whole = run()
    monkeypatch.setattr(attention, "SCORE_BUDGET", 1)  # one query per block
    assert torch.allclose(run(), whole, atol=1e-4, rtol=0)
