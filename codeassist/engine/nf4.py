"""NF4 weights in bitsandbytes' storage format, and reading back only the matrices asked for.

`NF4Stack` holds E matrices of one shape [out, in], each quantized on its own by bitsandbytes
(`quantize_4bit`, blocks of 64 consecutive weights of the row-major matrix, one float32 absmax
per block; with double quantization the absmax are themselves 8-bit codes with a float32 scale
per 256 blocks and one offset per matrix). A byte holds two weights: the high nibble is the
earlier one. A weight is `NF4_CODE[nibble] * absmax[block]`, computed in float32 and rounded
to the compute dtype, exactly as bitsandbytes dequantizes.

The buffer names and shapes are what `codeassist model quantize` writes, so those checkpoints
load unchanged. Reading happens here or in the Triton kernels of `engine/kernels/`, which read
the same buffers. Here, the chosen matrices' bytes and scales are gathered by device-side index
and dequantized as one flat matrix by bitsandbytes' registered `dequantize_4bit` op (its C/CUDA
table lookup: the same values as a torch lookup, 2-3x faster on the CPU, and traceable by
torch.compile since the op has a fake implementation). Blocks never straddle two matrices, so
the flat result is each matrix's own dequantization.
"""

from __future__ import annotations

import bitsandbytes  # noqa: F401 - registers torch.ops.bitsandbytes
import torch
from torch import nn

BLOCK = 64
NESTED_BLOCK = 256

# bitsandbytes' NF4 code (`bitsandbytes.functional.get_4bit_type("nf4")`; a test checks it)
NF4_CODE = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)


_CODES: dict[torch.device, torch.Tensor] = {}


def nf4_code(device: torch.device | str) -> torch.Tensor:
    """NF4's 16 values (float32) on device, one tensor shared by every stack there."""
    device = torch.device(device)
    if device not in _CODES:
        _CODES[device] = torch.tensor(NF4_CODE, dtype=torch.float32, device=device)
    return _CODES[device]


class NF4Stack(nn.Module):
    """E matrices of shape [out, in] in NF4 (bitsandbytes' format), one quantization each."""

    def __init__(
        self, count: int, out_features: int, in_features: int, double_quant: bool, device="meta"
    ) -> None:
        super().__init__()
        if (out_features * in_features) % BLOCK:
            raise ValueError(f"a {out_features}x{in_features} matrix is not whole {BLOCK}-blocks")
        self.count, self.out_features, self.in_features = count, out_features, in_features
        self.double_quant = double_quant
        numel = out_features * in_features
        blocks = numel // BLOCK
        self.register_buffer(
            "packed", torch.empty(count, numel // 2, dtype=torch.uint8, device=device)
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
        # the code table the kernels read, not stored: set by `prepare` once weights are in place
        self.register_buffer("code", None, persistent=False)

    @property
    def blocks(self) -> int:
        return self.out_features * self.in_features // BLOCK

    @torch.no_grad()
    def load_float(self, weights: torch.Tensor, device: torch.device | str) -> None:
        """Quantize [count, out, in] (or [out, in]) float weights onto device, matrix by matrix."""
        import bitsandbytes.functional as bnbf

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
        self.prepare()

    def prepare(self) -> None:
        """Put the code table on the weights' device (after loading; idempotent)."""
        if self.code is None or self.code.device != self.packed.device:
            self.code = nf4_code(self.packed.device)

    def block_scales(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        """[n, blocks] float32 absmax of the matrices ids (all when None), double quant undone."""
        absmax = self.absmax if ids is None else self.absmax.index_select(0, ids)
        if not self.double_quant:
            return absmax
        scale = self.absmax_scale if ids is None else self.absmax_scale.index_select(0, ids)
        offset = self.absmax_offset if ids is None else self.absmax_offset.index_select(0, ids)
        per_block = scale.repeat_interleave(NESTED_BLOCK, dim=-1)[:, : self.blocks]
        # same float32 operations, in the same order, as bitsandbytes' dequantize_blockwise
        return self.absmax_code[absmax.int()] * per_block + offset[:, None]

    def dequantize(
        self, ids: torch.Tensor | None = None, dtype: torch.dtype = torch.bfloat16
    ) -> torch.Tensor:
        """[n, out, in] weights of the matrices ids (every matrix when None); reads only those."""
        # index_select, not packed[ids]: the same rows, 3-5x less time on the CPU (decode reads
        # a few small matrices, so the call's fixed cost is what counts)
        packed = self.packed if ids is None else self.packed.index_select(0, ids)
        count = packed.shape[0]
        rows = count * self.out_features
        weights = torch.ops.bitsandbytes.dequantize_4bit(
            packed.reshape(-1), self.block_scales(ids).reshape(-1), BLOCK, "nf4",
            [rows, self.in_features], dtype,
        )  # fmt: skip
        return weights.view(count, self.out_features, self.in_features)

    def nbytes(self) -> int:
        """Bytes of the stored buffers (the 64-byte code table is shared, not counted)."""
        return sum(t.numel() * t.element_size() for t in self.state_dict().values())

    def float_nbytes(self) -> int:
        return self.count * self.out_features * self.in_features * 2
