"""The token embedding and the LM head in 8 bits, one matrix for both when they are tied.

Gemma 4 ties its LM head to the embedding: [vocab, hidden] (262,144 x 2,816 on the 26B, 1.48
GB in bf16), read whole for every decoded token. Here it is stored once as int8 with one
float32 scale per 64 weights of a row (symmetric, like llama.cpp's Q8_0): 1.0625 bytes per
weight, and an error far below the 4-bit layers'. The embedding dequantizes only the rows it
looks up; the head reads the whole matrix, on CUDA through the Triton kernel that reads the
int8 weights directly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import linear

from codeassist.engine.gather import take_rows
from codeassist.engine.kernels import GEMV_ROWS, use_triton

GROUP = 64
ROWS_PER_CHUNK = 8192  # rows quantized at a time: bounds the float32 copy while loading
VOCAB_SLICE = 32768  # rows of the head dequantized at a time by the torch path


def head_nbytes(vocab: int, hidden: int) -> int:
    """Bytes of an int8 [vocab, hidden] matrix with its scales (the memory plan's figure)."""
    return vocab * hidden + vocab * (hidden // GROUP) * 4


class Int8Matrix(nn.Module):
    """[rows, cols] int8 with a float32 scale per GROUP columns: W = q * scale."""

    def __init__(self, rows: int, cols: int, device="meta") -> None:
        super().__init__()
        if cols % GROUP:
            raise ValueError(f"{cols} columns are not whole groups of {GROUP}")
        self.rows, self.cols = rows, cols
        self.register_buffer("weight8", torch.empty(rows, cols, dtype=torch.int8, device=device))
        self.register_buffer(
            "scale", torch.empty(rows, cols // GROUP, dtype=torch.float32, device=device)
        )

    @torch.no_grad()
    def load_float(self, weight: torch.Tensor, device: torch.device | str) -> None:
        """Quantize a float [rows, cols] matrix onto device, a chunk of rows at a time."""
        if tuple(weight.shape) != (self.rows, self.cols):
            raise ValueError(
                f"expected a {self.rows}x{self.cols} matrix, got {tuple(weight.shape)}"
            )
        q = torch.empty(self.rows, self.cols, dtype=torch.int8, device=device)
        scale = torch.empty(self.rows, self.cols // GROUP, dtype=torch.float32, device=device)
        for start in range(0, self.rows, ROWS_PER_CHUNK):
            chunk = weight[start : start + ROWS_PER_CHUNK].to(device=device, dtype=torch.float32)
            groups = chunk.view(chunk.shape[0], -1, GROUP)
            s = groups.abs().amax(-1) / 127.0
            q[start : start + ROWS_PER_CHUNK] = (
                (groups / s.clamp(min=1e-30)[..., None]).round().clamp(-127, 127).view_as(chunk)
            ).to(torch.int8)
            scale[start : start + ROWS_PER_CHUNK] = s
        self.weight8, self.scale = q, scale

    def dequantize(self, rows: torch.Tensor | slice | None, dtype: torch.dtype) -> torch.Tensor:
        """[n, cols] of the rows asked for (ids or a slice; all when None), in dtype."""
        q, s = self.weight8, self.scale
        if isinstance(rows, torch.Tensor):
            q, s = take_rows(q, rows), take_rows(s, rows)
        elif rows is not None:
            q, s = q[rows], s[rows]
        w = q.float().view(*q.shape[:-1], -1, GROUP) * s[..., None]
        return w.view(q.shape).to(dtype)

    def nbytes(self) -> int:
        return head_nbytes(self.rows, self.cols)

    def float_nbytes(self) -> int:
        return self.rows * self.cols * 2


class Int8Embedding(nn.Module):
    """Gemma 4's scaled word embedding (rows x sqrt(hidden)) over an int8 matrix."""

    def __init__(
        self, vocab: int, hidden: int, embed_scale: float, dtype: torch.dtype, device="meta"
    ) -> None:
        super().__init__()
        self.matrix = Int8Matrix(vocab, hidden, device)
        self.scalar_embed_scale = embed_scale
        self.register_buffer("embed_scale", torch.tensor(embed_scale), persistent=False)
        self.dtype = dtype

    @property
    def embedding_dim(self) -> int:
        return self.matrix.cols

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.matrix.dequantize(ids, self.dtype)
        return rows * self.embed_scale.to(self.dtype)


class Int8Head(nn.Module):
    """Logits (float32) = hidden @ W.T over an int8 matrix (the embedding's when tied)."""

    def __init__(self, matrix: Int8Matrix) -> None:
        super().__init__()
        self.matrix = matrix
        self.backend = "auto"

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        rows = hidden.numel() // self.matrix.cols
        if rows <= GEMV_ROWS and use_triton(self.backend, hidden):
            from codeassist.engine.kernels import nf4_gemv

            return nf4_gemv.int8_linear(self.matrix.weight8, self.matrix.scale, hidden).float()
        # a slice of the vocabulary at a time: the float copy of the whole matrix would be
        # 1.5 GB on the 26B (scoring a prompt's every position comes through here)
        slices = [slice(lo, lo + VOCAB_SLICE) for lo in range(0, self.matrix.rows, VOCAB_SLICE)]
        parts = [linear(hidden, self.matrix.dequantize(rows, hidden.dtype)) for rows in slices]
        return torch.cat(parts, dim=-1).float() if len(parts) > 1 else parts[0].float()


class DenseHead(nn.Module):
    """Logits (float32) = hidden @ W.T over a float matrix (the unquantized engine)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return linear(hidden, self.weight).float()
