"""Memory plan from a config alone: weights (NF4, bf16), KV cache, activations, context that fits.

Weights are counted on a meta-device model built from the config (no weights needed), with the
same NF4 modules the engine loads. KV bytes follow the engine's cache: full-attention layers
grow with the context, sliding layers keep their window (plus slack and one chunk while a
prompt is prefilled).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from codeassist.errors import UserError
from codeassist.gemma4.shape import kv_shared_layers, layer_shapes, text_config
from codeassist.sizes import parse_size  # noqa: F401 - re-exported for cli/model.py

GiB = 2**30
RUNTIME_RESERVE = GiB // 2  # CUDA context, allocator slack, sampling buffers
PREFIX_SLACK = 256  # tokens a sliding layer keeps before its window while prefilling
DEFAULT_PREFIX_CACHE = 2048 * 2**20  # EngineSettings.prefix_cache_mib's default
KNOWN_MODELS = ("gemma-4-26b-a4b", "gemma-4-31b", "gemma-4-e4b", "gemma-4-e2b")


@dataclass
class MemoryPlan:
    model: str
    weights_bytes: int  # as loaded (NF4 or bf16)
    weights_bytes_bf16: int
    kv_bytes_per_token: int  # one more token on every layer that stores K/V (within the window)
    kv_bytes_per_token_beyond_window: int  # full-attention layers only
    kv_bytes_at_context: int
    context: int
    max_context: int  # largest context that fits gpu_memory_bytes
    activation_bytes_per_chunk: int  # one prefill chunk at the given context
    prefill_chunk: int
    gpu_memory_bytes: int
    reserve_bytes: int
    prefix_cache_bytes: int  # the prefix cache's budget, held next to the live KV cache
    fits: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _known(name: str) -> str | None:
    key = name.lower().removeprefix("google/").removesuffix("-it")
    return key if key in KNOWN_MODELS else None


def model_config(model: str) -> dict[str, Any]:
    """The config.json of a known model name (shipped), a local checkpoint, or a cached HF id."""
    known = _known(model)
    if known:
        text = resources.files("codeassist.gemma4.configs").joinpath(f"{known}.json").read_text()
        return json.loads(text)
    from codeassist.engine.loading import resolve_model_path
    from codeassist.gemma4.checkpoint import read_checkpoint_config

    if not Path(model).expanduser().exists() and "/" not in model:
        raise UserError(
            f"unknown model '{model}'; give a checkpoint folder or one of "
            f"{', '.join(KNOWN_MODELS)}."
        )
    return read_checkpoint_config(resolve_model_path(model))


def weight_bytes(config: dict[str, Any], quantize: str = "nf4", double_quant: bool = False) -> int:
    """Bytes of the text model's weights as the engine holds them (bf16 floats, NF4 packs)."""
    import torch

    from codeassist.engine.loading import build_text_config, skeleton

    model = skeleton(build_text_config(config), quantize, double_quant)
    total = 0
    for tensor in model.parameters():
        total += tensor.numel() * 2  # bf16 on load
    for name, tensor in model.named_buffers():
        if name.endswith("inv_freq") or name.endswith("embed_scale"):
            continue  # recomputed, tiny
        size = 2 if tensor.dtype.is_floating_point and tensor.dtype != torch.float32 else None
        size = size or tensor.element_size()
        if name.endswith("layer_scalar"):
            size = 2
        total += tensor.numel() * size
    if not text_config(config).get("tie_word_embeddings", True):
        total += text_config(config)["vocab_size"] * text_config(config)["hidden_size"] * 2
    return total


def _kv_layout(config: dict[str, Any]) -> tuple[int, int, int]:
    """(bytes per token on full layers, on sliding layers, window) for layers that store K/V."""
    shapes = layer_shapes(config)
    stored = shapes[: len(shapes) - kv_shared_layers(config)]
    full = sum(2 * s.num_kv_heads * s.head_dim * 2 for s in stored if s.window is None)
    sliding = sum(2 * s.num_kv_heads * s.head_dim * 2 for s in stored if s.window is not None)
    window = max((s.window or 0) for s in shapes)
    return full, sliding, window


def kv_bytes(config: dict[str, Any], context: int) -> int:
    """KV cache bytes at a context length: sliding layers capped at their window."""
    full, sliding, window = _kv_layout(config)
    return full * context + sliding * min(context, window)


