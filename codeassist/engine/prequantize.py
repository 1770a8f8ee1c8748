"""`codeassist model quantize SRC DST`: write a checkpoint whose weights are already NF4.

Shard by shard: each input shard is read, its linear and expert weights quantized, and one
output shard written before the next is read, so host memory peaks at about one shard, never
the whole bf16 model. Only the text model is kept (vision and audio towers are dropped). The
output loads with `Engine.load` and gives the same logits as quantizing on load.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from codeassist.engine.loading import (
    QUANT_MANIFEST,
    _text_name,
    build_text_config,
    pick_device,
    skeleton,
)
from codeassist.engine.quant import NF4Experts, NF4Linear, NF4Stack
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config, resolve_model_path


def _quantized(module: NF4Stack, tensor: torch.Tensor, device: torch.device, prefix: str) -> dict:
    stack = NF4Stack(
        module.count, module.out_features, module.in_features, module.double_quant, "cpu"
    )
    stack.load_float(tensor, device)
    stored = stack.state_dict()  # the NF4 buffers, not the shared code table
    return {f"{prefix}.{name}": buf.to("cpu").contiguous() for name, buf in stored.items()}


def quantize_checkpoint(
    src: str,
    dst: Path,
    double_quant: bool = False,
    device: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write the NF4 checkpoint of src into dst (a new or empty folder); returns a summary."""
    root = resolve_model_path(src)
    raw = read_checkpoint_config(root)
    if (root / QUANT_MANIFEST).is_file():
        raise UserError(f"{root} is already quantized ({QUANT_MANIFEST}); load it directly.")
    dst = Path(dst).expanduser()
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise UserError(f"{dst} exists and is not an empty folder; choose a new destination.")
    files = sorted(root.glob("*.safetensors"))
    if not files:
        raise UserError(
            f"{root} holds no *.safetensors files; give a checkpoint folder with weights."
        )
    config = build_text_config(raw)
    model = skeleton(config, "nf4", double_quant)  # meta: only tells which tensors are quantized
    target = pick_device(device)
    dst.mkdir(parents=True, exist_ok=True)
    in_bytes = out_bytes = 0
    for number, file in enumerate(files, start=1):
        out: dict[str, torch.Tensor] = {}
        with safe_open(str(file), framework="pt") as shard:
            for name in shard.keys():  # noqa: SIM118 - safe_open is not a dict
                text_name = _text_name(name)
                if (
                    text_name is None
                    or text_name == "lm_head.weight"
                    and config.tie_word_embeddings
                ):
                    continue
                tensor = shard.get_tensor(name)
                in_bytes += tensor.numel() * tensor.element_size()
                module_name, _, attr = text_name.rpartition(".")
                module = model.get_submodule(module_name) if module_name else model
                if isinstance(module, NF4Linear) and attr == "weight":
                    out.update(
                        _quantized(module.weight4, tensor, target, f"model.{module_name}.weight4")
                    )
                elif isinstance(module, NF4Experts) and attr in ("gate_up_proj", "down_proj"):
                    stack = module.gate_up if attr == "gate_up_proj" else module.down
                    short = "gate_up" if attr == "gate_up_proj" else "down"
                    out.update(_quantized(stack, tensor, target, f"model.{module_name}.{short}"))
                else:
                    if tensor.is_floating_point():
                        tensor = tensor.to(torch.bfloat16)
                    out[f"model.{text_name}" if text_name != "lm_head.weight" else text_name] = (
                        tensor
                    )
        name = f"model-{number:05d}-of-{len(files):05d}.safetensors"
        save_file(out, str(dst / name), metadata={"format": "pt", "codeassist": "nf4"})
        out_bytes += sum(t.numel() * t.element_size() for t in out.values())
        del out
        if progress:
            progress(f"shard {number}/{len(files)}: {file.name} -> {name}")
    for extra in root.iterdir():
        if (
            extra.is_file()
            and extra.suffix != ".safetensors"
            and extra.name != "model.safetensors.index.json"
        ):
            shutil.copy2(extra, dst / extra.name)
    manifest = {"quantize": "nf4", "double_quant": double_quant, "block": 64, "source": str(root)}
    (dst / QUANT_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return {
        "source": str(root),
        "destination": str(dst),
        "shards": len(files),
        "in_bytes": in_bytes,
        "out_bytes": out_bytes,
    }
