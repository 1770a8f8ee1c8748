"""The memory plan: every byte the engine holds at its worst moment, from a config alone.

The worst moment is the end of the prefill of the longest prompt: weights, the K/V storage
(preallocated at load: full-attention blocks for the whole context, a sliding ring per
sequence the engine can hold), the prefix cache full of ring copies, the transient memory of
the last prefill chunk (the activation peak), the CUDA graphs' memory pool, and a reserve for
the CUDA context and allocator slack. Each term follows the code that allocates it (see the
comments), and tests/codeassist/engine/test_memory_accounting.py checks the engine's own byte
accounting and its measured activation peak against this plan at several contexts.

`device` selects the code path counted: "cuda" (the product: Triton kernels read 4-bit weights
in place) or "cpu" (pure-torch 4-bit layers dequantize whole matrices in prefill).
Weights are counted on a meta-device model built from the config, with the same 4-bit modules,
fusions and int8 embedding/head the engine loads (engine/quant.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from codeassist.engine import layout  # read at call time: tests shrink SEGMENT
from codeassist.engine.layout import BLOCK, blocks_for
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config, resolve_model_path
from codeassist.gemma4.shape import kv_shared_layers, layer_shapes, text_config
from codeassist.sizes import parse_size  # noqa: F401 - re-exported for cli/model.py

GiB = 2**30
RUNTIME_RESERVE = GiB // 2  # CUDA context, cuBLAS workspace, allocator fragmentation
PREFIX_SLACK = 256  # positions a sliding ring keeps beyond its window (prefix-cache reuse)
DEFAULT_PREFIX_CACHE = 2048 * 2**20  # EngineSettings.prefix_cache_mib's default
DEFAULT_SEQUENCES = 4  # sequences holding K/V at once (engine.max_sequences' default)
DEFAULT_CHUNK = 1024
KNOWN_MODELS = ("gemma-4-26b-a4b", "gemma-4-31b", "gemma-4-e4b", "gemma-4-e2b")


@dataclass
class MemoryPlan:
    model: str
    device: str  # the code path counted: "cuda" or "cpu"
    gpu_memory_bytes: int
    context: int  # planned for: the longest prompt plus its output
    max_context: int  # the largest context whose worst moment fits gpu_memory_bytes
    fits: bool
    weights_bytes: int  # as loaded (4-bit layers, int8 embedding/head; or bf16)
    weights_bytes_bf16: int
    lm_head_bytes: int  # part of weights_bytes (tied to the embedding: one int8 matrix)
    kv_bytes_per_token: int  # every layer storing K/V, within the window
    kv_bytes_per_token_beyond_window: int  # full-attention layers only
    kv_pool_bytes: int  # full-attention blocks for `context` positions (+ one scratch block)
    ring_bytes: int  # sliding rings: one per sequence (+ a scratch row), window + slack each
    kv_bytes_at_context: int  # kv_pool_bytes + ring_bytes
    prefix_cache_bytes: int  # ring copies the prefix cache may hold (its budget)
    activation_bytes_per_chunk: int  # the peak of the last prefill chunk at `context`
    graph_pool_bytes: int  # CUDA graphs' pool: the decode step at the largest batch
    decode_bytes: int  # a decode step's workspace (the graph pool on CUDA, transient elsewhere)
    reserve_bytes: int
    total_bytes: int  # all of the above at the worst moment
    prefill_chunk: int
    sequences: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Dims:
    """The sizes the byte formulas need, read once from a config."""

    hidden: int
    heads: int
    sliding_dim: int
    sliding_kv: int
    global_dim: int
    global_kv: int
    window: int
    intermediate: int
    experts: int
    top_k: int
    expert_inner: int
    vocab: int
    full_per_token: int  # K+V elements per position, all full-attention layers storing K/V
    sliding_per_token: int  # the same for sliding layers

    @classmethod
    def of(cls, config: Any) -> Dims:
        cfg = text_config(config)
        shapes = layer_shapes(cfg)
        stored = shapes[: len(shapes) - kv_shared_layers(cfg)]
        sliding = [s for s in shapes if s.window is not None] or shapes
        full = [s for s in shapes if s.window is None] or shapes
        moe = bool(cfg.get("enable_moe_block"))
        double_wide = 2 if cfg.get("use_double_wide_mlp") else 1
        return cls(
            hidden=int(cfg["hidden_size"]),
            heads=int(cfg["num_attention_heads"]),
            sliding_dim=max(s.head_dim for s in sliding),
            sliding_kv=max(s.num_kv_heads for s in sliding),
            global_dim=max(s.head_dim for s in full),
            global_kv=max(s.num_kv_heads for s in full),
            window=max((s.window or 0) for s in shapes),
            intermediate=int(cfg.get("intermediate_size", 0)) * double_wide,
            experts=int(cfg.get("num_experts") or 0) if moe else 0,
            top_k=int(cfg.get("top_k_experts") or 0) if moe else 0,
            expert_inner=int(cfg.get("moe_intermediate_size") or 0) if moe else 0,
            vocab=int(cfg["vocab_size"]),
            full_per_token=sum(2 * s.num_kv_heads * s.head_dim for s in stored if not s.window),
            sliding_per_token=sum(2 * s.num_kv_heads * s.head_dim for s in stored if s.window),
        )


# --- configs ---------------------------------------------------------------------------------
def _known(name: str) -> str | None:
    key = name.lower().removeprefix("google/").removesuffix("-it")
    return key if key in KNOWN_MODELS else None


def model_config(model: str) -> dict[str, Any]:
    """The config.json of a known model name (shipped), a local checkpoint, or a cached HF id."""
    known = _known(model)
    if known:
        text = resources.files("codeassist.gemma4.configs").joinpath(f"{known}.json").read_text()
        return json.loads(text)

    if not Path(model).expanduser().exists() and "/" not in model:
        raise UserError(
            f"unknown model '{model}'; give a checkpoint folder or one of "
            f"{', '.join(KNOWN_MODELS)}."
        )
    return read_checkpoint_config(resolve_model_path(model))


def _as_dict(config: Any) -> dict[str, Any]:
    return config if isinstance(config, dict) else config.to_dict()


# --- weights -----------------------------------------------------------------------------------
def weight_bytes(
    config: dict[str, Any],
    quantize: str = "nf4",
    double_quant: bool = False,
    dtype_bytes: int = 2,
) -> int:
    """Bytes of the weights as the engine holds them (Engine.weights_bytes counts the same)."""
    key = json.dumps(text_config(config), sort_keys=True)
    fixed, floats = _weights(key, quantize, double_quant)
    return fixed + dtype_bytes * floats


@lru_cache(maxsize=16)
def _weights(text: str, quantize: str, double_quant: bool) -> tuple[int, int]:
    """(bytes of tensors whose size does not depend on the compute dtype, float elements that
    take the compute dtype) of the loaded model and head, built on the meta device."""
    from codeassist.engine.loading import build_text_config, skeleton
    from codeassist.engine.quant import finish_loading

    config = build_text_config(json.loads(text))
    model = skeleton(config, quantize, double_quant)
    lm_head = None
    if not config.tie_word_embeddings:
        import torch

        lm_head = torch.empty(config.vocab_size, config.hidden_size, device="meta")
    head = finish_loading(model, lm_head, quantize)
    fixed, floats = 0, 0
    seen: set[int] = set()
    for module in (model, head):
        params = [(name, t, True) for name, t in module.named_parameters()]
        buffers = [(name, t, False) for name, t in module.named_buffers()]
        for name, tensor, is_param in params + buffers:
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            if is_param or name.endswith("layer_scalar"):
                floats += tensor.numel()  # loaded in the compute dtype
            else:
                fixed += tensor.numel() * tensor.element_size()
    return fixed, floats


def lm_head_bytes(config: dict[str, Any], quantize: str = "nf4", dtype_bytes: int = 2) -> int:
    d = Dims.of(config)
    if quantize == "nf4":
        from codeassist.engine.head import head_nbytes

        return head_nbytes(d.vocab, d.hidden)
    return d.vocab * d.hidden * dtype_bytes


# --- K/V -------------------------------------------------------------------------------------
def kv_pool_bytes(config: Any, context: int, dtype_bytes: int = 2) -> int:
    """The full-attention block pool for `context` positions (KVCache: + one scratch block)."""
    return (blocks_for(context) + 1) * BLOCK * Dims.of(config).full_per_token * dtype_bytes


def ring_bytes(config: Any, sequences: int, dtype_bytes: int = 2) -> int:
    """The sliding rings (KVCache: one row per sequence + a scratch row)."""
    d = Dims.of(config)
    return (sequences + 1) * (d.window + PREFIX_SLACK) * d.sliding_per_token * dtype_bytes


def snapshot_bytes(config: Any, dtype_bytes: int = 2) -> int:
    """One prefix-cache entry's ring copies."""
    d = Dims.of(config)
    return (d.window + PREFIX_SLACK) * d.sliding_per_token * dtype_bytes


