"""Batched decoding (`Engine.step_many`): one forward for all decoding sequences, and each
sequence gets exactly the tokens it would get alone, greedy or sampled with a seed."""

from __future__ import annotations

import torch

from codeassist.engine import SamplingParams
from codeassist.engine.graphs import batch_bucket, context_bucket


def _prompt(n: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


def _alone(engine, prompt, params) -> list[int]:
    return [o.token_id for o in engine.generate(prompt, params) if o.token_id is not None]


def test_batched_sequences_get_the_tokens_they_get_alone(exact_engine):
    """float32: a batch of 4 runs other matrix shapes than a batch of 1, which in bf16 may
    change last bits (and so a sampled token now and then); in float32 it changes nothing."""
    engine = exact_engine
    requests = [
        (_prompt(30, 1), SamplingParams(temperature=0, max_tokens=20)),
        (_prompt(90, 2), SamplingParams(temperature=0.9, top_k=40, seed=5, max_tokens=25)),
        (_prompt(200, 3), SamplingParams(temperature=0.6, top_p=0.8, seed=6, max_tokens=15)),
        (_prompt(10, 4), SamplingParams(top_k=0, top_p=1.0, seed=7, max_tokens=30)),
    ]
    assert len(requests) == engine.max_sequences
    engine.prefix_cache.clear()  # cold runs only: bit-identical prefill chunks
    alone = []
    for p, params in requests:
        alone.append(_alone(engine, p, params))
        engine.prefix_cache.clear()
    seqs = [engine.add_request(p, params) for p, params in requests]
    got: dict[int, list[int]] = {s.id: [] for s in seqs}
    steps = 0
    while not all(s.finished for s in seqs):
        live = [s for s in seqs if not s.finished]
        for seq, out in zip(live, engine.step_many(live), strict=True):
            if out.token_id is not None:
                got[seq.id].append(out.token_id)
        steps += 1
    for seq in seqs:
        engine.release(seq)
    assert [got[s.id] for s in seqs] == alone
    assert steps <= max(len(a) for a in alone) + 3  # one forward per step for the batch
    assert engine.stats()["live_sequences"] == 0


def test_step_many_prefills_one_chunk_each_and_decodes_the_rest_together(make_engine):
    engine = make_engine(quantize="none", prefill_chunk=32, prefix_cache_mib=0)
    # seeded: an unseeded draw from the random model may be a stop token (then nothing decodes)
    decoding = [
        engine.add_request(_prompt(20, s), SamplingParams(max_tokens=50, seed=s)) for s in (1, 2)
    ]
    engine.step_many(decoding)  # each prompt fits one chunk: first tokens
    assert all(len(s.generated) == 1 for s in decoding)
    late = engine.add_request(_prompt(100, 3), SamplingParams(max_tokens=50, seed=3))
    before = engine.stats()
    outs = engine.step_many([decoding[0], late, decoding[1]])
    after = engine.stats()
    assert [o.token_id is None for o in outs] == [False, True, False]  # late: its first chunk
    assert late.prefilled == 32 and after["computed_tokens"] - before["computed_tokens"] == 32
    assert after["decode_steps"] - before["decode_steps"] == 1  # both decoders, one forward
    for seq in [*decoding, late]:
        engine.release(seq)


def test_more_sequences_than_the_engine_holds_get_a_clear_error(make_engine):
    engine = make_engine(quantize="none", prefix_cache_mib=0)
    seqs = [engine.add_request(_prompt(8, s), SamplingParams(max_tokens=5)) for s in range(5)]
    outs = engine.step_many(seqs)
    assert [o.error is None for o in outs] == [True] * 4 + [False]
    assert "all 4 sequences the engine can hold at once are running" in outs[4].error
    for seq in seqs:
        engine.release(seq)
    assert engine.step(engine.add_request(_prompt(8, 9), SamplingParams())).error is None


def test_buckets():
    assert [batch_bucket(n) for n in (1, 2, 3, 4, 5, 8)] == [1, 2, 4, 4, 8, 8]
    buckets = [context_bucket(n, 1024) for n in range(1, 100)]
    assert buckets[:8] == [1, 2, 3, 4, 6, 6, 8, 8]
    assert all(n <= b <= max(1.5 * n, n + 1) for n, b in zip(range(1, 100), buckets, strict=True))
    assert len(set(context_bucket(n, 1024) for n in range(1, 1025))) <= 20
    assert context_bucket(1000, 1024) == 1024 and context_bucket(5, 4) == 5
