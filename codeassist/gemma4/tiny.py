"""A tiny random-weight Gemma 4 checkpoint with the 26B-A4B's structure, for tests and benchmarks.

Same family as the 26B-A4B: MoE experts plus a dense MLP in every layer, sliding and global
layers (the last one global), K=V on global layers, top-k routing; every dimension a multiple
of 64 (bitsandbytes' CPU 4-bit kernels need it). The tokenizer is a byte-level BPE trained
locally on a bundled text, with Gemma 4's special tokens at their ids and its chat template.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from codeassist.gemma4 import tokens as t

TINY_VOCAB = 1024
TINY_WINDOW = 128

TINY_TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": TINY_VOCAB,
    "vocab_size_per_layer_input": TINY_VOCAB,
    "hidden_size_per_layer_input": 0,
    "hidden_size": 128,
    "intermediate_size": 256,
    "moe_intermediate_size": 64,
    "num_hidden_layers": 6,
    "layer_types": [
        "sliding_attention",
        "sliding_attention",
        "full_attention",
        "sliding_attention",
        "sliding_attention",
        "full_attention",
    ],
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "global_head_dim": 128,
    "num_global_key_value_heads": 1,
    "attention_k_eq_v": True,
    "sliding_window": TINY_WINDOW,
    "enable_moe_block": True,
    "num_experts": 8,
    "top_k_experts": 2,
    "final_logit_softcapping": 30.0,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
    "hidden_activation": "gelu_pytorch_tanh",
    "pad_token_id": t.FIXED_IDS[t.PAD],
    "eos_token_id": t.FIXED_IDS[t.EOS],
    "bos_token_id": t.FIXED_IDS[t.BOS],
}


def special_tokens() -> list[str]:
    """Control tokens in id order: the fixed ids of GEMMA4.md, fillers, then the rest."""
    size = max(t.FIXED_IDS.values()) + 1
    ordered = [f"<unused{i}>" for i in range(size)]
    for token, index in t.FIXED_IDS.items():
        ordered[index] = token
    ordered[3] = "<unk>"
    ordered[4] = "<mask>"
    return ordered + list(t.OTHER_SPECIALS)


def chat_template() -> str:
    return resources.files("codeassist.gemma4").joinpath("chat_template.jinja").read_text()


def build_tokenizer(out_dir: Path) -> None:
    """Train the byte-level BPE tokenizer and save it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = resources.files("codeassist.gemma4").joinpath("tiny_corpus.txt").read_text()
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    specials = special_tokens()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus.splitlines(keepends=True), trainer)
    for token, index in t.FIXED_IDS.items():
        assert backend.token_to_id(token) == index, (token, backend.token_to_id(token))

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=t.BOS,
        eos_token=t.EOS,
        pad_token=t.PAD,
        unk_token="<unk>",
        mask_token="<mask>",
        additional_special_tokens=[t.TURN_OPEN, t.TURN_CLOSE, *t.OTHER_SPECIALS],
        model_max_length=TINY_TEXT_CONFIG["max_position_embeddings"],
    )
    tokenizer.chat_template = chat_template()
    tokenizer.save_pretrained(out_dir)


def build_model(out_dir: Path, seed: int = 0) -> None:
    """Random-weight Gemma4ForCausalLM in bf16, saved as safetensors."""
    import torch
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig, GenerationConfig

    config = Gemma4TextConfig(**TINY_TEXT_CONFIG)
    config.architectures = ["Gemma4ForCausalLM"]
    torch.manual_seed(seed)
    model = Gemma4ForCausalLM(config)
    model.eval()
    for name, parameter in model.named_parameters():
        if not torch.isfinite(parameter).all():
            raise RuntimeError(f"tiny checkpoint: {name} was not initialised")
    model.to(torch.bfloat16)
    stop_ids = [
        t.FIXED_IDS[t.EOS],
        t.FIXED_IDS[t.TURN_CLOSE],
        len(special_tokens())
        - len(t.OTHER_SPECIALS)
        + t.OTHER_SPECIALS.index(t.TOOL_RESPONSE_OPEN),
    ]
    model.generation_config = GenerationConfig(
        bos_token_id=t.FIXED_IDS[t.BOS],
        eos_token_id=stop_ids,
        pad_token_id=t.FIXED_IDS[t.PAD],
        do_sample=True,
        temperature=1.0,
        top_p=0.95,
        top_k=64,
    )
    model.save_pretrained(out_dir)


def make_tiny_checkpoint(out_dir: Path, seed: int = 0) -> Path:
    """Write the tiny checkpoint (model, tokenizer, chat template) into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    build_tokenizer(out_dir)
    build_model(out_dir, seed=seed)
    (out_dir / "codeassist-tiny.json").write_text(json.dumps({"seed": seed, "kind": "tiny"}))
    return out_dir
