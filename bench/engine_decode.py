"""What one decode step costs the host, on the full 26B-A4B layout with small widths (CPU).

No arguments. Builds a random-weight checkpoint with the 26B-A4B's exact layout (30 layers: 25
sliding + 5 full attention, 128 experts top-8, K=V global layers, proportional RoPE, softcap)
but small widths, then measures per decode token, for this engine (its decode step compiled as
on CUDA, where it is captured as one CUDA graph; NF4 and bf16) and for plain transformers
`generate` on the same bf16 checkpoint in the same run:

- kernels_per_token: ops that write data while the step runs (profiler events: generated
  kernels and leaf ATen ops other than views, allocations and no-op conversions); each is a
  kernel launch on a GPU;
- syncs_per_token: reads of device data by the host (`.tolist()`, `.item()`, `int(t)`, ...);
- graph_breaks: breaks when the step is traced by torch.compile (the engine compiles with
  fullgraph=True, so it either has none or fails; transformers' decode forward through
  `torch._dynamo.explain`);
- host_ms_per_token: wall time per decode token (on the CPU that includes the arithmetic).

Targets (issue 12): graph_breaks 0, syncs_per_token <= 1, kernels_per_token <= 1000.
Last line: one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams
from codeassist.engine.plan import model_config
from codeassist.gemma4.tiny import build_tokenizer

SMALL_WIDTHS = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "moe_intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "global_head_dim": 128,
    "num_global_key_value_heads": 1,
    "sliding_window": 128,
    "vocab_size": 2048,
    "vocab_size_per_layer_input": 2048,
    "max_position_embeddings": 8192,
}
PROMPT = 200
STEPS = 12
# profiler events that move or allocate nothing (views, metadata, allocation, no-op casts)
NOT_KERNELS = {
    "aten::view",
    "aten::reshape",
    "aten::_reshape_alias",
    "aten::_unsafe_view",
    "aten::as_strided",
    "aten::slice",
    "aten::select",
    "aten::transpose",
    "aten::t",
    "aten::expand",
    "aten::expand_as",
    "aten::unsqueeze",
    "aten::squeeze",
    "aten::permute",
    "aten::detach",
    "aten::alias",
    "aten::split",
    "aten::split_with_sizes",
    "aten::chunk",
    "aten::unbind",
    "aten::narrow",
    "aten::lift_fresh",
    "aten::resolve_conj",
    "aten::resolve_neg",
    "aten::empty",
    "aten::empty_strided",
    "aten::empty_like",
    "aten::to",
    "aten::type_as",
    "aten::contiguous",
    "aten::flatten",
    "aten::view_as",
    "aten::result_type",
    "aten::is_nonzero",
    "aten::item",
    "aten::_local_scalar_dense",
    "aten::numpy_T",
    "aten::dim",
    "aten::size",
    "aten::stride",
    "aten::set_",
}
HOST_READS = ("tolist", "item", "__int__", "__float__", "__bool__", "__index__", "numpy")


def build_checkpoint(out: Path) -> Path:
    """The 26B-A4B config with SMALL_WIDTHS, random bf16 weights, the tiny tokenizer."""
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig

    text = dict(model_config("gemma-4-26b-a4b")["text_config"])
    text.update(SMALL_WIDTHS)
    text.pop("model_type", None)
    config = Gemma4TextConfig(**text)
    config.architectures = ["Gemma4ForCausalLM"]
    torch.manual_seed(0)
    model = Gemma4ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    build_tokenizer(out)
    return out


# one launch on a GPU, whatever the CPU implementation does inside (a loop over groups)
SINGLE_KERNEL = {"aten::_grouped_mm"}
GENERATED = re.compile(r"(graph_\d+_)?(cpp_fused|triton_)")  # kernels inductor wrote


def kernel_names(prof, region: str | None) -> Counter:
    """Kernel events by name (inside `region` events, or all): generated kernels, and ATen ops
    with no ATen op under them that are not views, allocations or no-op conversions."""
    names: Counter = Counter()
    stack = [e for e in prof.events() if region is None or e.name == region]
    if region is None:
        stack = [e for e in stack if e.cpu_parent is None]
    while stack:
        event = stack.pop()
        name = event.name
        if GENERATED.match(name) or name in SINGLE_KERNEL:
            names[name] += 1  # a kernel inductor generated, or a single-launch op
            continue
        children = event.cpu_children
        leaf = not any(child.name.startswith("aten::") for child in children)
        if name.startswith("aten::") and name not in NOT_KERNELS and leaf:
            names[name] += 1
            continue
        stack.extend(children)
    return names


@contextlib.contextmanager
def counting_host_reads(reads: list[str]):
    saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counted(name):
        original = saved[name]

        def method(self, *args, **kwargs):
            reads.append(name)
            return original(self, *args, **kwargs)

        return method

    try:
        for name in HOST_READS:
            setattr(torch.Tensor, name, counted(name))
        yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


def engine_figures(path: Path, quantize: str, mode: str) -> dict:
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    settings = EngineSettings(device="cpu", quantize=quantize, prefix_cache_mib=0, decode=mode)
    start = time.perf_counter()
    engine = Engine.load(str(path), settings)
    engine.stop_ids = set()  # a random model: decode the full count
    compiled = engine.graphs._step

    def marked(*args):
        with record_function("decode_step"):
            return compiled(*args)

    engine.graphs._step = marked
    generator = torch.Generator().manual_seed(1)
    prompt = [2, *torch.randint(110, 1000, (PROMPT - 1,), generator=generator).tolist()]
    seq = engine.add_request(prompt, SamplingParams(temperature=0, max_tokens=4 * STEPS + 8))
    while not seq.generated:
        engine.step(seq)
    engine.step(seq)  # compiles (once for every bucket)
    warm = time.perf_counter() - start
    times = []
    for _ in range(STEPS):
        begin = time.perf_counter()
        engine.step(seq)
        times.append(time.perf_counter() - begin)
    reads: list[str] = []
    with counting_host_reads(reads):
        for _ in range(STEPS):
            engine.step(seq)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(4):
            engine.step(seq)
    counters = torch._dynamo.utils.counters
    engine.release(seq)
    kernels = kernel_names(prof, "decode_step")
    return {
        "decode_mode": mode,
        "kernels_per_token": sum(kernels.values()) / 4,
        "top_kernels": {name: n / 4 for name, n in kernels.most_common(8)},
        "syncs_per_token": len(reads) / STEPS,
        "graph_breaks": sum(counters["graph_break"].values()),
        "graphs_compiled": counters["stats"].get("unique_graphs", 0),
        "host_ms_per_token": round(1000 * statistics.median(times), 2),
        "load_and_compile_s": round(warm, 1),
    }


def transformers_figures(path: Path) -> dict:
    from transformers import DynamicCache, Gemma4ForCausalLM

    torch._dynamo.reset()
    model = Gemma4ForCausalLM.from_pretrained(str(path), dtype=torch.bfloat16).eval()
    generator = torch.Generator().manual_seed(1)
    prompt = torch.randint(110, 1000, (PROMPT - 1,), generator=generator).tolist()
    ids = torch.tensor([[2, *prompt]])

    def generate(tokens: int):
        return model.generate(
            ids, do_sample=False, max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=0
        )

    short, long = 4, 4 + STEPS
    generate(short)  # warm-up
    figures = {}
    times = {}
    for n in (short, long):
        runs = []
        for _ in range(3):
            begin = time.perf_counter()
            generate(n)
            runs.append(time.perf_counter() - begin)
        times[n] = statistics.median(runs)
    figures["host_ms_per_token"] = round(1000 * (times[long] - times[short]) / STEPS, 2)
    counts = {}
    for n in (short, long):
        reads: list[str] = []
        with counting_host_reads(reads):
            generate(n)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            generate(n)
        counts[n] = (sum(kernel_names(prof, None).values()), len(reads))
    figures["kernels_per_token"] = (counts[long][0] - counts[short][0]) / STEPS
    figures["syncs_per_token"] = (counts[long][1] - counts[short][1]) / STEPS
    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        out = model(ids, cache=cache, use_cache=True)
        token = out.logits[:, -1:].argmax(-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explained = torch._dynamo.explain(model)(
                input_ids=token, cache=out.cache, use_cache=True
            )
    figures["graph_breaks"] = explained.graph_break_count
    return figures


def main() -> None:
    torch.set_num_threads(1)
    torch._inductor.config.cpp.enable_kernel_profile = True  # inductor kernels in the profiler
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory() as tmp:
        path = build_checkpoint(Path(tmp) / "layout-26b-small")
        figures = {
            "layout": "gemma-4-26b-a4b, 30 layers, 128 experts top-8, small widths",
            "engine_nf4": engine_figures(path, "nf4", "compile"),
            "engine_bf16": engine_figures(path, "none", "compile"),
            "engine_nf4_eager": engine_figures(path, "nf4", "eager"),
            "transformers_bf16": transformers_figures(path),
        }
    targets = {"graph_breaks": 0, "syncs_per_token": 1, "kernels_per_token": 1000}
    figures["targets"] = targets
    figures["meets_targets"] = all(
        figures[key][name] <= limit
        for key in ("engine_nf4", "engine_bf16")
        for name, limit in targets.items()
    )
    figures["load_avg"] = os.getloadavg()[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
