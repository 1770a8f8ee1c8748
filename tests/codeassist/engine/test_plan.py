"""The memory plan (config only) and its CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from codeassist.cli.main import app
from codeassist.engine import plan
from codeassist.gemma4.shape import layer_shapes

GiB = 2**30


def test_26b_a4b_at_24gib_matches_gemma4_arithmetic():
    result = plan.memory_plan("gemma-4-26b-a4b", 24 * GiB, 262_144)
    # GEMMA4.md: ~25.2 B parameters (50.4 GB bf16); NF4 experts bring it to ~14.3 GB
    assert 50.0e9 < result.weights_bytes_bf16 < 51.0e9
    assert 14.0 * GiB < result.weights_bytes < 14.5 * GiB  # 15.3 GB: absmax in float32
    # 25 x 8 KiB x 1024 + 5 x 4 KiB x 262,144 = 5.2 GiB (~5.6 GB)
    assert result.kv_bytes_at_context == 25 * 8192 * 1024 + 5 * 4096 * 262_144
    assert result.kv_bytes_per_token == 25 * 8192 + 5 * 4096
    assert result.max_context == 262_144 and result.fits
    double = plan.memory_plan("gemma-4-26b-a4b", 24 * GiB, 262_144, double_quant=True)
    assert double.weights_bytes < result.weights_bytes - 1e9


def test_context_limit_shrinks_with_memory():
    full = plan.context_limit("gemma-4-26b-a4b", 24 * GiB)
    small = plan.context_limit("gemma-4-26b-a4b", 19 * GiB)
    assert full == 262_144 and 0 < small < full
    # the prefix cache's budget (2 GiB by default) comes out of the same memory
    assert plan.context_limit("gemma-4-26b-a4b", 19 * GiB, prefix_cache_bytes=0) > small
    assert plan.context_limit("gemma-4-26b-a4b", 12 * GiB) == 0  # weights alone do not fit
    assert plan.context_limit("google/gemma-4-31B-it", 24 * GiB) < 100_000


def test_shipped_configs_and_both_layouts():
    for name in plan.KNOWN_MODELS:
        config = plan.model_config(name)
        assert config["model_type"] == "gemma4" and layer_shapes(config)
    shapes = layer_shapes(plan.model_config("gemma-4-26b-a4b"))
    assert sum(s.window is None for s in shapes) == 5 and len(shapes) == 30
    full = next(s for s in shapes if s.window is None)
    assert (full.head_dim, full.num_kv_heads, full.k_eq_v) == (512, 2, True)
    # the newer layout: per_layer_config instead of global_* keys
    legacy = plan.model_config("gemma-4-26b-a4b")["text_config"]
    newer = {k: v for k, v in legacy.items() if not k.startswith(("global_", "num_global_"))}
    newer["per_layer_config"] = {
        str(i): {"head_dim": 512, "num_key_value_heads": 2}
        for i, kind in enumerate(legacy["layer_types"])
        if kind == "full_attention"
    }
    assert layer_shapes(newer) == layer_shapes(legacy)


def test_plan_cli_json_and_errors(tiny_checkpoint):
    runner = CliRunner()
    result = runner.invoke(
        app, ["model", "plan", "gemma-4-26b-a4b", "--gpu-memory", "24GiB", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    for key in ("weights_bytes", "weights_bytes_bf16", "kv_bytes_per_token"):
        assert data[key] > 0
    assert data["context"] == data["max_context"] == 262_144
    assert data["kv_bytes_at_context"] == 5_578_424_320
    text = runner.invoke(app, ["model", "plan", str(tiny_checkpoint), "--gpu-memory", "1GiB"])
    assert text.exit_code == 0 and "largest context that fits" in text.output
    bad = runner.invoke(app, ["model", "plan", "gemma-5", "--gpu-memory", "24GiB"])
    assert bad.exit_code == 2 and "unknown model" in bad.output
