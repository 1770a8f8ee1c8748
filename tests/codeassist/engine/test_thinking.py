"""Thinking split from the answer on the engine's real output."""

from __future__ import annotations

import torch

from codeassist.engine import SamplingParams
from codeassist.gemma4.prompt import ThinkingParser
from codeassist.gemma4.tokens import CHANNEL_CLOSE, CHANNEL_OPEN, STOP_TOKENS


def test_chat_without_thinking_returns_the_answer(nf4_engine):
    reply = nf4_engine.chat(
        [{"role": "user", "content": "hi"}], params=SamplingParams(temperature=0, max_tokens=6)
    )
    shown = [i for i in reply.token_ids if i not in nf4_engine.hidden_ids]
    text = nf4_engine.tokenizer.decode(shown, skip_special_tokens=False)
    assert reply.thinking == "" and reply.finish_reason in ("length", "stop")
    for stop in STOP_TOKENS:
        text = text.replace(stop, "")
    if CHANNEL_OPEN not in text:
        assert reply.answer == text.rstrip("\ufffd")


def test_thought_block_in_output_is_parsed_out(nf4_engine):
    """Find a prompt after which the model opens a thought channel; it must not reach the answer."""
    channel = nf4_engine.tokenizer.convert_tokens_to_ids(CHANNEL_OPEN)
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        ids = [2, *torch.randint(110, 1000, (150,), generator=generator).tolist()]
        greedy = nf4_engine.prompt_logits(ids).argmax(-1).tolist()
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
            assert text.startswith(CHANNEL_OPEN)  # special tokens are kept in the stream
            answer = "".join(p.text for p in pieces if p.kind == "answer")
            thinking = "".join(p.text for p in pieces if p.kind == "thinking")
            assert CHANNEL_OPEN not in answer
            if CHANNEL_CLOSE not in text:
                assert answer == "" and thinking  # an unclosed thought stays thinking
            return
    raise AssertionError("no prompt found whose greedy continuation opens a thought channel")
