"""The tiny Gemma 4 checkpoint: loads with transformers, has the 26B-A4B's structure, generates."""

from __future__ import annotations

import json

import pytest

from codeassist.gemma4.prompt import render_chat
from codeassist.gemma4.tiny import TINY_VOCAB, TINY_WINDOW
from codeassist.gemma4.tokens import BOS, FIXED_IDS, NEWLINE_ID


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


def test_special_tokens_have_the_released_ids(loaded):
    tokenizer, _ = loaded
    for token, index in FIXED_IDS.items():
        assert tokenizer.convert_tokens_to_ids(token) == index, token
        assert tokenizer.encode(token, add_special_tokens=False) == [index], token
    assert tokenizer.convert_tokens_to_ids("\n") == NEWLINE_ID
    assert set(FIXED_IDS.values()) <= set(tokenizer.all_special_ids)


def test_vocabulary_has_exactly_vocab_size_entries_and_every_id_is_a_token(tiny_checkpoint, loaded):
    tokenizer, model = loaded
    assert model.config.vocab_size == TINY_VOCAB == len(tokenizer)
    vocab = json.loads((tiny_checkpoint / "tokenizer.json").read_text())["model"]["vocab"]
    assert sorted(vocab.values()) == list(range(TINY_VOCAB))
    assert all(tokenizer.convert_ids_to_tokens(i) for i in range(TINY_VOCAB))


def test_tokenizer_is_sentencepiece_style_bpe_with_byte_fallback(tiny_checkpoint, loaded):
    """What llama.cpp's converter (gguf LlamaHfVocab) and its gemma4 tokenizer rely on."""
    tokenizer, _ = loaded
    spec = json.loads((tiny_checkpoint / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "BPE" and spec["model"]["byte_fallback"] is True
    assert spec["decoder"]["type"] == "Sequence"
    assert all(f"<0x{b:02X}>" in spec["model"]["vocab"] for b in range(256))
    pieces = tokenizer.tokenize("    return a  + b")
    assert all(" " not in piece for piece in pieces) and any("▁" in piece for piece in pieces)
    # A character the vocabulary lacks falls back to its UTF-8 bytes.
    assert tokenizer.tokenize("😀") == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]


def test_newline_runs_are_cut_out_and_one_token_up_to_31(loaded):
    tokenizer, _ = loaded
    for count in range(1, 32):
        ids = tokenizer.encode("x" + "\n" * count + "y", add_special_tokens=False)
        assert len(ids) == 3, count
        assert ids[1] == NEWLINE_ID + count - 1
    longer = tokenizer.encode("\n" * 40, add_special_tokens=False)
    assert len(longer) == 2 and tokenizer.decode(longer) == "\n" * 40


def test_bos_is_added_only_when_asked(loaded):
    tokenizer, _ = loaded
    plain = tokenizer.encode("x = 1", add_special_tokens=False)
    assert tokenizer.encode("x = 1") == [FIXED_IDS[BOS], *plain]


CHATS = [
    [
        {"role": "system", "content": " Be brief.\n"},
        {"role": "user", "content": "hi "},
        {"role": "assistant", "content": "<|channel>thought\nx<channel|>hello"},
        {"role": "user", "content": "again"},
    ],
    [{"role": "user", "content": "\ncode\n"}],
    [
        {"role": "developer", "content": "d"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b<|channel>thought\nunclosed"},
        {"role": "assistant", "content": "c"},
    ],
]


@pytest.mark.parametrize("thinking", [False, True])
@pytest.mark.parametrize("chat", range(len(CHATS)))
def test_chat_template_matches_render_chat(loaded, thinking, chat):
    tokenizer, _ = loaded
    messages = CHATS[chat]
    for generation in (True, False):
        rendered = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation, enable_thinking=thinking
        )
        expected = render_chat(messages, enable_thinking=thinking, add_generation_prompt=generation)
        assert rendered == expected
    if thinking:
        assert rendered.startswith("<bos><|turn>system\n<|think|>\n")


def test_chat_template_refuses_what_it_cannot_render(loaded):
    import jinja2

    tokenizer, _ = loaded
    with pytest.raises(jinja2.TemplateError, match="role tool"):
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}], tokenize=False
        )


def test_code_round_trips_through_the_tokenizer(loaded):
    tokenizer, _ = loaded
    code = "def f(x):\n\treturn x  # é 😀 {}\n\n\n  \r\n"
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
