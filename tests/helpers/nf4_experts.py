"""For the engine's 4-bit layer tests: small expert blocks, and bitsandbytes' own reading of
our NF4 buffers (the reference the layers are held to)."""

from __future__ import annotations

from types import SimpleNamespace

import bitsandbytes.functional as bnbf
import torch
from torch.nn.functional import linear

from codeassist.engine.moe import NF4Experts
from codeassist.engine.nf4 import BLOCK, NESTED_BLOCK, NF4Stack

CONFIG = SimpleNamespace(
    num_experts=8, hidden_size=128, moe_intermediate_size=64, hidden_activation="gelu_pytorch_tanh"
)


def make_block(double_quant: bool = False, seed: int = 0) -> NF4Experts:
    """8 experts, hidden 128, inner 64, random weights in NF4; pure-torch backend."""
    torch.manual_seed(seed)
    block = NF4Experts(CONFIG, double_quant, device="cpu")
    block.gate_up.load_float(torch.randn(8, 128, 128) * 0.05, "cpu")
    block.down.load_float(torch.randn(8, 128, 64) * 0.05, "cpu")
    block.backend = "torch"
    return block


def routing(tokens: int, top_k: int = 2, seed: int = 0):
    """(hidden [T, 128] bf16, distinct expert ids [T, top_k], router weights [T, top_k])."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randperm(8, generator=generator)[:top_k] for _ in range(tokens)])
    weights = torch.rand(tokens, top_k, generator=generator)
    hidden = torch.randn(tokens, 128, generator=generator).to(torch.bfloat16)
    return hidden, ids, weights


def bnb_state(stack: NF4Stack, e: int, dtype: torch.dtype) -> bnbf.QuantState:
    nested = offset = None
    if stack.double_quant:
        nested = bnbf.QuantState(
            absmax=stack.absmax_scale[e],
            code=stack.absmax_code,
            blocksize=NESTED_BLOCK,
            dtype=torch.float32,
        )
        offset = stack.absmax_offset[e]
    return bnbf.QuantState(
        absmax=stack.absmax[e],
        shape=torch.Size((stack.out_features, stack.in_features)),
        code=bnbf.get_4bit_type("nf4", device=stack.packed.device),
        blocksize=BLOCK,
        quant_type="nf4",
        dtype=dtype,
        offset=offset,
        state2=nested,
    )


def bnb_dequantize(stack: NF4Stack, e: int, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """Matrix e as bitsandbytes dequantizes it."""
    packed = stack.packed[e].view(-1, 1)
    return bnbf.dequantize_4bit(packed, bnb_state(stack, e, dtype))


def bnb_experts(block, hidden: torch.Tensor, ids: torch.Tensor, weights: torch.Tensor):
    """The routed experts token by token, slot by slot, on bitsandbytes' dequantized weights."""
    out = torch.zeros(hidden.shape, dtype=torch.float32)
    for t in range(hidden.shape[0]):
        for j in range(ids.shape[1]):
            e = int(ids[t, j])
            gate, up = linear(hidden[t], bnb_dequantize(block.gate_up, e, hidden.dtype)).chunk(2)
            a = block.act_fn(gate) * up
            y = linear(a, bnb_dequantize(block.down, e, hidden.dtype))
            out[t] += weights[t, j].float() * y.float()
    return out.to(hidden.dtype)
