"""The NF4 experts' pure-torch paths: right experts, right numbers, no host sync, one graph."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.nn.functional import cosine_similarity

from codeassist.engine.moe import NF4Experts
from codeassist.engine.nf4 import NF4Stack
from tests.helpers.nf4_experts import CONFIG, bnb_experts, make_block, routing


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0).item()


@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize("tokens", [1, 3, 40])  # 3 x 2 < 8 experts: gathered; 40 x 2: grouped
def test_matches_bitsandbytes_weights_token_by_token(double_quant, tokens):
    """Same dequantized weights as the previous per-expert bitsandbytes path: same outputs."""
    block = make_block(double_quant)
    hidden, ids, weights = routing(tokens)
    want = bnb_experts(block, hidden, ids, weights)
    got = block(hidden, ids, weights)
    assert got.dtype == torch.bfloat16 and got.shape == hidden.shape
    # bf16 rounding of intermediate values only: a couple of ulps
    torch.testing.assert_close(got, want, rtol=2e-2, atol=4e-3)
    assert _cos(got, want) > 0.9999
    # and a wrong expert per token is far off the same bar
    assert _cos(block(hidden, (ids + 1) % 8, weights), want) < 0.9


def test_gathered_and_grouped_agree_and_are_batch_invariant():
    """A token's output does not depend on the path or on the other tokens of the batch."""
    block = make_block()
    hidden, ids, weights = routing(40)
    grouped = block.grouped(hidden, ids, weights)
    assert torch.equal(block.gathered(hidden, ids, weights), grouped)  # 10 slices of 4 tokens
    assert torch.equal(block(hidden[:2], ids[:2], weights[:2]), grouped[:2])


def test_decode_reads_only_the_routed_experts(monkeypatch):
    block = make_block()
    hidden, ids, weights = routing(2)  # 4 pairs < 8 experts: the gathered path
    want = block(hidden, ids, weights)
    asked: list[torch.Tensor | None] = []
    dequantize = NF4Stack.dequantize

    def spy(self, which=None, dtype=torch.bfloat16):
        asked.append(which)
        return dequantize(self, which, dtype)

    monkeypatch.setattr(NF4Stack, "dequantize", spy)
    for stack in (block.gate_up, block.down):  # poison every expert no token chose
        for e in set(range(8)) - set(ids.flatten().tolist()):
            stack.absmax[e] = float("nan")
    got = block(hidden, ids, weights)
    assert torch.equal(got, want)
    assert len(asked) == 2 and all(a is not None and a.numel() == ids.numel() for a in asked)


@pytest.mark.parametrize("tokens", [1, 40])
def test_traces_as_one_graph(tokens):
    """fullgraph=True fails on any graph break, host read (.item/.tolist) or dynamic shape.

    aot_eager traces down to ATen ops with fake tensors (what inductor and CUDA graphs get)
    without spending a minute generating C++ on the test machine.
    """
    torch._dynamo.reset()
    block = make_block()
    hidden, ids, weights = routing(tokens)
    compiled = torch.compile(block, fullgraph=True, dynamic=False, backend="aot_eager")
    assert torch.equal(compiled(hidden, ids, weights), block(hidden, ids, weights))


def test_rejects_an_activation_the_kernels_do_not_compute():
    config = SimpleNamespace(**{**vars(CONFIG), "hidden_activation": "silu"})
    with pytest.raises(ValueError, match="silu"):
        NF4Experts(config, False, device="cpu")
