"""The full-size Gemma 4 26B-A4B architecture with random weights, in this engine's NF4, on a GPU.

No arguments on a GPU machine: builds the model layer by layer straight into NF4 (no bf16 copy
of the experts is ever whole), then measures decode tokens/s at 1K and 32K context, prefill
tokens/s, and peak GPU memory at 32K and 128K context. `--small` runs a scaled-down config on
the CPU (contexts scaled too) so that the script is known to work without a GPU.
Last line: one JSON object (keys: decode_tps_1k, decode_tps_32k, prefill_tps,
peak_gpu_bytes_32k, peak_gpu_bytes_128k, ...).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers.models.gemma4.modeling_gemma4 import Gemma4TextModel

from codeassist.engine.kv_cache import SequenceKV
from codeassist.engine.loading import _finish, _set_tensor, build_text_config, skeleton
from codeassist.engine.plan import model_config
from codeassist.engine.runner import ModelRunner
from codeassist.gemma4.shape import layer_shapes

SMALL = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "moe_intermediate_size": 128,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "global_head_dim": 128,
    "num_global_key_value_heads": 1,
    "num_experts": 16,
    "top_k_experts": 4,
    "sliding_window": 128,
    "vocab_size": 2048,
    "vocab_size_per_layer_input": 2048,
    "max_position_embeddings": 8192,
    "layer_types": ["sliding_attention"] * 2
    + ["full_attention"]
    + ["sliding_attention"] * 2
    + ["full_attention"],
}


def random_engine_model(config_dict: dict, device: torch.device, chunk: int):
    """A runner over random NF4 weights with the config's exact shapes, built tensor by tensor."""
    config = build_text_config(config_dict)
    with torch.device("meta"):
        shapes_model = Gemma4TextModel(config)
    model = skeleton(config, "nf4", double_quant=False)
    generator = torch.Generator(device=device).manual_seed(0)
    tensors = list(shapes_model.named_parameters()) + [
        (n, b) for n, b in shapes_model.named_buffers() if n.endswith("layer_scalar")
    ]
    for name, meta in tensors:
        if "norm" in name or name.endswith(("scale", "layer_scalar")):
            value = torch.ones(meta.shape, device=device, dtype=torch.bfloat16)
        else:
            value = torch.empty(meta.shape, device=device, dtype=torch.bfloat16)
            value.normal_(0, 0.02, generator=generator)
        _set_tensor(model, name, value, device, torch.bfloat16)
        del value
    _finish(model, config, device)
    del shapes_model
    runner = ModelRunner(model, model.embed_tokens.weight, config.final_logit_softcapping)
    return runner, config


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _new_kv(runner, config, device, total, chunk):
    shapes = layer_shapes(config)
    kv = SequenceKV(shapes, list(range(len(shapes))), device, torch.bfloat16)
    kv.expect(total, chunk)
    return kv


def prefill(runner, kv, tokens: int, chunk: int, vocab: int, device) -> float:
    ids = torch.randint(3, vocab, (tokens,)).tolist()
    _sync(device)
    start = time.perf_counter()
    for begin in range(0, tokens, chunk):
        runner.forward(ids[begin : begin + chunk], kv)
    _sync(device)
    return time.perf_counter() - start


def decode(runner, kv, steps: int, device) -> float:
    token = 5
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        token = int(torch.argmax(runner.forward([token], kv)))
    _sync(device)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="scaled-down config on the CPU")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.small
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda and not args.small:
        raise SystemExit("no CUDA GPU: run with --small for the scaled-down CPU check")
    config_dict = model_config("gemma-4-26b-a4b")
    contexts = {"1k": 1024, "32k": 32_768, "128k": 131_072}
    chunk, steps = 1024, 64
    if args.small:
        config_dict = {**config_dict, "text_config": {**config_dict["text_config"], **SMALL}}
        contexts = {"1k": 64, "32k": 512, "128k": 2048}
        chunk, steps = 128, 16
    start = time.perf_counter()
    runner, config = random_engine_model(config_dict, device, chunk)
    build_s = time.perf_counter() - start
    weights = sum(t.numel() * t.element_size() for t in runner.model.state_dict().values())
    figures: dict = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "small": args.small,
    }

    kv = _new_kv(runner, config, device, contexts["1k"] + steps, chunk)
    prefill(runner, kv, contexts["1k"], chunk, config.vocab_size, device)
    figures["decode_tps_1k"] = round(decode(runner, kv, steps, device), 2)
    del kv

    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    kv = _new_kv(runner, config, device, contexts["32k"] + steps, chunk)
    seconds = prefill(runner, kv, contexts["32k"], chunk, config.vocab_size, device)
    figures["prefill_tps"] = round(contexts["32k"] / seconds, 1)
    figures["decode_tps_32k"] = round(decode(runner, kv, steps, device), 2)
    figures["peak_gpu_bytes_32k"] = torch.cuda.max_memory_allocated() if cuda else None
    del kv

    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        kv = _new_kv(runner, config, device, contexts["128k"] + 8, chunk)
        prefill(runner, kv, contexts["128k"], chunk, config.vocab_size, device)
        figures["decode_tps_128k"] = round(decode(runner, kv, 8, device), 2)
        figures["peak_gpu_bytes_128k"] = torch.cuda.max_memory_allocated() if cuda else None
        del kv
    except torch.OutOfMemoryError:
        figures["peak_gpu_bytes_128k"] = "out of memory"
    figures.update(
        {
            "weights_bytes": weights,
            "build_s": round(build_s, 1),
            "contexts": contexts,
            "prefill_chunk": chunk,
        }
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
