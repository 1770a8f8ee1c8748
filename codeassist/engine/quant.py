"""Which parts of a Gemma 4 text model are quantized, and how they are put in place.

Before loading (`swap_in_nf4`, on the meta skeleton): every nn.Linear but the router's becomes
an `NF4Linear` and every expert block an `NF4Experts`, in bitsandbytes' NF4 format, so that
checkpoint tensors (float, or already NF4 from `codeassist model quantize`) load into them.
After loading (`finish_loading`): q/k/v and gate/up are fused into one matrix each (when the
caller's layer code uses them), the tied embedding / LM head become one int8 matrix, and the
code tables are put on the weights' device.
"""

from __future__ import annotations

import torch
from torch import nn

from codeassist.engine.head import DenseHead, Int8Embedding, Int8Head, Int8Matrix
from codeassist.engine.moe import NF4Experts
from codeassist.engine.nf4 import NF4Stack
from codeassist.engine.nf4_linear import NF4Linear

__all__ = [
    "NF4Experts",
    "NF4Linear",
    "NF4Stack",
    "finish_loading",
    "fuse_projections",
    "quantized_modules",
    "swap_in_nf4",
]


def quantized_modules(model: nn.Module) -> list[nn.Module]:
    """Every quantized weight store of the model (NF4 stacks, int8 matrices), each once."""
    return [m for m in model.modules() if isinstance(m, NF4Stack | Int8Matrix)]


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


def fuse_projections(model: nn.Module) -> None:
    """q/k/v -> `self_attn.qkv_proj`, gate/up -> `mlp.gate_up_proj` (NF4Linear with `.splits`).

    The separate layers are removed. On K=V layers (no v_proj) qkv_proj has two splits.
    """
    for layer in model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        names = [n for n in ("q_proj", "k_proj", "v_proj") if getattr(attn, n, None) is not None]
        if all(isinstance(getattr(attn, n), NF4Linear) for n in names) and len(names) > 1:
            attn.qkv_proj = NF4Linear.fuse([getattr(attn, n) for n in names])
            for n in names:
                delattr(attn, n)
        if isinstance(getattr(mlp, "gate_proj", None), NF4Linear):
            mlp.gate_up_proj = NF4Linear.fuse([mlp.gate_proj, mlp.up_proj])
            del mlp.gate_proj, mlp.up_proj


def _int8_embedding(model: nn.Module, dtype: torch.dtype) -> Int8Embedding:
    weight = model.embed_tokens.weight
    vocab, hidden = weight.shape
    embedding = Int8Embedding(
        vocab, hidden, model.embed_tokens.scalar_embed_scale, dtype, device=weight.device
    )
    embedding.matrix.load_float(weight, weight.device)
    return embedding


def finish_loading(
    model: nn.Module,
    lm_head: torch.Tensor | None,
    quantize: str,
    dtype: torch.dtype = torch.bfloat16,
    fuse: bool = True,
) -> nn.Module:
    """After the checkpoint is in place: fuse, quantize embedding and head, build tables.

    lm_head is the untied head's float weight (None when tied to the embedding). Returns the LM
    head as a module: hidden [..., H] -> float32 logits [..., V]. Works on the meta device too
    (the memory plan counts what it leaves).
    """
    if quantize != "nf4":
        return DenseHead(model.embed_tokens.weight if lm_head is None else lm_head)
    if fuse:
        fuse_projections(model)
    model.embed_tokens = _int8_embedding(model, dtype)
    if lm_head is None:
        head = Int8Head(model.embed_tokens.matrix)
    else:
        matrix = Int8Matrix(*lm_head.shape, device=lm_head.device)
        matrix.load_float(lm_head, lm_head.device)
        head = Int8Head(matrix)
    for stack in model.modules():
        if isinstance(stack, NF4Stack):
            stack.prepare()
    return head