def activation_bytes(config: dict[str, Any], context: int, chunk: int) -> int:
    """A rough upper bound on transient memory while one prefill chunk runs at this context."""
    cfg = text_config(config)
    shapes = layer_shapes(config)
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    widest_q = heads * max(s.head_dim for s in shapes)
    mlp = cfg.get("intermediate_size", 0) * (2 if cfg.get("use_double_wide_mlp") else 1)
    experts = (
        2 * cfg.get("moe_intermediate_size", 0) * cfg.get("top_k_experts", 0)
        if cfg.get("enable_moe_block")
        else 0
    )
    per_token = 2 * (10 * hidden + 3 * widest_q + 3 * mlp + 2 * experts)
    per_token += context  # the boolean attention mask row
    per_token += 4 * cfg.get("hidden_size_per_layer_input", 0) * cfg["num_hidden_layers"]
    logits = 4 * cfg["vocab_size"] * 2
    full, sliding, window = _kv_layout(config)
    prefill_window_extra = sliding * (PREFIX_SLACK + chunk)  # sliding buffers during prefill
    from codeassist.engine.attention import SCORE_BUDGET

    return chunk * per_token + logits + prefill_window_extra + SCORE_BUDGET


def _needed(config: dict[str, Any], weights: int, context: int, chunk: int) -> int:
    chunk = min(chunk, context)
    return (
        weights
        + kv_bytes(config, context)
        + activation_bytes(config, context, chunk)
        + RUNTIME_RESERVE
    )


def largest_context(config: dict[str, Any], weights: int, gpu_memory: int, chunk: int) -> int:
    """The largest context whose KV cache and activations fit next to the weights (0 if none)."""
    limit = int(text_config(config).get("max_position_embeddings", 131072))
    if _needed(config, weights, limit, chunk) <= gpu_memory:
        return limit
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _needed(config, weights, mid, chunk) <= gpu_memory:
            lo = mid
        else:
            hi = mid - 1
    return lo


def default_gpu_memory() -> int | None:
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory)
    return None


def memory_plan(
    model: str,
    gpu_memory_bytes: int | None = None,
    context: int | None = None,
    quantize: str = "nf4",
    double_quant: bool = False,
    prefill_chunk: int = 1024,
    prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE,
) -> MemoryPlan:
    """The plan for a model name or checkpoint (24 GiB when no size is given and no GPU is seen)."""
    config = model_config(model)
    cfg = text_config(config)
    gpu = gpu_memory_bytes or default_gpu_memory() or 24 * GiB
    weights = weight_bytes(config, quantize, double_quant)
    bf16 = weight_bytes(config, "none")
    limit = int(cfg.get("max_position_embeddings", 131072))
    context = min(context or limit, limit)
    full, sliding, _ = _kv_layout(config)
    max_context = largest_context(config, weights + prefix_cache_bytes, gpu, prefill_chunk)
    return MemoryPlan(
        model=_known(model) or str(model),
        weights_bytes=weights,
        weights_bytes_bf16=bf16,
        kv_bytes_per_token=full + sliding,
        kv_bytes_per_token_beyond_window=full,
        kv_bytes_at_context=kv_bytes(config, context),
        context=context,
        max_context=max_context,
        activation_bytes_per_chunk=activation_bytes(config, context, min(prefill_chunk, context)),
        prefill_chunk=prefill_chunk,
        gpu_memory_bytes=gpu,
        reserve_bytes=RUNTIME_RESERVE,
        prefix_cache_bytes=prefix_cache_bytes,
        fits=context <= max_context,
    )


def context_limit(
    model: str, gpu_memory_bytes: int | None, prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE
) -> int:
    """Largest context (tokens) that fits on the GPU next to the NF4 weights, from the config only.

    With no size and no GPU (the CPU engine), the model's own maximum context.
    """
    config = model_config(model)
    gpu = gpu_memory_bytes or default_gpu_memory()
    if gpu is None:
        return int(text_config(config).get("max_position_embeddings", 131072))
    return largest_context(config, weight_bytes(config) + prefix_cache_bytes, gpu, 1024)


def pool_tokens(
    config: Any,
    free_bytes: int,
    *,
    sequences: int,
    prefix_cache_bytes: int,
    chunk: int,
    dtype_bytes: int = 2,
) -> int:
    """Positions of full-attention K/V that fit in free_bytes next to everything else."""
    cfg = config if isinstance(config, dict) else config.to_dict()
    full, sliding, window = _kv_layout(cfg)
    fixed = (sequences + 1) * (window + PREFIX_SLACK) * sliding + prefix_cache_bytes
    return largest_context(cfg, fixed, free_bytes, chunk)


def context_limit_for(config: Any, free_bytes: int, chunk: int = 1024) -> int:
    """Largest context whose KV cache and activations fit in free_bytes (weights already loaded)."""
    cfg = config if isinstance(config, dict) else config.to_dict()
    return largest_context(cfg, 0, free_bytes + RUNTIME_RESERVE, chunk)
