"""The memory plan (config only) and its CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from codeassist.cli.main import app
from codeassist.engine import plan
from codeassist.gemma4.shape import layer_shapes

GiB = 2**30


def test_26b_a4b_at_24gib_counts_everything_and_fits_256k():
    result = plan.memory_plan("gemma-4-26b-a4b", 24 * GiB, 262_144)
    # docs/model.md: ~25.2 B parameters (50.4 GB bf16); NF4 layers + an int8 tied
    # embedding/head (262,144 x 2,816 x 1.0625 B = 0.73 GiB) come to 13.6 GiB
    assert 50.0e9 < result.weights_bytes_bf16 < 51.0e9
    assert 13.3 * GiB < result.weights_bytes < 13.8 * GiB
    assert result.lm_head_bytes == 262_144 * 2_816 * 17 // 16
    # K/V: 5 full-attention layers x 2 (K, V) x 2 heads x 512 x 2 B per position, in blocks
    # of 256 (+ one scratch block); 25 sliding layers x 2 x 8 x 256 x 2 B in a ring of
    # 1,024 + 256 positions for each of 4 sequences (+ one scratch row)
    assert result.kv_bytes_per_token_beyond_window == 5 * 4096
    assert result.kv_bytes_per_token == 25 * 8192 + 5 * 4096
    assert result.kv_pool_bytes == (1024 + 1) * 256 * 5 * 4096
    assert result.ring_bytes == (4 + 1) * 1280 * 25 * 8192
    assert result.kv_bytes_at_context == result.kv_pool_bytes + result.ring_bytes
    parts = (
        result.weights_bytes
        + result.kv_pool_bytes
        + result.ring_bytes
        + result.prefix_cache_bytes
        + result.activation_bytes_per_chunk
        + result.graph_pool_bytes
        + result.reserve_bytes
    )
    assert result.total_bytes == parts <= 24 * GiB
    assert result.max_context == 262_144 and result.fits
    assert result.graph_pool_bytes > 0 and result.reserve_bytes > 0
    double = plan.memory_plan("gemma-4-26b-a4b", 24 * GiB, 262_144, double_quant=True)
    assert double.weights_bytes < result.weights_bytes - 1e9


def test_a_context_that_does_not_fit_is_said_so():
    result = plan.memory_plan("gemma-4-26b-a4b", 20 * GiB, 262_144)
    assert not result.fits and 0 < result.max_context < 262_144
    assert result.total_bytes > 20 * GiB
    at_max = plan.memory_plan("gemma-4-26b-a4b", 20 * GiB, result.max_context)
    assert at_max.fits and at_max.total_bytes <= 20 * GiB
    beyond = plan.memory_plan("gemma-4-26b-a4b", 20 * GiB, result.max_context + 256)
    assert beyond.total_bytes > 20 * GiB


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
    assert data["kv_bytes_at_context"] == 6_684_672_000
    text = runner.invoke(app, ["model", "plan", str(tiny_checkpoint), "--gpu-memory", "1GiB"])
    assert text.exit_code == 0 and "largest context that fits" in text.output
    bad = runner.invoke(app, ["model", "plan", "gemma-5", "--gpu-memory", "24GiB"])
    assert bad.exit_code == 2 and "unknown model" in bad.output
