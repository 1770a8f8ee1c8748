"""The tiny Gemma 4 checkpoint: loads with transformers, has the 26B-A4B's structure, generates."""

from __future__ import annotations

import json

import pytest

from codeassist.gemma4.prompt import render_chat
from codeassist.gemma4.tiny import TINY_WINDOW


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint), AutoModelForCausalLM.from_pretrained(
        tiny_checkpoint
    )


def test_checkpoint_is_small(tiny_checkpoint):
    size = sum(p.stat().st_size for p in tiny_checkpoint.iterdir())
    assert size < 10 * 2**20


def test_structure_is_the_26b_a4b_in_miniature(tiny_checkpoint, loaded):
    import torch

    _, model = loaded
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert config["model_type"] == "gemma4_text"
    assert config["architectures"] == ["Gemma4ForCausalLM"]
    layers = model.model.layers
    types = [layer.self_attn.layer_type for layer in layers]
    assert types[-1] == "full_attention" and "sliding_attention" in types
    for layer in layers:
        assert layer.enable_moe_block and layer.mlp is not None  # experts plus the dense MLP
        experts = layer.experts.gate_up_proj
        assert experts.dim() == 3 and experts.shape[0] == config["num_experts"]
        attn = layer.self_attn
        if attn.layer_type == "full_attention":
            assert attn.v_proj is None  # K=V on global layers
            assert attn.sliding_window is None
        else:
            assert attn.v_proj is not None and attn.sliding_window == TINY_WINDOW
    assert config["top_k_experts"] < config["num_experts"]
    # bitsandbytes' CPU 4-bit kernels need these to be multiples of 64.
    for key in ["hidden_size", "intermediate_size", "moe_intermediate_size", "head_dim"]:
        assert config[key] % 64 == 0, key
    global_dims = {layer.self_attn.head_dim for layer in layers if not layer.self_attn.is_sliding}
    assert global_dims == {128}
    assert model.dtype == torch.bfloat16


def test_special_tokens_have_gemma4_ids(loaded):
    tokenizer, _ = loaded
    ids = {
        tok: tokenizer.convert_tokens_to_ids(tok)
        for tok in ["<pad>", "<eos>", "<bos>", "<|turn>", "<turn|>"]
    }
    assert ids == {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<|turn>": 105, "<turn|>": 106}
    for token in ["<|think|>", "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", '<|"|>']:
        encoded = tokenizer.encode(token, add_special_tokens=False)
        assert len(encoded) == 1, token


@pytest.mark.parametrize("thinking", [False, True])
def test_chat_template_matches_the_gemma4_format(loaded, thinking):
    tokenizer, _ = loaded
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "<|channel>thought\nx<channel|>hello"},
        {"role": "user", "content": "again"},
    ]
    rendered = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
    )
    assert rendered == render_chat(messages, enable_thinking=thinking)
    if thinking:
        assert rendered.startswith("<bos><|turn>system\n<|think|>Be brief.<turn|>\n")
        assert rendered.endswith("<|turn>model\n")
    else:
        assert rendered.endswith("<|turn>model\n<|channel>thought\n<channel|>")


def test_code_round_trips_through_the_tokenizer(loaded):
    tokenizer, _ = loaded
    code = "def f(x):\n\treturn x  # é 😀 {}\n"
    assert tokenizer.decode(tokenizer.encode(code, add_special_tokens=False)) == code


def test_generate_produces_tokens_on_the_cpu(loaded):
    import torch

    tokenizer, model = loaded
    prompt = render_chat([{"role": "user", "content": "write code"}])
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    assert ids[0, 0].item() == 2
    torch.manual_seed(0)
    out = model.generate(ids, max_new_tokens=8, do_sample=False, min_new_tokens=8)
    assert out.shape[1] == ids.shape[1] + 8
    assert out.device.type == "cpu"
