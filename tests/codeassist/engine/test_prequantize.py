"""`codeassist model quantize`: an NF4 checkpoint that loads to the same logits."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from codeassist.cli.main import app
from codeassist.config import EngineSettings
from codeassist.engine import Engine


def _logits(engine: Engine) -> torch.Tensor:
    return engine.prompt_logits(list(range(200, 330)))


def test_quantized_checkpoint_gives_same_logits(tiny_checkpoint, nf4_engine, tmp_path):
    out = tmp_path / "tiny-nf4"
    result = CliRunner().invoke(app, ["model", "quantize", str(tiny_checkpoint), str(out)])
    assert result.exit_code == 0, result.output
    stored = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    original = sum(f.stat().st_size for f in tiny_checkpoint.glob("*.safetensors"))
    assert stored < 0.4 * original
    # settings say "none": the checkpoint's own manifest wins, nothing is dequantized
    loaded = Engine.load(str(out), EngineSettings(quantize="none"))
    assert loaded.loaded.quantize == "nf4"
    assert torch.equal(_logits(loaded), _logits(nf4_engine))
    again = CliRunner().invoke(app, ["model", "quantize", str(tiny_checkpoint), str(out)])
    assert again.exit_code == 2 and "not an empty folder" in again.output


def test_quantize_rejects_bad_source(tmp_path):
    result = CliRunner().invoke(
        app, ["model", "quantize", str(tmp_path / "nope"), str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
