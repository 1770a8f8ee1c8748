"""MoE layer launch counts: ops per routed-expert layer per token, new paths vs the previous one.

No arguments (CPU; Triton kernels run in its interpreter, so only their count is meaningful,
not their time). Layout of the 26B-A4B (128 experts, top 8) with small widths. For one MoE layer
it counts, with torch.profiler, the ops that write data (leaf ATen ops that are not views, and
each custom kernel op and grouped_mm once: on a GPU each is one kernel launch), and the host
reads that make it wait for the device (`.item()`, `.tolist()`, `int()`, and ops whose output
size depends on the data: unique, nonzero):

- `previous`: the per-expert loop this project used before (argsort, unique_consecutive,
  .tolist(), two bitsandbytes 4-bit matmuls and an index_add per expert), kept here verbatim
  as the anchor;
- `torch`: the pure-torch path (decode: gathered; prefill: grouped), as run on the CPU;
- `triton`: the Triton path (decode: 2 kernels; prefill: sort + 2 grouped kernels + sum);
- `transformers_bf16`: transformers' own Gemma4TextExperts (bf16, one loop per hit expert).

Also the median host time of one decode call of `previous` and `torch` (same weights, same
run), and a compile check of every Triton kernel variant for CUDA targets (sm_86 RTX 3090,
sm_89 RTX 4090, sm_90 H100/H200, sm_120 RTX 5090) through the ptxas that ships with Triton: no
GPU needed, but nothing is run there. Last line: one JSON object.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

COMPILE_ONLY = sys.argv[1:] == ["--compile-check"]
if not torch.cuda.is_available() and not COMPILE_ONLY:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before bitsandbytes imports triton

import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bitsandbytes as bnb  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from codeassist.engine.moe import NF4Experts  # noqa: E402
from tests.helpers.nf4_experts import bnb_state  # noqa: E402

LAYERS_26B = 30
SHAPE = {"num_experts": 128, "top_k_experts": 8, "hidden_size": 128, "moe_intermediate_size": 64}
VIEWS = {
    "aten::view",
    "aten::reshape",
    "aten::_reshape_alias",
    "aten::_unsafe_view",
    "aten::expand",
    "aten::as_strided",
    "aten::t",
    "aten::transpose",
    "aten::permute",
    "aten::squeeze",
    "aten::unsqueeze",
    "aten::select",
    "aten::slice",
    "aten::split",
    "aten::split_with_sizes",
    "aten::chunk",
    "aten::unbind",
    "aten::detach",
    "aten::alias",
    "aten::lift_fresh",
    "aten::empty",
    "aten::empty_strided",
    "aten::empty_like",
    "aten::resolve_conj",
    "aten::resolve_neg",
    "aten::contiguous",
    "aten::to",
    "aten::_to_copy",  # counted through its copy_ child when it copies
    "aten::numpy_T",
    "aten::resize_",  # an allocation
}
# ops whose output size depends on the data: the host waits for the device to know it
DATA_DEPENDENT = {"aten::unique_consecutive", "aten::_unique2", "aten::nonzero"}
# one launch each, whatever they do inside (on the CPU, grouped_mm loops over its groups)
KERNEL_OPS = ("codeassist::", "bitsandbytes::", "aten::_grouped_mm")
HOST_READS = {"tolist", "item", "__int__", "__float__", "__bool__", "__index__"}


class HostReads(TorchFunctionMode):
    """Counts Python-level reads of tensor values (each a device-to-host wait on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _counts(events) -> tuple[int, int, Counter]:
    kernels, syncs, names = 0, 0, Counter()

    def visit(event) -> None:
        nonlocal kernels, syncs
        if event.name in DATA_DEPENDENT:
            syncs += 1
        if event.name.startswith(KERNEL_OPS):
            kernels += 1
            names[event.name] += 1
            return  # one launch, whatever it does inside
        children = [c for c in event.cpu_children if c.name.startswith(("aten::", *KERNEL_OPS))]
        if not children and event.name.startswith("aten::") and event.name not in VIEWS:
            kernels += 1
            names[event.name] += 1
        for child in children:
            visit(child)

    for event in events:
        if event.cpu_parent is None and event.name.startswith(("aten::", *KERNEL_OPS)):
            visit(event)
    return kernels, syncs, names


def count(fn) -> dict:
    fn()  # warm: lazy tables, first-call allocations
    reads = HostReads()
    with profile(activities=[ProfilerActivity.CPU]) as prof, reads:
        fn()
    kernels, syncs, names = _counts(prof.events())
    return {
        "kernels": kernels,
        "syncs": syncs + reads.count,
        "top_ops": dict(names.most_common(6)),
    }


def previous_forward(block: NF4Experts, hidden, top_k_index, top_k_weights):
    """The expert loop of engine/quant.py before this change (bitsandbytes matmul per expert)."""
    out = torch.zeros_like(hidden)
    flat_experts = top_k_index.reshape(-1)
    order = torch.argsort(flat_experts, stable=True)
    experts, counts = torch.unique_consecutive(flat_experts[order], return_counts=True)
    top_k = top_k_index.shape[-1]
    start = 0
    for expert, n in zip(experts.tolist(), counts.tolist(), strict=True):
        slots = order[start : start + n]
        start += n
        tokens = slots // top_k
        x = hidden[tokens]
        gate, up = _bnb_matmul(block.gate_up, x, expert).chunk(2, dim=-1)
        y = _bnb_matmul(block.down, block.act_fn(gate) * up, expert)
        weight = top_k_weights.reshape(-1)[slots, None]
        out.index_add_(0, tokens, (y * weight).to(out.dtype))
    return out


_STATES: dict = {}


def _bnb_matmul(stack, x, e):
    key = (id(stack), e)
    if key not in _STATES:  # the previous code cached its QuantStates the same way
        _STATES[key] = bnb_state(stack, e, torch.bfloat16)
    return bnb.matmul_4bit(x, stack.packed[e].view(-1, 1).t(), _STATES[key])


def median_ms(fn, runs: int = 30) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def main() -> None:
    from transformers import Gemma4TextConfig
    from transformers.models.gemma4.modeling_gemma4 import Gemma4TextExperts

    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = Gemma4TextConfig(**SHAPE, hidden_activation="gelu_pytorch_tanh")
    experts, top_k = config.num_experts, config.top_k_experts
    hidden_size, inner = config.hidden_size, config.moe_intermediate_size
    block = NF4Experts(config, double_quant=False, device="cpu")
    block.gate_up.load_float(torch.randn(experts, 2 * inner, hidden_size) * 0.05, "cpu")
    block.down.load_float(torch.randn(experts, hidden_size, inner) * 0.05, "cpu")
    reference = Gemma4TextExperts(config).to(torch.bfloat16)
    reference.gate_up_proj.data = block.gate_up.dequantize().clone()
    reference.down_proj.data = block.down.dequantize().clone()

    results: dict = {"layout": {"experts": experts, "top_k": top_k, "layers": LAYERS_26B}}
    for phase, tokens in (("decode", 1), ("prefill_64", 64)):
        generator = torch.Generator().manual_seed(1)
        hidden = torch.randn(tokens, hidden_size, generator=generator).to(torch.bfloat16)
        scores = torch.rand(tokens, experts, generator=generator)
        weights, ids = scores.topk(top_k, dim=-1)
        paths = {
            "previous": lambda h=hidden, i=ids, w=weights: previous_forward(block, h, i, w),
            "torch": lambda h=hidden, i=ids, w=weights: _with_backend(block, "torch", h, i, w),
            "triton": lambda h=hidden, i=ids, w=weights: _with_backend(block, "triton", h, i, w),
            "transformers_bf16": lambda h=hidden, i=ids, w=weights: reference(h, i, w),
        }
        with torch.inference_mode():
            want = paths["previous"]().float()
            phase_results = {}
            for name, fn in paths.items():
                got = fn().float()
                cos = torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0)
                phase_results[name] = {**count(fn), "cosine_vs_previous": round(cos.item(), 6)}
            if phase == "decode":
                for name in ("previous", "torch"):
                    phase_results[name]["host_ms_per_call"] = median_ms(paths[name])
        for entry in phase_results.values():
            entry["kernels_per_token_30_layers"] = round(entry["kernels"] * LAYERS_26B / tokens, 1)
        results[phase] = phase_results
    decode = results["decode"]
    results["decode_kernels_per_moe_layer"] = {k: v["kernels"] for k, v in decode.items()}
    results["decode_syncs_per_moe_layer"] = {k: v["syncs"] for k, v in decode.items()}
    results["decode_host_ms_ratio_previous_over_torch"] = round(
        decode["previous"]["host_ms_per_call"] / decode["torch"]["host_ms_per_call"], 2
    )
    results["compiled_for_cuda"] = compile_check_in_child()
    results["load"] = os.getloadavg()
    print(json.dumps(results))


