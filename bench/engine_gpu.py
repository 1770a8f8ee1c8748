"""The full-size Gemma 4 26B-A4B (random weights, this engine's NF4) on a GPU, through `Engine`.

No arguments on a CUDA machine: builds the model tensor by tensor straight into NF4 (no bf16
copy of the experts is ever whole), wraps it in an `Engine` (captured decode graphs, prefix
cache) and measures, after a warm-up:

- decode tokens/s at 1K and 32K context, batch 1 and batch 4 (`step_many`);
- prefill tokens/s of a 4K and a 32K prompt; time to first token of a 4K prompt, cold and
  with its prefix cached (the same prompt with a few new tokens at its end);
- peak reserved GPU memory while serving a 32K, a 128K and the plan's largest context;
- bytes read per decode token (active weights + the K/V attended) and the fraction of the
  GPU's copy bandwidth (measured in the same run) that decode reaches;
- the side-by-side peer, in the same run on the same GPU: plain transformers (bf16 weights, its
  default kernels) decode and prefill, when its ~50 GB of bf16 weights fit the GPU (else its
  figures say why not).

`--small` runs the same script end to end on the CPU with a scaled-down config and contexts
(the figures then say nothing about a GPU). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers.models.gemma4.modeling_gemma4 import Gemma4TextModel

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams
from codeassist.engine.loading import LoadedModel, _finish, _set_tensor, build_text_config, skeleton
from codeassist.engine.plan import memory_plan, model_config
from codeassist.engine.quant import finish_loading
from codeassist.gemma4.tiny import build_tokenizer

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
FULL_SIZES = {"1k": 1024, "4k": 4096, "32k": 32_768, "128k": 131_072}
SMALL_SIZES = {"1k": 64, "4k": 256, "32k": 1024, "128k": 4096}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_loaded(text: dict, device: torch.device) -> LoadedModel:
    """The config's exact shapes with random weights, quantized tensor by tensor as loaded."""
    config = build_text_config(text)
    with torch.device("meta"):
        shapes = Gemma4TextModel(config)
    model = skeleton(config, "nf4", double_quant=False)
    generator = torch.Generator(device=device).manual_seed(0)
    tensors = list(shapes.named_parameters()) + [
        (n, b) for n, b in shapes.named_buffers() if n.endswith("layer_scalar")
    ]
    with torch.no_grad():
        for name, meta in tensors:
            if "norm" in name or name.endswith(("scale", "layer_scalar")):
                value = torch.ones(meta.shape, device=device, dtype=torch.bfloat16)
            else:
                value = torch.empty(meta.shape, device=device, dtype=torch.bfloat16)
                value.normal_(0, 0.02, generator=generator)
            _set_tensor(model, name, value, device, torch.bfloat16)
            del value
        _finish(model, config, device)
        head = finish_loading(model, None, "nf4")
    return LoadedModel(model, head, config, Path("random-26b-a4b"), "nf4", False, torch.bfloat16)


def _prompt(n: int, vocab: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, min(vocab, 250_000), (n - 1,), generator=generator).tolist()]


def prefill_seconds(engine: Engine, prompt: list[int], max_tokens: int = 8) -> tuple[float, Any]:
    """Seconds until the first token of prompt (its sequence left decoding)."""
    device = engine._device
    seq = engine.add_request(prompt, SamplingParams(temperature=0, max_tokens=max_tokens))
    _sync(device)
    start = time.perf_counter()
    while not seq.generated:
        out = engine.step(seq)
        if out.finished and not seq.generated:
            raise RuntimeError(f"the {len(prompt)}-token prompt failed: {out.error}")
    _sync(device)
    return time.perf_counter() - start, seq


def decode_tps(engine: Engine, seqs: list, steps: int) -> float:
    engine.step_many(seqs)  # warm-up: this bucket's graph is captured
    _sync(engine._device)
    start = time.perf_counter()
    for _ in range(steps):
        engine.step_many(seqs)
    _sync(engine._device)
    return len(seqs) * steps / (time.perf_counter() - start)


