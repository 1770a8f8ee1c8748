"""A tiny random-weight Gemma 4 checkpoint with the 26B-A4B's structure, for tests and benchmarks.

Same family as the 26B-A4B: MoE experts plus a dense MLP in every layer, sliding and global
layers (the last one global), K=V on global layers, top-k routing; every dimension a multiple
of 64 (bitsandbytes' CPU 4-bit kernels need it). The tokenizer is Gemma 4's in miniature
(tiny_tokenizer.py: SentencePiece-style BPE with byte fallback, the released special-token ids,
exactly TINY_VOCAB entries), so llama.cpp's converter takes the checkpoint as it is.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from codeassist.gemma4.tiny_tokenizer import build_tokenizer as build_tokenizer_files
from codeassist.gemma4.tokens import BOS, EOS, FIXED_IDS, PAD, STOP_TOKENS

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
    "pad_token_id": FIXED_IDS[PAD],
    "eos_token_id": FIXED_IDS[EOS],
    "bos_token_id": FIXED_IDS[BOS],
}


def chat_template() -> str:
    return resources.files("codeassist.gemma4").joinpath("chat_template.jinja").read_text()


def build_tokenizer(out_dir: Path) -> None:
    """Gemma 4's tokenizer in miniature, with the chat template (tiny_tokenizer.py)."""
    build_tokenizer_files(
        out_dir,
        vocab_size=TINY_VOCAB,
        model_max_length=TINY_TEXT_CONFIG["max_position_embeddings"],
        chat_template=chat_template(),
    )


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
    stop_ids = [FIXED_IDS[token] for token in STOP_TOKENS]
    model.generation_config = GenerationConfig(
        bos_token_id=FIXED_IDS[BOS],
        eos_token_id=stop_ids,
        pad_token_id=FIXED_IDS[PAD],
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
