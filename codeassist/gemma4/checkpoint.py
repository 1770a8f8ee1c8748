"""Checking that a path holds a Gemma 4 checkpoint, before anything heavy is loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeassist.errors import UserError

GEMMA4_MODEL_TYPES = {"gemma4", "gemma4_text"}


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
