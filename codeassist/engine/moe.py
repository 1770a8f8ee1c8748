"""Gemma 4's routed experts in NF4, selected on the device: no host round trip, no expert loop.

Each token picks top_k experts; an expert computes `down @ (act(gate @ x) * (up @ x))` and the
token's output is the router-weighted sum over its picks. The expert indices never leave the
device, so a decode step can be captured as one graph.

- Few (token, expert) pairs (decode, small batches): each pair's two matrices are dequantized
  by index and run as one batched matmul each. Only the routed experts are read.
- Many pairs (prefill): the pairs are sorted by expert and each matrix runs as one grouped
  matmul over all experts (each expert's rows are a contiguous group), as a fused-MoE
  kernel does; experts that no token picked contribute empty groups.
- On CUDA the Triton kernels of `engine/kernels/` do the same from the packed weights
  directly: decode in two launches (gate_up + activation; down + weighted sum), prefill in two
  grouped launches after a device-side sort.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from codeassist.engine.kernels import use_triton
from codeassist.engine.nf4 import NF4Stack

try:
    from torch.nn.functional import grouped_mm
except ImportError:  # torch < 2.9
    grouped_mm = None
HAS_GROUPED_MM = grouped_mm is not None


class NF4Experts(nn.Module):
    """Replaces transformers' Gemma4TextExperts; same call: (hidden, top_k_index, top_k_weights)."""

    def __init__(self, config, double_quant: bool, device="meta") -> None:
        super().__init__()
        self.num_experts = config.num_experts
        self.hidden_size, self.inner_size = config.hidden_size, config.moe_intermediate_size
        self.activation = config.hidden_activation
        self.gate_up = NF4Stack(
            self.num_experts, 2 * self.inner_size, self.hidden_size, double_quant, device
        )
        self.down = NF4Stack(
            self.num_experts, self.hidden_size, self.inner_size, double_quant, device
        )
        if self.activation != "gelu_pytorch_tanh":  # the one the Triton kernels compute
            raise ValueError(f"unsupported expert activation {self.activation!r}")
        self.act_fn = ACT2FN[self.activation]
        self.backend = "auto"  # auto | triton | torch (tests force one)

    def forward(
        self, hidden: torch.Tensor, topk_ids: torch.Tensor, topk_weights: torch.Tensor
    ) -> torch.Tensor:
        """[T, H] output for hidden [T, H], topk_ids [T, k] (device ints), topk_weights [T, k]."""
        few = topk_ids.numel() < self.num_experts  # decode and small batches
        if use_triton(self.backend, hidden):
            from codeassist.engine.kernels import nf4_gemv, nf4_grouped

            kernel = nf4_gemv.experts_decode if few else nf4_grouped.experts_prefill
            return kernel(self.gate_up, self.down, hidden, topk_ids, topk_weights)
        if few or not HAS_GROUPED_MM:
            return self.gathered(hidden, topk_ids, topk_weights)
        return self.grouped(hidden, topk_ids, topk_weights)

    def activate(self, gate_up: torch.Tensor) -> torch.Tensor:
        gate, up = gate_up.chunk(2, dim=-1)
        return self.act_fn(gate) * up

    def gathered(
        self, hidden: torch.Tensor, topk_ids: torch.Tensor, topk_weights: torch.Tensor
    ) -> torch.Tensor:
        """Pure torch, few pairs: dequantize each pair's expert by index, batched matmuls.

        Without grouped_mm (torch < 2.9) prefill comes here too, a slice of tokens at a time so
        that at most about num_experts matrices are dequantized at once.
        """
        tokens, top_k = topk_ids.shape
        step = max(1, self.num_experts // top_k)
        if tokens > step:
            parts = [
                self.gathered(
                    hidden[lo : lo + step], topk_ids[lo : lo + step], topk_weights[lo : lo + step]
                )
                for lo in range(0, tokens, step)
            ]
            return torch.cat(parts)
        ids = topk_ids.reshape(-1)
        gate_up = self.gate_up.dequantize(ids, hidden.dtype)  # [P, 2I, H]
        x = hidden[:, None, :, None].expand(tokens, top_k, self.hidden_size, 1)
        h = torch.matmul(gate_up.view(tokens, top_k, 2 * self.inner_size, -1), x)
        a = self.activate(h.squeeze(-1))  # [T, k, I]
        down = self.down.dequantize(ids, hidden.dtype)  # [P, H, I]
        y = torch.matmul(down.view(tokens, top_k, self.hidden_size, -1), a[..., None])
        return _weighted_sum(y.squeeze(-1), topk_weights, hidden.dtype)

    def grouped(
        self, hidden: torch.Tensor, topk_ids: torch.Tensor, topk_weights: torch.Tensor
    ) -> torch.Tensor:
        """Pure torch, many pairs: pairs sorted by expert, one grouped matmul per matrix."""
        tokens, top_k = topk_ids.shape
        sorted_ids, order = torch.sort(topk_ids.reshape(-1), stable=True)
        experts = torch.arange(self.num_experts, device=hidden.device, dtype=sorted_ids.dtype)
        ends = torch.searchsorted(sorted_ids, experts, right=True).to(torch.int32)
        token_of_pair = order // top_k
        x = hidden[token_of_pair]  # [P, H], grouped by expert
        gate_up = self.gate_up.dequantize(None, hidden.dtype)  # [E, 2I, H]
        a = self.activate(grouped_mm(x, gate_up.transpose(1, 2), offs=ends))
        down = self.down.dequantize(None, hidden.dtype)  # [E, H, I]
        y = grouped_mm(a, down.transpose(1, 2), offs=ends)  # [P, H]
        weighted = y.float() * topk_weights.reshape(-1)[order, None].float()
        out = torch.zeros(tokens, self.hidden_size, dtype=torch.float32, device=hidden.device)
        return out.index_add_(0, token_of_pair, weighted).to(hidden.dtype)


def _weighted_sum(y: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """sum_j weights[t, j] * y[t, j] in float32: [T, k, H], [T, k] -> [T, H]."""
    return torch.bmm(weights[:, None, :].float(), y.float()).squeeze(1).to(dtype)
