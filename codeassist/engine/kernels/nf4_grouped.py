"""Prefill kernels: (token, expert) pairs sorted by expert, one grouped matmul per matrix.

The pairs are sorted by expert on the device and each expert's run is padded to a whole
number of BLOCK_M rows, so that every block of rows belongs to one expert (the layout of a
fused-MoE kernel). A program takes one block of rows and one block of output features,
dequantizes that tile of its expert's NF4 matrix once and multiplies it with all the block's
rows. Shapes are fixed by (pairs, experts), never by the routing, so nothing waits for the host:
blocks past the end see the sentinel expert E and return.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import triton_op, wrap_triton

from codeassist.engine.kernels import interpreting
from codeassist.engine.kernels.nf4_gemv import _gelu_tanh, _nf4_tile, _scales, _store
from codeassist.engine.nf4 import NF4Stack

BLOCK_M = 16  # rows (pairs) per program
BLOCK_N = 32
BLOCK_K = 64


def sort_by_expert(
    topk_ids: torch.Tensor, num_experts: int, block_m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pair index per padded row, sentinel = pairs; expert per block of block_m rows, or E).

    Device-side and of static size: at most cdiv(pairs, block_m) + num_experts blocks.
    """
    pairs = topk_ids.numel()
    device = topk_ids.device
    sorted_ids, order = torch.sort(topk_ids.reshape(-1), stable=True)
    experts = torch.arange(num_experts, device=device, dtype=sorted_ids.dtype)
    ends = torch.searchsorted(sorted_ids, experts, right=True)
    counts = torch.diff(ends, prepend=ends.new_zeros(1))
    padded_ends = torch.cumsum((counts + block_m - 1) // block_m * block_m, 0)
    padded_starts = padded_ends - (counts + block_m - 1) // block_m * block_m
    rank = torch.arange(pairs, device=device) - (ends - counts)[sorted_ids]
    blocks = triton.cdiv(pairs, block_m) + num_experts
    rows = torch.full((blocks * block_m,), pairs, dtype=torch.int64, device=device)
    rows[padded_starts[sorted_ids] + rank] = order
    block_starts = torch.arange(blocks, device=device) * block_m
    block_expert = torch.searchsorted(padded_ends, block_starts, right=True)
    return rows, block_expert


@triton.jit
def _round_bf16(x):
    """float32 rounded to the nearest bf16 (even on ties), still float32 (see _store)."""
    bits = x.to(tl.uint32, bitcast=True)
    bits += 0x7FFF + ((bits >> 16) & 1)
    return (bits & 0xFFFF0000).to(tl.float32, bitcast=True)


@triton.jit
def _grouped_dot(
    a_ptr,  # [rows of A, K]
    a_rows,  # [BLOCK_M] row of A for each program row
    a_mask,
    packed_ptr,
    absmax_ptr,
    nested_ptr,
    offset,
    absmax_code_ptr,
    code_ptr,
    rows,  # [BLOCK_N] rows of the weight matrix
    row_mask,
    K,
    DOUBLE_QUANT: tl.constexpr,
    FP32_DOT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    """[BLOCK_M, BLOCK_N] float32: A[a_rows] @ W[rows].T for one NF4 matrix.

    bf16 inputs multiply on tensor cores, with the weights rounded to bf16 as bitsandbytes
    dequantizes them; FP32_DOT (float32 compute, or Triton's interpreter, whose bf16 dot is
    wrong) multiplies the same values in float32.
    """
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    dtype: tl.constexpr = a_ptr.dtype.element_ty
    for k0 in range(0, K, BLOCK_K):
        half = k0 // 2 + tl.arange(0, BLOCK_K // 2)
        col_mask = half < K // 2
        a_at = a_ptr + a_rows[:, None] * K + 2 * half[None, :]
        x_mask = a_mask[:, None] & col_mask[None, :]
        a_even = tl.load(a_at, mask=x_mask, other=0.0)
        a_odd = tl.load(a_at + 1, mask=x_mask, other=0.0)
        w_hi, w_lo = _nf4_tile(
            packed_ptr, absmax_ptr, nested_ptr, offset, absmax_code_ptr, code_ptr,
            rows, half, row_mask[:, None] & col_mask[None, :], K, DOUBLE_QUANT,
        )  # fmt: skip
        if dtype == tl.bfloat16:
            w_hi = _round_bf16(w_hi)
            w_lo = _round_bf16(w_lo)
        if FP32_DOT:
            a_even = a_even.to(tl.float32)
            a_odd = a_odd.to(tl.float32)
            acc += tl.dot(a_even, tl.trans(w_hi), input_precision="ieee")
            acc += tl.dot(a_odd, tl.trans(w_lo), input_precision="ieee")
        else:
            acc += tl.dot(a_even, tl.trans(w_hi.to(dtype)))
            acc += tl.dot(a_odd, tl.trans(w_lo.to(dtype)))
    return acc


@triton.jit
def _grouped_gate_up_kernel(
    x_ptr,  # [T, K]
    pair_rows_ptr,  # [blocks * BLOCK_M] pair index, or PAIRS for padding
    block_expert_ptr,  # [blocks]
    packed_ptr,  # [E, 2N * K / 2]
    absmax_ptr,
    nested_ptr,
    offset_ptr,
    absmax_code_ptr,
    code_ptr,
    out_ptr,  # [PAIRS, N]
    N,
    K,
    NESTED,
    PAIRS,
    E,
    TOP_K: tl.constexpr,
    DOUBLE_QUANT: tl.constexpr,
    FP32_DOT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    block = tl.program_id(0)
    expert = tl.load(block_expert_ptr + block).to(tl.int64)
    if expert >= E:
        return
    pairs = tl.load(pair_rows_ptr + block * BLOCK_M + tl.arange(0, BLOCK_M))
    pair_mask = pairs < PAIRS
    rows = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    packed = packed_ptr + expert * (N * K)  # 2N rows of K / 2 bytes
    absmax = absmax_ptr + expert * (2 * N * K // 64)
    nested = nested_ptr + expert * NESTED
    offset = tl.load(offset_ptr + expert) if DOUBLE_QUANT else 0.0
    tokens = pairs // TOP_K
    gate = _grouped_dot(
        x_ptr, tokens, pair_mask, packed, absmax, nested, offset, absmax_code_ptr, code_ptr,
        rows, row_mask, K, DOUBLE_QUANT, FP32_DOT, BLOCK_M, BLOCK_N, BLOCK_K,
    )  # fmt: skip
    up = _grouped_dot(
        x_ptr, tokens, pair_mask, packed, absmax, nested, offset, absmax_code_ptr, code_ptr,
        rows + N, row_mask, K, DOUBLE_QUANT, FP32_DOT, BLOCK_M, BLOCK_N, BLOCK_K,
    )  # fmt: skip
    out = out_ptr + pairs[:, None] * N + rows[None, :]
    _store(out, _gelu_tanh(gate) * up, pair_mask[:, None] & row_mask[None, :])


@triton.jit
def _grouped_down_kernel(
    a_ptr,  # [PAIRS, K]
    pair_rows_ptr,
    block_expert_ptr,
    weights_ptr,  # [PAIRS] float32
    packed_ptr,  # [E, N * K / 2]
    absmax_ptr,
    nested_ptr,
    offset_ptr,
    absmax_code_ptr,
    code_ptr,
    out_ptr,  # [PAIRS, N] float32: weight * (down . a) of each pair
    N,
    K,
    NESTED,
    PAIRS,
    E,
    DOUBLE_QUANT: tl.constexpr,
    FP32_DOT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    block = tl.program_id(0)
    expert = tl.load(block_expert_ptr + block).to(tl.int64)
    if expert >= E:
        return
    pairs = tl.load(pair_rows_ptr + block * BLOCK_M + tl.arange(0, BLOCK_M))
    pair_mask = pairs < PAIRS
    rows = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    offset = tl.load(offset_ptr + expert) if DOUBLE_QUANT else 0.0
    y = _grouped_dot(
        a_ptr, pairs, pair_mask,
        packed_ptr + expert * (N * K // 2), absmax_ptr + expert * (N * K // 64),
        nested_ptr + expert * NESTED, offset, absmax_code_ptr, code_ptr,
        rows, row_mask, K, DOUBLE_QUANT, FP32_DOT, BLOCK_M, BLOCK_N, BLOCK_K,
    )  # fmt: skip
    weight = tl.load(weights_ptr + pairs, mask=pair_mask, other=0.0)
    mask = pair_mask[:, None] & row_mask[None, :]
    tl.store(out_ptr + pairs[:, None] * N + rows[None, :], y * weight[:, None], mask=mask)


def _fp32_dot(x: torch.Tensor) -> bool:
    return x.dtype == torch.float32 or interpreting()


@triton_op("codeassist::nf4_grouped_gate_up", mutates_args={})
def nf4_grouped_gate_up(
    x: torch.Tensor,
    pair_rows: torch.Tensor,
    block_expert: torch.Tensor,
    packed: torch.Tensor,
    absmax: torch.Tensor,
    nested: torch.Tensor,
    offset: torch.Tensor,
    absmax_code: torch.Tensor,
    code: torch.Tensor,
    n: int,
    top_k: int,
    double_quant: bool,
) -> torch.Tensor:
    """[pairs, n] act(gate . x) * (up . x), pairs grouped by expert (see sort_by_expert)."""
    pairs = x.shape[0] * top_k
    out = torch.empty(pairs, n, dtype=x.dtype, device=x.device)
    grid = (block_expert.shape[0], triton.cdiv(n, BLOCK_N))
    wrap_triton(_grouped_gate_up_kernel)[grid](
        x, pair_rows, block_expert, packed, absmax, nested, offset, absmax_code, code, out,
        n, x.shape[1], nested.shape[-1] if double_quant else 0, pairs, packed.shape[0],
        TOP_K=top_k, DOUBLE_QUANT=double_quant, FP32_DOT=_fp32_dot(x),
        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K,
    )  # fmt: skip
    return out


@triton_op("codeassist::nf4_grouped_down", mutates_args={})
def nf4_grouped_down(
    a: torch.Tensor,
    pair_rows: torch.Tensor,
    block_expert: torch.Tensor,
    weights: torch.Tensor,
    packed: torch.Tensor,
    absmax: torch.Tensor,
    nested: torch.Tensor,
    offset: torch.Tensor,
    absmax_code: torch.Tensor,
    code: torch.Tensor,
    n: int,
    double_quant: bool,
) -> torch.Tensor:
    """[pairs, n] float32: weight * (down . a) of each pair."""
    pairs = a.shape[0]
    out = torch.empty(pairs, n, dtype=torch.float32, device=a.device)
    grid = (block_expert.shape[0], triton.cdiv(n, BLOCK_N))
    wrap_triton(_grouped_down_kernel)[grid](
        a, pair_rows, block_expert, weights, packed, absmax, nested, offset, absmax_code, code,
        out, n, a.shape[1], nested.shape[-1] if double_quant else 0, pairs, packed.shape[0],
        DOUBLE_QUANT=double_quant, FP32_DOT=_fp32_dot(a),
        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K,
    )  # fmt: skip
    return out


def experts_prefill(
    gate_up: NF4Stack,
    down: NF4Stack,
    hidden: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_weights: torch.Tensor,
) -> torch.Tensor:
    """Routed experts for many tokens: sort by expert, two grouped kernels, sum over top_k."""
    tokens, top_k = topk_ids.shape
    pair_rows, block_expert = sort_by_expert(topk_ids, gate_up.count, BLOCK_M)
    nested, offset, absmax_code, _ = _scales(gate_up)
    a = nf4_grouped_gate_up(
        hidden.contiguous(), pair_rows, block_expert, gate_up.packed, gate_up.absmax, nested,
        offset, absmax_code, gate_up.code, down.in_features, top_k, gate_up.double_quant,
    )  # fmt: skip
    nested, offset, absmax_code, _ = _scales(down)
    y = nf4_grouped_down(
        a, pair_rows, block_expert, topk_weights.reshape(-1).float(), down.packed, down.absmax,
        nested, offset, absmax_code, down.code, down.out_features, down.double_quant,
    )  # fmt: skip
    return y.view(tokens, top_k, -1).sum(1).to(hidden.dtype)