# --- transient memory --------------------------------------------------------------------------
def activation_bytes(
    config: Any,
    context: int,
    chunk: int,
    *,
    device: str = "cuda",
    quantize: str = "nf4",
    dtype_bytes: int = 2,
) -> int:
    """Peak transient bytes while the last chunk of a `context`-token prompt is prefilled."""
    d = Dims.of(config)
    x = dtype_bytes
    c = max(1, min(chunk, context))
    ring = d.window + PREFIX_SLACK
    # across the layer loop (runner._layers): the hidden state and its residual, RoPE tables
    carried = 2 * c * d.hidden * x + 4 * c * max(d.sliding_dim, d.global_dim) * x

    def attending(dim: int, kv_heads: int, keys: int, merged: bool) -> int:
        width = (d.heads + 2 * kv_heads) * dim
        part = c * d.hidden * x + 4 * c * width * x  # normed input, q/k/v (+ norm, RoPE copies)
        part += 2 * keys * kv_heads * dim * x  # the K/V attended: gathered or ring + chunk
        part += 3 * c * keys  # boolean visibility masks (engine/attention.visible)
        part += 3 * c * d.heads * dim * x  # the output, its transpose, the o_proj input
        # a block of float32 scores: the queries of a block times the keys of a segment, at
        # most SCORE_BUDGET (attention._query_block); PyTorch's math kernel (head dim 512 on
        # CUDA) holds about three such (scores, softmax, its input cast)
        scores = min(layout.SCORE_BUDGET, 4 * (d.heads // kv_heads) * c * keys)
        if merged:  # segments merged by hand: one score block, running sums, f32 K/V
            part += scores + d.heads * c * (dim + 2) * 4 + 2 * keys * dim * 4
        elif device == "cuda" and dim > 256:
            part += 3 * scores
        return part

    sliding = attending(d.sliding_dim, d.sliding_kv, ring + c, merged=False)
    keys = min(context, layout.SEGMENT)
    full = attending(d.global_dim, d.global_kv, blocks_for(keys) * BLOCK, context > layout.SEGMENT)
    pairs = c * d.top_k
    mlp = c * d.hidden * x + 4 * c * d.intermediate * x  # normed input, gate/up, act, product
    mlp += c * d.experts * 4 * 3  # router scores and softmax in float32
    mlp += pairs * (2 * d.hidden + 4 * d.expert_inner) * x + pairs * d.hidden * 4  # experts
    mlp += 2 * c * d.hidden * 4
    if device == "cpu" and quantize == "nf4":
        # pure-torch 4-bit layers (engine/moe.py, nf4_linear.py) dequantize whole matrices in
        # prefill through bitsandbytes' op: the output in the compute dtype plus its CPU
        # kernel's float32 staging (~6 B per weight, measured); both expert stacks at once
        mlp += 6 * 3 * d.experts * d.expert_inner * d.hidden
        widest = max(
            (d.heads + 2 * d.global_kv) * d.global_dim * d.hidden, 2 * d.intermediate * d.hidden
        )
        mlp += 6 * widest
    layer = max(sliding, full, mlp)
    logits = 3 * d.vocab * 4 + 48 * d.vocab  # last row's logits, softcap, sampling sort/noise
    if device == "cpu" and quantize == "nf4":
        # the int8 head's torch path dequantizes head.VOCAB_SLICE rows at a time
        logits += (8 + x) * min(d.vocab, 32768) * d.hidden
    return carried + max(layer, logits)


def decode_workspace_bytes(
    config: Any, batch: int, context: int, *, device: str = "cuda", dtype_bytes: int = 2
) -> int:
    """Transient bytes of one batched decode step (on CUDA: its graph's memory pool)."""
    d = Dims.of(config)
    x = dtype_bytes
    width = (d.heads + 2 * max(d.sliding_kv, d.global_kv)) * max(d.sliding_dim, d.global_dim)
    layer = batch * (8 * d.hidden + 4 * width + 4 * d.intermediate) * x
    layer += batch * d.top_k * (2 * d.hidden + 4 * d.expert_inner) * 4
    if device == "cuda":  # paged attention's split partials (engine/paged_attention.py)
        kv, dim = max(d.sliding_kv, d.global_kv), max(d.sliding_dim, d.global_dim)
        layer += batch * kv * layout.DECODE_SPLITS * 16 * (dim + 2) * 4
    else:  # the torch path gathers each row's blocks (full layers) or ring (sliding layers)
        full = blocks_for(context) * BLOCK * d.global_kv * d.global_dim
        ring = (d.window + PREFIX_SLACK) * d.sliding_kv * d.sliding_dim
        layer += 2 * batch * max(full, ring) * x + batch * blocks_for(context) * BLOCK
    sampling = batch * d.vocab * 64  # logits, sort values and indices, probabilities, noise
    return 2 * layer + sampling


# --- the whole ---------------------------------------------------------------------------------
def memory_plan(
    model: str,
    gpu_memory_bytes: int | None = None,
    context: int | None = None,
    quantize: str = "nf4",
    double_quant: bool = False,
    prefill_chunk: int = DEFAULT_CHUNK,
    prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE,
    sequences: int = DEFAULT_SEQUENCES,
    device: str = "cuda",
    dtype_bytes: int = 2,
) -> MemoryPlan:
    """The plan for a model name or checkpoint (24 GiB when no size is given and no GPU is seen)."""
    config = model_config(model)
    cfg = text_config(config)
    gpu = gpu_memory_bytes or default_gpu_memory() or 24 * GiB
    limit = int(cfg.get("max_position_embeddings", 131072))
    context = min(context or limit, limit)
    weights = weight_bytes(config, quantize, double_quant, dtype_bytes)
    parts = dict(
        config=config,
        chunk=prefill_chunk,
        sequences=sequences,
        prefix_cache_bytes=prefix_cache_bytes,
        device=device,
        quantize=quantize,
        dtype_bytes=dtype_bytes,
    )
    terms = _terms(context=context, **parts)
    max_context = _largest(limit, gpu - weights, **parts)
    d = Dims.of(config)
    return MemoryPlan(
        model=_known(model) or str(model),
        device=device,
        gpu_memory_bytes=gpu,
        context=context,
        max_context=max_context,
        fits=context <= max_context,
        weights_bytes=weights,
        weights_bytes_bf16=weight_bytes(config, "none"),
        lm_head_bytes=lm_head_bytes(config, quantize, dtype_bytes),
        kv_bytes_per_token=(d.full_per_token + d.sliding_per_token) * dtype_bytes,
        kv_bytes_per_token_beyond_window=d.full_per_token * dtype_bytes,
        kv_pool_bytes=terms["kv_pool"],
        ring_bytes=terms["rings"],
        kv_bytes_at_context=terms["kv_pool"] + terms["rings"],
        prefix_cache_bytes=prefix_cache_bytes,
        activation_bytes_per_chunk=terms["activations"],
        graph_pool_bytes=terms["graphs"] if device == "cuda" else 0,
        decode_bytes=decode_workspace_bytes(
            config, sequences, context, device=device, dtype_bytes=dtype_bytes
        ),
        reserve_bytes=terms["reserve"],
        total_bytes=weights + sum(terms.values()),
        prefill_chunk=prefill_chunk,
        sequences=sequences,
    )


def _terms(
    *,
    config: Any,
    context: int,
    chunk: int,
    sequences: int,
    prefix_cache_bytes: int,
    device: str,
    quantize: str,
    dtype_bytes: int,
) -> dict[str, int]:
    """Bytes beyond the weights at the worst moment, by kind."""
    activations = activation_bytes(
        config, context, chunk, device=device, quantize=quantize, dtype_bytes=dtype_bytes
    )
    decode = decode_workspace_bytes(
        config, sequences, context, device=device, dtype_bytes=dtype_bytes
    )
    cuda = device == "cuda"
    return {
        "kv_pool": kv_pool_bytes(config, context, dtype_bytes),
        "rings": ring_bytes(config, sequences, dtype_bytes),
        "prefix_cache": prefix_cache_bytes,
        "activations": activations,
        # a CUDA graph's pool stays allocated; elsewhere the decode step's memory is transient
        # and never live at the same time as a prefill chunk's
        "graphs": decode if cuda else max(0, decode - activations),
        "reserve": RUNTIME_RESERVE if cuda else 0,
    }


def _largest(limit: int, room: int, **parts: Any) -> int:
    """The largest context (<= limit) whose terms fit in room bytes (0 if none does)."""
    if sum(_terms(context=limit, **parts).values()) <= room:
        return limit
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(_terms(context=mid, **parts).values()) <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo


def default_gpu_memory() -> int | None:
    """Total memory of the GPU the engine would run on (CUDA device 0), None without one.

    Asked by every review and pre-commit hook run, so a Linux machine with no GPU driver
    (NVIDIA's or ROCm's) answers without importing torch (~1 s and the CUDA libraries).
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", "x").strip() in ("", "-1"):
        return None
    nvidia = Path("/proc/driver/nvidia/gpus")
    if sys.platform == "linux" and not Path("/dev/kfd").exists():
        if not (nvidia.is_dir() and any(nvidia.iterdir())):
            return None
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory)
    return None


def context_limit(
    model: str,
    gpu_memory_bytes: int | None,
    prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE,
    sequences: int = DEFAULT_SEQUENCES,
) -> int:
    """Largest context (tokens) that fits on the GPU next to the NF4 weights, from the config only.

    With no size and no GPU (the CPU engine), the model's own maximum context.
    """
    config = model_config(model)
    gpu = gpu_memory_bytes or default_gpu_memory()
    limit = int(text_config(config).get("max_position_embeddings", 131072))
    if gpu is None:
        return limit
    return _largest(
        limit,
        gpu - weight_bytes(config),
        config=config,
        chunk=DEFAULT_CHUNK,
        sequences=sequences,
        prefix_cache_bytes=prefix_cache_bytes,
        device="cuda",
        quantize="nf4",
        dtype_bytes=2,
    )


def pool_tokens(
    config: Any,
    free_bytes: int,
    *,
    sequences: int,
    prefix_cache_bytes: int,
    chunk: int,
    quantize: str = "nf4",
    dtype_bytes: int = 2,
) -> int:
    """Positions of full-attention K/V the engine can preallocate in free_bytes (weights are
    already loaded) with everything else of the worst moment still fitting."""
    cfg = _as_dict(config)
    limit = int(text_config(cfg).get("max_position_embeddings", 131072))
    return _largest(
        limit,
        free_bytes,
        config=cfg,
        chunk=chunk,
        sequences=sequences,
        prefix_cache_bytes=prefix_cache_bytes,
        device="cuda",
        quantize=quantize,
        dtype_bytes=dtype_bytes,
    )


def context_limit_for(
    config: Any, free_bytes: int, chunk: int = DEFAULT_CHUNK, device: str = "cuda"
) -> int:
    """Largest context whose prefill transients fit in free_bytes (K/V already allocated)."""
    cfg = _as_dict(config)
    limit = int(text_config(cfg).get("max_position_embeddings", 131072))
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if activation_bytes(cfg, mid, chunk, device=device) <= free_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo
