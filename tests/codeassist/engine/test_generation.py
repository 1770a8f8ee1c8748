"""The engine interface end to end on the tiny checkpoint: requests, steps, stops, cancellation.

Runs that must repeat each other bit for bit clear the prefix cache first: a prompt resumed
from the cache is prefilled in other chunks than a cold one, and in bf16 that can change the
last bit of a logit (float32 runs are compared with the cache on: test_reference.py).
"""

from __future__ import annotations

import threading

import pytest

from codeassist.engine import SamplingParams
from codeassist.errors import UserError
from codeassist.gemma4.tokens import BOS, EMPTY_THOUGHT, FIXED_IDS, STOP_TOKENS, THINK, TURN_OPEN

GREEDY = SamplingParams(temperature=0, max_tokens=12)


def _run(engine, prompt, params):
    outs = list(engine.generate(prompt, params))
    return outs, [o.token_id for o in outs if o.token_id is not None], "".join(o.text for o in outs)


def test_encode_chat_renders_gemma4_turns(nf4_engine):
    ids = nf4_engine.encode_chat([{"role": "user", "content": "hi"}], enable_thinking=False)
    text = nf4_engine.tokenizer.decode(ids, skip_special_tokens=False)
    assert ids[0] == FIXED_IDS[BOS] and ids.count(FIXED_IDS[BOS]) == 1
    assert text.endswith(f"{TURN_OPEN}model\n{EMPTY_THOUGHT}")
    thinking = nf4_engine.encode_chat([{"role": "user", "content": "hi"}], enable_thinking=True)
    thinking_text = nf4_engine.tokenizer.decode(thinking, skip_special_tokens=False)
    assert THINK in thinking_text and not thinking_text.endswith(EMPTY_THOUGHT)
    assert nf4_engine.encode("<|turn>user") == [
        FIXED_IDS[TURN_OPEN],
        *nf4_engine.encode("user"),
    ]