CUDA_ARCHS = (86, 89, 90, 120)


def compile_check() -> dict:
    """Compile every kernel variant for each CUDA arch (no GPU needed); {arch: failures}."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from codeassist.engine.kernels import nf4_gemv, nf4_grouped

    def source(kernel, pointers: dict[str, str], constexprs: dict) -> ASTSource:
        signature = {}
        for name in kernel.arg_names:
            if name in constexprs:
                signature[name] = "constexpr"
            elif name.endswith("_ptr"):
                signature[name] = pointers.get(name, "*fp32")
            else:
                signature[name] = "i32"
        names = list(signature)
        return ASTSource(
            fn=kernel,
            signature=signature,
            constexprs={(names.index(k),): v for k, v in constexprs.items()},
        )

    variants = []
    gemv = {"BLOCK_N": nf4_gemv.BLOCK_N, "BLOCK_K": nf4_gemv.BLOCK_K}
    grouped = {"BLOCK_M": nf4_grouped.BLOCK_M, "BLOCK_N": nf4_grouped.BLOCK_N}
    grouped["BLOCK_K"] = nf4_grouped.BLOCK_K
    for double_quant in (False, True):
        for dtype in ("bf16", "fp32"):
            ptr = {
                "x_ptr": f"*{dtype}",
                "a_ptr": f"*{dtype}",
                "out_ptr": f"*{dtype}",
                "ids_ptr": "*i64",
                "pair_rows_ptr": "*i64",
                "block_expert_ptr": "*i64",
                "packed_ptr": "*u8",
                "absmax_ptr": "*u8" if double_quant else "*fp32",
            }
            dq = {"DOUBLE_QUANT": double_quant}
            variants.append(source(nf4_gemv._gate_up_kernel, ptr, {"TOP_K": 8, **dq, **gemv}))
            variants.append(source(nf4_gemv._down_sum_kernel, ptr, {"TOP_K": 8, **dq, **gemv}))
            for rows in (1, 4, 16):
                blocks = _dense_blocks(nf4_gemv, rows)
                variants.append(source(nf4_gemv._dense_kernel, ptr, {**dq, **blocks}))
            dots = {"FP32_DOT": dtype == "fp32", **dq, **grouped}
            variants.append(source(nf4_grouped._grouped_gate_up_kernel, ptr, {"TOP_K": 8, **dots}))
            down_ptr = {**ptr, "out_ptr": "*fp32"}
            variants.append(source(nf4_grouped._grouped_down_kernel, down_ptr, dots))
    int8 = {"x_ptr": "*bf16", "q_ptr": "*i8", "out_ptr": "*bf16"}
    for rows in (1, 4, 16):
        variants.append(source(nf4_gemv._int8_kernel, int8, _dense_blocks(nf4_gemv, rows)))
    failures: dict[str, list[str]] = {}
    for arch in CUDA_ARCHS:
        failures[f"sm_{arch}"] = []
        for variant in variants:
            try:
                triton.compile(variant, target=GPUTarget("cuda", arch, 32))
            except Exception as error:  # noqa: BLE001 - reported, not raised
                failures[f"sm_{arch}"].append(f"{variant.name}: {str(error)[:300]}")
    return {"variants": len(variants), "failures": failures}


def _dense_blocks(nf4_gemv, rows: int) -> dict[str, int]:
    names = ("ROWS", "BLOCK_N", "BLOCK_K")
    return dict(zip(names, nf4_gemv.dense_blocks(rows), strict=True))


def compile_check_in_child() -> dict:
    """The compile check in a fresh process: kernels built here are interpreter-only."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    child = subprocess.run(
        [sys.executable, __file__, "--compile-check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = child.stdout.strip().splitlines()
    if child.returncode or not lines:
        return {"error": (child.stderr or child.stdout)[-2000:]}
    return json.loads(lines[-1])


def _with_backend(block: NF4Experts, backend: str, hidden, ids, weights):
    block.backend = backend
    try:
        return block(hidden, ids, weights)
    finally:
        block.backend = "auto"


if __name__ == "__main__":
    if COMPILE_ONLY:
        print(json.dumps(compile_check()))
    else:
        main()