def bytes_per_token(engine: Engine, context: int) -> int:
    """Bytes a batch-1 decode step reads: active weights and the K/V it attends to."""
    model, config = engine.loaded.model, engine.config
    total = engine.weights_bytes()
    experts = 0
    for layer in model.layers:
        if getattr(layer, "enable_moe_block", False):
            experts += sum(b.numel() * b.element_size() for b in layer.experts.buffers())
    routed = experts * config.top_k_experts // config.num_experts
    full, sliding = engine.kv.bytes_per_token()
    return total - experts + routed + full * context + sliding * min(context, engine.kv.ring)


def copy_bandwidth(device: torch.device) -> float | None:
    """Bytes/s of a large device-to-device copy (read + write), the practical limit."""
    if device.type != "cuda":
        return None
    a = torch.empty(2**30, dtype=torch.uint8, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    _sync(device)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        b.copy_(a)
        _sync(device)
        runs.append(2 * a.numel() / (time.perf_counter() - start))
    del a, b
    return statistics.median(runs)


def peak_reserved(engine: Engine, context: int) -> int | str:
    """Peak reserved memory while a prompt of `context` tokens is prefilled and decoded."""
    device = engine._device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        prompt = _prompt(context - 8, engine.config.vocab_size, seed=context)
        _, seq = prefill_seconds(engine, prompt)
        for _ in range(4):
            engine.step(seq)
        error = seq.error
        engine.release(seq)
    except torch.OutOfMemoryError:
        return "out of memory"
    if error:
        return f"failed: {error}"
    return torch.cuda.max_memory_reserved(device) if device.type == "cuda" else 0


def engine_figures(engine: Engine, sizes: dict[str, int], steps: int) -> dict:
    vocab = engine.config.vocab_size
    figures: dict = {}
    for name in ("1k", "32k"):
        prompts = [_prompt(sizes[name], vocab, seed=i) for i in range(4)]
        budget = 2 * steps + 4  # decode steps of batch 1 and batch 4, and their warm-ups
        one = prefill_seconds(engine, prompts[0], budget)[1]
        figures[f"decode_tps_{name}_batch1"] = round(decode_tps(engine, [one], steps), 2)
        many = [one] + [prefill_seconds(engine, p, budget)[1] for p in prompts[1:]]
        figures[f"decode_tps_{name}_batch4"] = round(decode_tps(engine, many, steps), 2)
        for seq in many:
            engine.release(seq)
    for name in ("4k", "32k"):
        engine.prefix_cache.clear()
        prompt = _prompt(sizes[name], vocab, seed=100 + sizes[name])
        seconds, seq = prefill_seconds(engine, prompt)
        engine.release(seq)
        figures[f"prefill_tps_{name}"] = round(len(prompt) / seconds, 1)
        if name == "4k":
            figures["ttft_s_4k_cold"] = round(seconds, 4)
            seconds, seq = prefill_seconds(engine, prompt[:-4] + [300, 301, 302, 303])
            engine.release(seq)
            figures["ttft_s_4k_warm_prefix"] = round(seconds, 4)
    return figures


def transformers_figures(text: dict, device: torch.device, sizes: dict, steps: int) -> dict:
    """Plain transformers, bf16 weights, default kernels: decode and prefill tokens/s."""
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig

    cfg = {k: v for k, v in text.items() if k not in ("model_type", "architectures")}
    config = Gemma4TextConfig(**cfg)
    with torch.device("meta"):
        model = Gemma4ForCausalLM(config)
    needed = sum(p.numel() for p in model.parameters()) * 2
    if device.type == "cuda" and needed > 0.9 * torch.cuda.mem_get_info(device)[0]:
        return {"skipped": f"bf16 weights need {needed / 2**30:.1f} GiB, more than is free"}
    model = model.to_empty(device=device).to(torch.bfloat16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("scale"):
                p.fill_(1.0)
            else:
                p.normal_(0, 0.02)
        for name, b in model.named_buffers():
            if name.endswith("layer_scalar"):
                b.fill_(1.0)
    model.model.rotary_emb = type(model.model.rotary_emb)(config, device=device)
    model.eval()
    figures = {}
    for name in ("1k", "4k"):
        ids = torch.tensor([_prompt(sizes[name], config.vocab_size, seed=7)], device=device)
        with torch.no_grad():
            model.generate(ids, max_new_tokens=2, do_sample=False)  # warm-up
            _sync(device)
            start = time.perf_counter()
            model.generate(ids, max_new_tokens=1, do_sample=False)
            _sync(device)
            first = time.perf_counter() - start
            start = time.perf_counter()
            model.generate(ids, max_new_tokens=steps + 1, min_new_tokens=steps + 1, do_sample=False)
            _sync(device)
            total = time.perf_counter() - start
        figures[f"prefill_tps_{name}"] = round(sizes[name] / first, 1)
        figures[f"decode_tps_{name}_batch1"] = round(steps / max(total - first, 1e-9), 2)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="scaled-down config on the CPU")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.small
    if not cuda and not args.small:
        raise SystemExit("no CUDA GPU: run with --small for the scaled-down CPU check")
    device = torch.device("cuda" if cuda else "cpu")
    text = dict(model_config("gemma-4-26b-a4b")["text_config"])
    sizes, steps = FULL_SIZES, 64
    if args.small:
        text.update(SMALL)
        sizes, steps = SMALL_SIZES, 8
        torch.set_num_threads(1)
    start = time.perf_counter()
    loaded = random_loaded(text, device)
    with tempfile.TemporaryDirectory() as tmp:
        build_tokenizer(Path(tmp))
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tmp)
    engine = Engine(loaded, tokenizer, EngineSettings(device=device.type), device)
    engine.stop_ids = set()  # random weights: always decode the asked number of tokens
    figures: dict = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (--small: no GPU figure)",
        "small": args.small,
        "build_s": round(time.perf_counter() - start, 1),
        "max_context": engine.max_context,
        "decode_mode": engine.graphs.mode,
        "weights_bytes": engine.weights_bytes(),
        "sizes": sizes,
    }
    figures["engine"] = engine_figures(engine, sizes, steps)
    figures["engine"]["decode_graphs_captured"] = engine.graphs.captured
    for name in ("1k", "32k"):
        figures["engine"][f"bytes_per_token_{name}"] = bytes_per_token(engine, sizes[name])
    bandwidth = copy_bandwidth(device)
    figures["copy_bandwidth_bytes_per_s"] = bandwidth
    if bandwidth:
        for name in ("1k", "32k"):
            read = figures["engine"][f"bytes_per_token_{name}"]
            tps = figures["engine"][f"decode_tps_{name}_batch1"]
            figures["engine"][f"bandwidth_fraction_{name}"] = round(read * tps / bandwidth, 3)
    plan = memory_plan("gemma-4-26b-a4b", context=engine.max_context)
    largest = engine.max_context - 16
    contexts = {"32k": sizes["32k"], "128k": sizes["128k"], "plan_max": largest}
    figures["engine"]["plan_max_context"] = plan.max_context if cuda else largest
    for name, context in contexts.items():
        if context < engine.max_context:
            engine.prefix_cache.clear()
            figures["engine"][f"peak_reserved_bytes_{name}"] = peak_reserved(engine, context)
    del engine, loaded
    if cuda:
        torch.cuda.empty_cache()
    figures["transformers"] = transformers_figures(text, device, sizes, min(steps, 32))
    peer = figures["transformers"]
    if "decode_tps_1k_batch1" in peer:
        figures["decode_vs_transformers_1k"] = round(
            figures["engine"]["decode_tps_1k_batch1"] / peer["decode_tps_1k_batch1"], 2
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
