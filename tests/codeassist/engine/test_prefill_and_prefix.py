"""Chunked prefill (same logits as one shot, sliding layers bounded) and prefix reuse (== cold)."""

from __future__ import annotations

import torch

from codeassist.engine import SamplingParams
from codeassist.engine.plan import PREFIX_SLACK

GREEDY = SamplingParams(temperature=0, max_tokens=8)


def _prompt(n: int, seed: int = 0) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


def _tokens(engine, prompt, params=GREEDY) -> list[int]:
    return [o.token_id for o in engine.generate(prompt, params) if o.token_id is not None]


def test_chunked_prefill_equals_one_shot(make_engine):
    """Logits of every position: one chunk, chunks of 48 and chunks of 7 (a 400-token prompt
    is over three windows of 128); the sliding rings stay window + slack whatever the length."""
    prompt = _prompt(400)
    logits = []
    for chunk in (4096, 48, 7):
        engine = make_engine(
            quantize="none", dtype="float32", prefill_chunk=chunk, prefix_cache_mib=0
        )
        logits.append(engine.prompt_logits(prompt))
        kv = engine.kv
        assert kv.ring == engine.window + PREFIX_SLACK
        for layer in kv.sliding_layers:
            assert kv.keys[layer].shape[:2] == (engine.max_sequences + 1, kv.ring)
    for got in logits[1:]:
        assert torch.allclose(got, logits[0], atol=1e-4, rtol=0), (got - logits[0]).abs().max()


def test_engine_prefills_in_chunks(make_engine):
    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64, prefix_cache_mib=0)
    prompt = _prompt(300)
    outs = list(engine.generate(prompt, GREEDY))
    assert [o.token_id for o in outs[:4]] == [None] * 4  # chunks 0-64-128-192-256, then 256-300
    assert outs[4].token_id is not None
    assert engine.stats()["computed_tokens"] == 300
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
    """The product path (NF4, bf16): a warm prompt's next-token logits equal a cold run's up to
    bf16 rounding. (Its last chunk is prefilled in other pieces than a cold run's, which in bf16
    moves last bits; on this random model bf16 itself is ~1 logit from float32, so exactness is
    checked in float32: test_prefix_reuse_matches_cold_run, test_reference.py.)"""
    warm = make_engine(prefill_chunk=64)
    cold = make_engine(prefill_chunk=64, prefix_cache_mib=0)
    _tokens(warm, _prompt(260, seed=3))
    typed = _prompt(260, seed=3)[:250] + [700, 701]
    rows = []
    for engine in (warm, cold):
        engine.logits_hook = lambda seq, logits: rows.append(logits.float())
        _tokens(engine, typed, SamplingParams(temperature=0, max_tokens=1))
    assert warm.stats()["reused_tokens"] == 250 and cold.stats()["reused_tokens"] == 0
    assert (rows[0] - rows[1]).abs().max() < 0.1


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


def test_attention_in_query_blocks_and_key_segments_is_exact(exact_engine, monkeypatch):
    """Bounding the score matrix (queries in blocks) and reading a long full-attention context
    in segments merged by their softmax statistics change nothing but memory."""
    from codeassist.engine import layout

    prompt = _prompt(150, seed=4)
    whole = exact_engine.prompt_logits(prompt)
    monkeypatch.setattr(layout, "SCORE_BUDGET", 1)  # one query per block
    assert torch.allclose(exact_engine.prompt_logits(prompt), whole, atol=1e-4, rtol=0)
    monkeypatch.setattr(layout, "SEGMENT", 32)  # five segments at the end
    assert torch.allclose(exact_engine.prompt_logits(prompt), whole, atol=1e-4, rtol=0)
