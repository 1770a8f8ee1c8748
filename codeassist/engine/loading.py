"""Loading a Gemma 4 checkpoint's text model: local files only, shard by shard, 4-bit on the way in.

The model is built on the meta device from its config and every tensor of the checkpoint is put
in place as it is read, so no full bf16 copy is ever held when quantizing. Real Gemma 4
checkpoints are Gemma4ForConditionalGeneration (text config nested): only the language model
is loaded; the tiny test checkpoint is a Gemma4ForCausalLM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn
from transformers import Gemma4TextConfig
from transformers.models.gemma4.modeling_gemma4 import Gemma4TextModel, Gemma4TextRotaryEmbedding

from codeassist.engine.quant import NF4Experts, NF4Linear, finish_loading, swap_in_nf4
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config, resolve_model_path
from codeassist.gemma4.shape import text_config

QUANT_MANIFEST = "codeassist-quant.json"
TEXT_PREFIXES = ("model.language_model.", "model.")


@dataclass
class LoadedModel:
    model: Gemma4TextModel
    head: nn.Module  # hidden [..., H] -> float32 logits [..., V] (tied to the embedding or not)
    config: Gemma4TextConfig
    path: Path
    quantize: str  # "nf4" or "none"
    double_quant: bool
    dtype: torch.dtype


def build_text_config(raw: dict) -> Gemma4TextConfig:
    cfg = text_config(raw)
    cfg.pop("model_type", None)
    cfg.pop("architectures", None)
    return Gemma4TextConfig(**cfg)


def skeleton(config: Gemma4TextConfig, quantize: str, double_quant: bool) -> Gemma4TextModel:
    """The text model on the meta device, with NF4 modules swapped in when quantizing."""
    with torch.device("meta"):
        model = Gemma4TextModel(config)
    if quantize == "nf4":
        swap_in_nf4(model, double_quant)
    return model.eval()


def _text_name(name: str) -> str | None:
    if name == "lm_head.weight":
        return name
    for prefix in TEXT_PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if prefix == "model." and rest.split(".")[0] in (
                "vision_tower",
                "audio_tower",
                "embed_vision",
                "embed_audio",
            ):
                return None
            if prefix == "model." and rest.startswith("language_model."):
                continue
            return rest
    return None


def checkpoint_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserError(
            f"{path} holds no *.safetensors files; give a checkpoint folder with its weights."
        )
    return files


def count_tensors(path: Path) -> int:
    """How many tensors `iter_checkpoint` will yield (reads only the shards' headers)."""
    total = 0
    for file in checkpoint_files(path):
        with safe_open(str(file), framework="pt") as shard:
            total += sum(_text_name(name) is not None for name in shard.keys())  # noqa: SIM118
    return total


def iter_checkpoint(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """(name in the text model, tensor) for every text tensor, one shard at a time."""
    for file in checkpoint_files(path):
        with safe_open(str(file), framework="pt") as shard:
            for name in shard.keys():  # noqa: SIM118 - safe_open is not a dict
                target = _text_name(name)
                if target is not None:
                    yield target, shard.get_tensor(name)


def _set_tensor(
    model: torch.nn.Module,
    name: str,
    tensor: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> None:
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    if isinstance(module, NF4Linear) and attr == "weight":
        module.weight4.load_float(tensor, device)
        return
    if isinstance(module, NF4Experts) and attr in ("gate_up_proj", "down_proj"):
        (module.gate_up if attr == "gate_up_proj" else module.down).load_float(tensor, device)
        return
    if attr in module._parameters:
        if tensor.is_floating_point():
            tensor = tensor.to(dtype)
        module._parameters[attr] = torch.nn.Parameter(tensor.to(device), requires_grad=False)
    elif attr in module._buffers:
        # NF4 block scales stay float32; other float buffers take the compute dtype
        if tensor.is_floating_point() and not attr.startswith("absmax"):
            tensor = tensor.to(dtype)
        module._buffers[attr] = tensor.to(device)
    else:
        raise UserError(
            f"checkpoint tensor '{name}' has no place in the Gemma 4 text model; "
            "is it a Gemma 4 checkpoint?"
        )


def _finish(model: Gemma4TextModel, config: Gemma4TextConfig, device: torch.device) -> None:
    """Rebuild the buffers that checkpoints do not carry, and check nothing is left on meta."""
    model.rotary_emb = Gemma4TextRotaryEmbedding(config, device=device)
    for module in model.modules():
        if hasattr(module, "scalar_embed_scale"):
            module.embed_scale = torch.tensor(module.scalar_embed_scale, device=device)
    missing = [
        n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta
    ]
    if missing:
        raise UserError(
            f"the checkpoint lacks {len(missing)} tensors of the model (first: {missing[0]}); "
            "it is incomplete."
        )


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "engine.device is 'cuda' but no CUDA GPU is visible; "
            "set engine.device = 'auto' or 'cpu'."
        )
    if setting not in ("cpu", "cuda"):
        raise UserError(f"engine.device must be auto, cuda or cpu, not '{setting}'.")
    return torch.device(setting)


def load_model(
    path: str,
    device: torch.device,
    quantize: str,
    double_quant: bool,
    dtype: torch.dtype = torch.bfloat16,
    progress: Callable[[float], None] | None = None,
) -> LoadedModel:
    """The text model of the checkpoint at path on device, quantized as asked (or as stored).

    progress(fraction) hears the share of checkpoint tensors read so far.
    """
    root = resolve_model_path(path)
    raw = read_checkpoint_config(root)
    config = build_text_config(raw)
    manifest = root / QUANT_MANIFEST
    if manifest.is_file():
        stored = json.loads(manifest.read_text())
        quantize, double_quant = stored["quantize"], bool(stored["double_quant"])
    elif quantize not in ("nf4", "none"):
        raise UserError(f"engine.quantize must be 'nf4' or 'none', not '{quantize}'.")
    model = skeleton(config, quantize, double_quant)
    total = count_tensors(root) if progress else 0
    lm_head = None
    with torch.inference_mode(False), torch.no_grad():
        for done, (name, tensor) in enumerate(iter_checkpoint(root), start=1):
            if name == "lm_head.weight":
                if not config.tie_word_embeddings:
                    lm_head = tensor.to(device=device, dtype=dtype)
            else:
                _set_tensor(model, name, tensor, device, dtype)
            if progress and (done % 16 == 0 or done == total):
                progress(min(1.0, done / max(1, total)))
        _finish(model, config, device)
        head = finish_loading(model, lm_head, quantize, dtype)
    return LoadedModel(model, head, config, root, quantize, double_quant, dtype)
