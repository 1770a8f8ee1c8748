"""Out-of-memory handling, and thinking split from the answer on the engine's real output."""

from __future__ import annotations

import torch

from codeassist.engine import SamplingParams
from codeassist.engine.kv_cache import SequenceKV
from codeassist.gemma4 import tokens as t
from codeassist.gemma4.prompt import ThinkingParser


def test_out_of_memory_frees_the_request_and_says_what_fits(make_engine):
    engine = make_engine(quantize="none", prefill_chunk=64)
    engine.max_context = 2**42  # let a request ask for more KV cache than any machine has
    prompt = engine.encode("<bos>def main():")
    seq = engine.add_request(prompt, SamplingParams(max_tokens=2**41))
    out = engine.step(seq)  # the real allocation of its KV cache fails
    assert out.finished and out.finish_reason == "error"
    assert f"asked for {len(prompt) + 2**41} tokens" in out.error and "fit" in out.error
    assert seq.kv is None and engine.stats()["live_sequences"] == 0
    assert engine.stats()["errors"] == 1
    engine.max_context = 32768
    outs = list(engine.generate(prompt, SamplingParams(temperature=0, max_tokens=3)))
    assert outs[-1].finish_reason == "length"  # the engine stays usable


def test_chat_without_thinking_returns_the_answer(nf4_engine):
    reply = nf4_engine.chat(
        [{"role": "user", "content": "hi"}], params=SamplingParams(temperature=0, max_tokens=6)
    )
    text = nf4_engine.tokenizer.decode(reply.token_ids, skip_special_tokens=False)
    assert reply.thinking == "" and reply.finish_reason in ("length", "stop")
    for stop in t.STOP_TOKENS:
        text = text.replace(stop, "")
    if t.CHANNEL_OPEN not in text:
        assert reply.answer == text.rstrip("\ufffd")


def test_thought_block_in_output_is_parsed_out(nf4_engine):
    """Find a prompt after which the model opens a thought channel; it must not reach the answer."""
    channel = nf4_engine.tokenizer.convert_tokens_to_ids(t.CHANNEL_OPEN)
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        ids = [2, *torch.randint(110, 1000, (150,), generator=generator).tolist()]
        kv = SequenceKV(
            nf4_engine.shapes, nf4_engine.owners, nf4_engine.runner.device, nf4_engine.loaded.dtype
        )
        greedy = nf4_engine.runner.forward(ids, kv, all_logits=True).argmax(-1).tolist()
        for end, token in enumerate(greedy, start=1):
            if token != channel:
                continue
            params = SamplingParams(temperature=0, max_tokens=10)
            outs = list(nf4_engine.generate(ids[:end], params))
            if outs[-1].token_id is None or outs[0].token_id != channel:
                continue
            parser = ThinkingParser()
            pieces = []
            for out in outs:
                pieces += parser.feed(out.text)
            pieces += parser.finish()
            text = "".join(o.text for o in outs)
            assert text.startswith(t.CHANNEL_OPEN)  # special tokens are kept in the stream
            answer = "".join(p.text for p in pieces if p.kind == "answer")
            thinking = "".join(p.text for p in pieces if p.kind == "thinking")
            assert t.CHANNEL_OPEN not in answer
            if t.CHANNEL_CLOSE not in text:
                assert answer == "" and thinking  # an unclosed thought stays thinking
            return
    raise AssertionError("no prompt found whose greedy continuation opens a thought channel")
