"""4-bit NF4 weights (bitsandbytes) for nn.Linear and for the fused MoE expert tensors.

`NF4Stack` holds E matrices of one shape, each quantized on its own (blocks of 64, optional
double quantization of the block scales). `NF4Linear` is a stack of one. `NF4Experts` replaces
transformers' Gemma4TextExperts: the router's choices group the tokens by expert and each chosen
expert runs as two 4-bit matmuls (`bnb.matmul_4bit`) on just its tokens; a decode step touches
top_k experts, never the whole layer, and nothing is dequantized to a full float matrix.
"""

from __future__ import annotations

from collections import Counter

import bitsandbytes as bnb
import bitsandbytes.functional as bnbf
import torch
from torch import nn
from transformers.activations import ACT2FN

BLOCK = 64
NESTED_BLOCK = 256


class NF4Stack(nn.Module):
    """E matrices of shape [out, in] in NF4; `matmul(x, e)` is x @ W[e].T."""

    def __init__(
        self, count: int, out_features: int, in_features: int, double_quant: bool, device="meta"
    ) -> None:
        super().__init__()
        self.count, self.out_features, self.in_features = count, out_features, in_features
        self.double_quant = double_quant
        numel = out_features * in_features
        blocks = -(-numel // BLOCK)
        self.register_buffer(
            "packed", torch.empty(count, (numel + 1) // 2, dtype=torch.uint8, device=device)
        )
        if double_quant:
            nested = -(-blocks // NESTED_BLOCK)
            self.register_buffer(
                "absmax", torch.empty(count, blocks, dtype=torch.uint8, device=device)
            )
            self.register_buffer(
                "absmax_offset", torch.empty(count, dtype=torch.float32, device=device)
            )
            self.register_buffer(
                "absmax_scale", torch.empty(count, nested, dtype=torch.float32, device=device)
            )
            self.register_buffer(
                "absmax_code", torch.empty(256, dtype=torch.float32, device=device)
            )
        else:
            self.register_buffer(
                "absmax", torch.empty(count, blocks, dtype=torch.float32, device=device)
            )
        self._states: list[bnbf.QuantState] | None = None
        self._states_key: tuple | None = None
        self.calls: Counter[int] = Counter()  # matmuls per matrix index, for tests and stats
        self.count_calls = False

    @torch.no_grad()
    def load_float(self, weights: torch.Tensor, device: torch.device | str) -> None:
        """Quantize [count, out, in] (or [out, in]) float weights onto device, matrix by matrix."""
        weights = weights.reshape(self.count, self.out_features, self.in_features)
        packed, absmax, offsets, scales, code = [], [], [], [], None
        for e in range(self.count):
            w = weights[e].to(device=device, dtype=torch.bfloat16).contiguous()
            q, state = bnbf.quantize_4bit(
                w, blocksize=BLOCK, compress_statistics=self.double_quant, quant_type="nf4"
            )
            packed.append(q.view(-1))
            absmax.append(state.absmax)
            if self.double_quant:
                offsets.append(state.offset.reshape(()).float())
                scales.append(state.state2.absmax)
                code = state.state2.code
        self.packed = torch.stack(packed)
        self.absmax = torch.stack(absmax)
        if self.double_quant:
            self.absmax_offset = torch.stack(offsets)
            self.absmax_scale = torch.stack(scales)
            self.absmax_code = code.float()
        self._states = None

    def _state(self, e: int) -> bnbf.QuantState:
        key = (self.packed.data_ptr(), self.absmax.data_ptr())
        if self._states is None or self._states_key != key:
            code = bnbf.get_4bit_type("nf4", device=self.packed.device)
            states = []
            for i in range(self.count):
                nested = None
                offset = None
                if self.double_quant:
                    nested = bnbf.QuantState(
                        absmax=self.absmax_scale[i],
                        code=self.absmax_code,
                        blocksize=NESTED_BLOCK,
                        dtype=torch.float32,
                    )
                    offset = self.absmax_offset[i]
                states.append(
                    bnbf.QuantState(
                        absmax=self.absmax[i],
                        shape=torch.Size((self.out_features, self.in_features)),
                        code=code,
                        blocksize=BLOCK,
                        quant_type="nf4",
                        dtype=torch.bfloat16,
                        offset=offset,
                        state2=nested,
                    )
                )
            self._states, self._states_key = states, key
        return self._states[e]

    def matmul(self, x: torch.Tensor, e: int = 0) -> torch.Tensor:
        if self.count_calls:
            self.calls[e] += 1
        return bnb.matmul_4bit(x, self.packed[e].view(-1, 1).t(), self._state(e))

    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def float_nbytes(self) -> int:
        return self.count * self.out_features * self.in_features * 2


class NF4Linear(nn.Module):
    """A bias-free nn.Linear with its weight in NF4."""

    def __init__(
        self, in_features: int, out_features: int, double_quant: bool, device="meta"
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight4 = NF4Stack(1, out_features, in_features, double_quant, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight4.matmul(x, 0)


class NF4Experts(nn.Module):
    """Gemma 4's routed experts with every expert's two matrices in NF4; only routed ones run."""

    def __init__(self, config, double_quant: bool, device="meta") -> None:
        super().__init__()
        self.num_experts = config.num_experts
        hidden, inner = config.hidden_size, config.moe_intermediate_size
        self.gate_up = NF4Stack(self.num_experts, 2 * inner, hidden, double_quant, device)
        self.down = NF4Stack(self.num_experts, hidden, inner, double_quant, device)
        self.act_fn = ACT2FN[config.hidden_activation]

    def forward(
        self, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
    ) -> torch.Tensor:
        out = torch.zeros_like(hidden_states)
        flat_experts = top_k_index.reshape(-1)
        order = torch.argsort(flat_experts, stable=True)
        experts, counts = torch.unique_consecutive(flat_experts[order], return_counts=True)
        top_k = top_k_index.shape[-1]
        start = 0
        for expert, count in zip(experts.tolist(), counts.tolist(), strict=True):
            slots = order[start : start + count]
            start += count
            tokens = slots // top_k
            x = hidden_states[tokens]
            gate, up = self.gate_up.matmul(x, expert).chunk(2, dim=-1)
            y = self.down.matmul(self.act_fn(gate) * up, expert)
            weight = top_k_weights.reshape(-1)[slots, None]
            out.index_add_(0, tokens, (y * weight).to(out.dtype))
        return out


def quantized_modules(model: nn.Module) -> list[NF4Stack]:
    return [m for m in model.modules() if isinstance(m, NF4Stack)]


def swap_in_nf4(model: nn.Module, double_quant: bool, skip: tuple[str, ...] = ("router",)) -> None:
    """Swap every nn.Linear (but those under `skip`) and every expert block for NF4 (meta)."""
    from transformers.models.gemma4.modeling_gemma4 import Gemma4TextExperts

    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if any(part in skip for part in full.split(".")):
                continue
            if isinstance(child, nn.Linear):
                if child.bias is not None:
                    raise ValueError(f"{full}: biased linear layers are not expected in Gemma 4")
                setattr(
                    module,
                    child_name,
                    NF4Linear(child.in_features, child.out_features, double_quant),
                )
            elif isinstance(child, Gemma4TextExperts):
                setattr(module, child_name, NF4Experts(model.config, double_quant))
