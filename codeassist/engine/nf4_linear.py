"""A bias-free linear layer with its weight in NF4, and the fusion of several into one.

q/k/v (and gate/up) read the same input, so they are one matrix with their rows stacked: one
kernel per token instead of three. Blocks of 64 never straddle two of them (each part's size is
a whole number of blocks), so the fused matrix is the parts' packed bytes and block scales put
end to end; the weights are bit-for-bit those of the separate layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import linear

from codeassist.engine.kernels import GEMV_ROWS, use_triton
from codeassist.engine.nf4 import NF4Stack


class NF4Linear(nn.Module):
    """`x @ W.T` with W [out, in] in NF4; `splits` names the widths of fused outputs."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        double_quant: bool,
        device="meta",
        splits: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight4 = NF4Stack(1, out_features, in_features, double_quant, device)
        self.splits = tuple(splits) if splits else (out_features,)
        if sum(self.splits) != out_features:
            raise ValueError(f"splits {self.splits} do not add up to {out_features}")
        self.backend = "auto"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if rows <= GEMV_ROWS and use_triton(self.backend, x):
            from codeassist.engine.kernels import nf4_gemv

            return nf4_gemv.linear(self.weight4, x)
        return linear(x, self.weight4.dequantize(None, x.dtype)[0])

    @classmethod
    def fuse(cls, parts: list[NF4Linear]) -> NF4Linear:
        """One layer computing every part's output side by side (splits = their widths)."""
        first = parts[0]
        if any(p.in_features != first.in_features for p in parts):
            raise ValueError("only layers reading the same input can be fused")
        fused = cls(
            first.in_features,
            sum(p.out_features for p in parts),
            double_quant=False,  # parts' double-quantized scales are decoded to float32
            splits=tuple(p.out_features for p in parts),
        )
        fused.weight4.packed = torch.cat([p.weight4.packed for p in parts], dim=1)
        fused.weight4.absmax = torch.cat([p.weight4.block_scales() for p in parts], dim=1)
        fused.weight4.prepare()
        return fused
