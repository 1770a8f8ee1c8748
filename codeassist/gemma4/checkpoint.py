"""Checking that a path holds a Gemma 4 checkpoint, before anything heavy is loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from codeassist.errors import UserError

GEMMA4_MODEL_TYPES = {"gemma4", "gemma4_text"}


def resolve_model_path(path: str) -> Path:
    """A local checkpoint folder for path: the folder itself, or an HF cache id resolved offline."""
    local = Path(path).expanduser()
    if local.exists() or not path or "/" not in path or path.startswith((".", "/", "~")):
        return local
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=path, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means: not in the local cache
        raise UserError(
            f"model '{path}' is neither a local folder nor in the Hugging Face cache "
            f"({os.environ.get('HF_HUB_CACHE') or '~/.cache/huggingface/hub'}); codeassist never "
            f"downloads: fetch it first (`huggingface-cli download {path}`) or give a local path."
        ) from None


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The config.json of a local Gemma 4 checkpoint; UserError naming the problem otherwise."""
    if not str(path):
        raise UserError(
            "no model is configured; set [model] path in ~/.config/codeassist/config.toml, "
            "CODEASSIST_MODEL_PATH, or pass --model PATH (a local Gemma 4 checkpoint directory)."
        )
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(
            f"model path {root} does not exist; point [model] path at a Gemma 4 checkpoint."
        )
    if not root.is_dir():
        raise UserError(f"model path {root} is not a directory; give the checkpoint's folder.")
    config_file = root / "config.json"
    if not config_file.is_file():
        raise UserError(
            f"model path {root} has no config.json, so it is not a Hugging Face checkpoint; "
            f"give the folder that holds config.json and the *.safetensors files."
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(
            f"{config_file} cannot be read as JSON ({error}); re-download it."
        ) from None
    model_type = config.get("model_type")
    if model_type not in GEMMA4_MODEL_TYPES:
        raise UserError(
            f"{root} is a '{model_type}' checkpoint, not Gemma 4; codeassist needs a Gemma 4 "
            f"model (for example google/gemma-4-26B-A4B-it)."
        )
    return config