def test_generate_streams_until_max_tokens(nf4_engine):
    prompt = nf4_engine.encode_chat(
        [{"role": "user", "content": "def add(a, b):"}], enable_thinking=False
    )
    outs, tokens, text = _run(nf4_engine, prompt, GREEDY)
    # prompt of more than one chunk: prefill steps first (no token), then one token per step
    prefill_steps = -(-len(prompt) // 64)
    assert [o.token_id for o in outs[: prefill_steps - 1]] == [None] * (prefill_steps - 1)
    assert len(tokens) == 12 and outs[-1].finished and outs[-1].finish_reason == "length"
    assert all(not o.finished for o in outs[:-1])
    shown = [i for i in tokens if i not in nf4_engine.hidden_ids]
    assert text == nf4_engine.tokenizer.decode(shown, skip_special_tokens=False).rstrip("\ufffd")
    nf4_engine.prefix_cache.clear()
    again = _run(nf4_engine, prompt, GREEDY)[1]
    assert again == tokens  # greedy is deterministic


def test_seeded_sampling_is_reproducible(nf4_engine):
    prompt = nf4_engine.encode("<bos>hello")
    params = SamplingParams(temperature=1.0, max_tokens=10, seed=7)
    nf4_engine.prefix_cache.clear()
    first = _run(nf4_engine, prompt, params)[1]
    nf4_engine.prefix_cache.clear()
    assert _run(nf4_engine, prompt, params)[1] == first
    other = _run(nf4_engine, prompt, SamplingParams(temperature=1.0, max_tokens=10, seed=8))[1]
    assert other != first


def test_stop_string_cuts_the_text(nf4_engine):
    prompt = nf4_engine.encode("<bos>import os\n")
    nf4_engine.prefix_cache.clear()
    _, _, text = _run(nf4_engine, prompt, SamplingParams(temperature=0, max_tokens=20))
    stop = text[5:8]
    assert len(stop) == 3
    nf4_engine.prefix_cache.clear()
    outs, _, cut = _run(
        nf4_engine, prompt, SamplingParams(temperature=0, max_tokens=20, stop=[stop])
    )
    assert cut == text[: text.index(stop)]
    assert outs[-1].finish_reason == "stop" and len(outs) < 21


def test_stop_tokens_end_generation(nf4_engine):
    import torch

    stop_ids = {nf4_engine.tokenizer.convert_tokens_to_ids(tok) for tok in STOP_TOKENS}
    assert nf4_engine.stop_ids == stop_ids and len(stop_ids) == 3
    # Find prompts after which the (random) model's greedy choice is a stop token.
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        ids = [2, *torch.randint(110, 1000, (150,), generator=generator).tolist()]
        greedy = nf4_engine.prompt_logits(ids).argmax(-1).tolist()
        for end, token in enumerate(greedy, start=1):
            if token not in stop_ids:
                continue
            outs, tokens, text = _run(
                nf4_engine, ids[:end], SamplingParams(temperature=0, max_tokens=8)
            )
            if tokens[0] in stop_ids:
                assert len(tokens) == 1 and outs[-1].finished and outs[-1].finish_reason == "stop"
                assert text == ""  # the stop token itself is not part of the text
                return
    pytest.fail("no prompt found whose greedy continuation is a stop token")


def test_interleaved_steps_match_separate_runs(nf4_engine):
    a = nf4_engine.encode("<bos>class Foo:\n    def bar(self):")
    b = nf4_engine.encode("<bos>SELECT * FROM users WHERE")
    nf4_engine.prefix_cache.clear()
    alone = [_run(nf4_engine, p, GREEDY)[1] for p in (a, b)]
    nf4_engine.prefix_cache.clear()
    seqs = [nf4_engine.add_request(p, GREEDY) for p in (a, b)]
    got = [[], []]
    while not all(s.finished for s in seqs):
        for i, seq in enumerate(seqs):
            if not seq.finished:
                out = nf4_engine.step(seq)
                if out.token_id is not None:
                    got[i].append(out.token_id)
    for seq in seqs:
        nf4_engine.release(seq)
    assert got == alone
    assert nf4_engine.stats()["live_sequences"] == 0


def test_cancel_stops_within_one_step(nf4_engine):
    prompt = nf4_engine.encode("<bos>while True:")
    # a random model may sample a stop token early: take a seed whose first tokens do not stop
    for seed in range(100):
        params = SamplingParams(max_tokens=200, seed=seed)
        uncancelled = _run(nf4_engine, prompt, SamplingParams(max_tokens=5, seed=seed))[0]
        if uncancelled[-1].finish_reason == "length":
            break
    else:
        pytest.fail("no seed found whose first 5 tokens do not stop")
    cancel = threading.Event()
    seen = []
    for out in nf4_engine.generate(prompt, params, cancel=cancel):
        seen.append(out)
        if len(seen) == 3:
            cancel.set()
    assert len(seen) == 4 and seen[-1].finish_reason == "cancelled" and seen[-1].finished
    assert nf4_engine.stats()["live_sequences"] == 0


def test_release_mid_request_frees_kv(make_engine):
    engine = make_engine(prefix_cache_mib=0)
    seq = engine.add_request(engine.encode("<bos>x = 1"), SamplingParams(max_tokens=50, seed=1))
    engine.step(seq)
    engine.step(seq)
    stats = engine.stats()
    assert stats["kv_tokens_in_use"] > 0 and stats["kv_blocks_free"] < stats["kv_blocks_total"]
    engine.release(seq)
    stats = engine.stats()
    assert seq.kv is None and stats["kv_tokens_in_use"] == 0
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"]
    assert engine.step(seq).finish_reason == "cancelled"


def test_bad_requests_get_clear_errors(nf4_engine):
    with pytest.raises(UserError, match="empty"):
        nf4_engine.add_request([], GREEDY)
    with pytest.raises(UserError, match="at most"):
        nf4_engine.add_request([5] * (nf4_engine.max_context + 1), GREEDY)


def test_stats_count_tokens(make_engine):
    engine = make_engine(prefix_cache_mib=0)
    prompt = engine.encode("<bos>print('hello')")
    _run(engine, prompt, SamplingParams(temperature=0, max_tokens=5))
    stats = engine.stats()
    assert stats["prompt_tokens"] == len(prompt) == stats["computed_tokens"]
    assert stats["generated_tokens"] == 5 and stats["reused_tokens"] == 0
    assert stats["device"] == "cpu" and stats["weights_bytes"] > 0


def test_filler_tokens_never_reach_the_text_but_control_tokens_do(nf4_engine):
    engine = nf4_engine
    unused = engine.tokenizer.convert_tokens_to_ids("<unused7>")
    channel = engine.tokenizer.convert_tokens_to_ids("<|channel>")
    assert unused in engine.hidden_ids and channel not in engine.hidden_ids
    texts = []
    for seed in range(4):
        outputs = list(
            engine.generate(engine.encode("<bos>x"), SamplingParams(max_tokens=48, seed=seed))
        )
        texts.append("".join(o.text for o in outputs))
    assert not any("<unused" in text or "<pad>" in text for text in texts)
    assert any(text.strip() for text in texts)
