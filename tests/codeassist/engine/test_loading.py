"""Loading: real Gemma 4 layout (multimodal wrapper, nested text config), offline only."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from codeassist.config import EngineSettings
from codeassist.engine import Engine
from codeassist.errors import UserError


def _logits(engine: Engine) -> torch.Tensor:
    return engine.prompt_logits(list(range(300, 380)))


def test_conditional_generation_checkpoint_loads_its_text_model(
    tiny_checkpoint, nf4_engine, tmp_path
):
    """Gemma4ForConditionalGeneration: model_type gemma4, text_config nested, towers skipped."""
    out = tmp_path / "wrapped"
    shutil.copytree(tiny_checkpoint, out)
    text = json.loads((out / "config.json").read_text())
    text["model_type"] = "gemma4_text"
    wrapped = {
        "architectures": ["Gemma4ForConditionalGeneration"],
        "model_type": "gemma4",
        "text_config": text,
        "vision_config": {"hidden_size": 64},
    }
    (out / "config.json").write_text(json.dumps(wrapped))
    tensors = load_file(out / "model.safetensors")
    renamed = {"model.language_model." + k.removeprefix("model."): v for k, v in tensors.items()}
    renamed["model.vision_tower.patch.weight"] = torch.zeros(4, 4)
    renamed["model.embed_vision.proj.weight"] = torch.zeros(4, 4)
    (out / "model.safetensors").unlink()
    half = len(renamed) // 2
    names = sorted(renamed)
    save_file({k: renamed[k] for k in names[:half]}, out / "model-00001-of-00002.safetensors")
    save_file({k: renamed[k] for k in names[half:]}, out / "model-00002-of-00002.safetensors")
    engine = Engine.load(str(out), EngineSettings())
    assert torch.equal(_logits(engine), _logits(nf4_engine))


def test_missing_models_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(UserError, match="never downloads"):
        Engine.load("google/gemma-4-26B-A4B-it", EngineSettings())
    with pytest.raises(UserError, match="does not exist"):
        Engine.load(str(tmp_path / "nothing-here"), EngineSettings())


def test_bad_settings_are_named(tiny_checkpoint):
    with pytest.raises(UserError, match="engine.quantize"):
        Engine.load(str(tiny_checkpoint), EngineSettings(quantize="int3"))
    with pytest.raises(UserError, match="engine.dtype"):
        Engine.load(str(tiny_checkpoint), EngineSettings(dtype="float16"))


def test_sampling_params_import_no_torch():
    """The daemon imports the request types without loading torch (contract 2)."""
    import subprocess
    import sys

    code = (
        "import sys; from codeassist.engine.sampling import SamplingParams, StepOutput; "
        "import codeassist.engine; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_load_reports_progress(tiny_checkpoint):
    """Engine.load(progress=) hears fractions from 0 to 1, never going back (contract 3)."""
    heard = []
    Engine.load(str(tiny_checkpoint), EngineSettings(), progress=lambda f, m: heard.append((f, m)))
    fractions = [f for f, _ in heard]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and heard[-1][1] == "ready"
    assert fractions == sorted(fractions) and len(heard) >= 5
    assert any(m == "loading weights" and 0 < f < 0.9 for f, m in heard)
