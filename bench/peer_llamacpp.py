"""codeassist's engine against a real peer, llama.cpp, on the tiny checkpoint (docs/benchmarks.md).

Same 2,000-token prompt as ids for every engine, one thread each, greedy, 128 new tokens (stop
tokens ignored so every run decodes all 128), medians of 3 runs each from a cold KV cache (the
engines take turns in each round, after one warm-up run each):
prefill tokens/s (prompt to first token) and decode ms/token (the 127 tokens after it) for

- llama.cpp f32 and Q4_0 GGUF (llama-cpp-python; the GGUF made by llama.cpp's own converter),
- codeassist's engine with quantize none and nf4 (float32 compute, prefix cache off; decode
  mode `auto`, the product default), and nf4 with `[engine] decode = "compile"`,
- transformers (float32, its own KV cache, a plain greedy loop).

Ratios are against llama.cpp measured in the same run: Q4_0 for the 4-bit engines, f32 for the
rest. The warm-up is one full run each, so first-call costs (allocation, compiling the decode
step for the prompt's shapes) stay out of the figures.

Needs llama-cpp-python (`pip install 'codeassist[llamacpp]'`) and its sdist for the
converter (--llama-cpp-src, $CODEASSIST_LLAMA_CPP_SDIST, or ~/.cache/codeassist-tests/;
`pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d ~/.cache/codeassist-tests`).

    python bench/peer_llamacpp.py [--checkpoint DIR] [--llama-cpp-src PATH] [--reps 3]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

# One thread everywhere, set before torch or OpenMP start.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT_TOKENS = 2000
NEW_TOKENS = 128
CACHE = Path(os.environ.get("CODEASSIST_TEST_CACHE") or Path.home() / ".cache/codeassist-tests")

# A run: prompt ids in, (prefill seconds to the first token, seconds per later token) out.
Run = Callable[[list[int]], tuple[float, float]]


def llama_cpp_sources(given: str) -> Path:
    """vendor/llama.cpp of the llama-cpp-python sdist (a .tar.gz or its unpacked folder)."""
    candidates = [Path(p) for p in (given, os.environ.get("CODEASSIST_LLAMA_CPP_SDIST", "")) if p]
    candidates += sorted(CACHE.glob("llama_cpp_python-*.tar.gz"), reverse=True)
    for candidate in candidates:
        for root in (candidate, candidate.parent / candidate.name.removesuffix(".tar.gz")):
            if (root / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py").is_file():
                return root / "vendor" / "llama.cpp"
            if (root / "convert_hf_to_gguf.py").is_file():
                return root
        if candidate.is_file() and candidate.name.endswith(".tar.gz"):
            with tarfile.open(candidate) as tar:
                tar.extractall(candidate.parent, filter="data")
            return candidate.parent / candidate.name.removesuffix(".tar.gz") / "vendor/llama.cpp"
    sys.exit(
        "bench/peer_llamacpp.py: llama.cpp's converter is not at hand; give --llama-cpp-src or "
        f"run: pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d {CACHE}"
    )


def convert(sources: Path, checkpoint: Path, out_dir: Path) -> dict[str, Path]:
    """f32 GGUF by llama.cpp's converter, Q4_0 by llama.cpp's quantizer."""
    import llama_cpp

    f32 = out_dir / "tiny-f32.gguf"
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}
    command = [sys.executable, str(sources / "convert_hf_to_gguf.py"), str(checkpoint)]
    command += ["--outfile", str(f32), "--outtype", "f32"]
    subprocess.run(command, check=True, capture_output=True, env=env)
    q4 = out_dir / "tiny-q4_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.nthread = 1
    if llama_cpp.llama_model_quantize(str(f32).encode(), str(q4).encode(), params) != 0:
        raise RuntimeError("llama_model_quantize failed")
    return {"f32": f32, "q4_0": q4}


def prompt_ids(checkpoint: Path) -> list[int]:
    """<bos> and 1,999 tokens of real code (the bundled corpus, repeated)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    corpus = resources.files("codeassist.gemma4").joinpath("tiny_corpus.txt").read_text()
    ids = tokenizer.encode(corpus, add_special_tokens=False)
    body = (ids * (PROMPT_TOKENS // len(ids) + 1))[: PROMPT_TOKENS - 1]
    return [tokenizer.bos_token_id, *body]


def timed(tokens: Iterator[object]) -> tuple[float, float]:
    """(seconds to the first token, seconds per token after it) of a token stream."""
    start = time.perf_counter()
    first = None
    count = 0
    for _ in tokens:
        count += 1
        if first is None:
            first = time.perf_counter()
        if count == NEW_TOKENS:
            break
    end = time.perf_counter()
    if first is None or count < NEW_TOKENS:
        raise RuntimeError(f"only {count} of {NEW_TOKENS} tokens came out")
    return first - start, (end - first) / (NEW_TOKENS - 1)


def llama_cpp_run(gguf: Path) -> Run:
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(gguf),
        n_ctx=PROMPT_TOKENS + NEW_TOKENS + 16,
        n_batch=PROMPT_TOKENS,
        n_threads=1,
        n_threads_batch=1,
        verbose=False,
    )

    def run(ids: list[int]) -> tuple[float, float]:
        llm.reset()
        llm._ctx.kv_cache_clear()  # a cold cache: no prefix reuse between runs
        # generate() never stops on <eos> by itself; top_k=1 is greedy.
        return timed(llm.generate(ids, top_k=1, temp=0.0, reset=False))

    return run


def engine_run(checkpoint: Path, quantize: str, decode: str = "auto") -> Run:
    import torch

    from codeassist.config import EngineSettings
    from codeassist.engine import Engine, SamplingParams

    torch.set_num_threads(1)
    settings = EngineSettings(
        device="cpu",
        quantize=quantize,
        dtype="float32",
        prefill_chunk=PROMPT_TOKENS,
        prefix_cache_mib=0,
        decode=decode,
    )
    engine = Engine.load(str(checkpoint), settings)
    engine.stop_ids = set()  # the random model may say <eos>: decode all 128 anyway
    params = SamplingParams(temperature=0.0, max_tokens=NEW_TOKENS)

    def run(ids: list[int]) -> tuple[float, float]:
        reused = engine.stats().get("reused_tokens", 0)
        outputs = engine.generate(ids, params)
        figures = timed(o for o in outputs if o.token_id is not None)
        if engine.stats().get("reused_tokens", 0) != reused:
            raise RuntimeError("the engine reused cached prompt tokens: not a cold prefill")
        return figures

    return run


def transformers_run(checkpoint: Path) -> Run:
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()

    def tokens(ids: list[int]) -> Iterator[int]:
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            out = model(torch.tensor([ids]), past_key_values=cache, use_cache=True)
            for _ in range(NEW_TOKENS):
                token = int(out.logits[0, -1].argmax())
                yield token
                out = model(torch.tensor([[token]]), past_key_values=cache, use_cache=True)

    return lambda ids: timed(tokens(ids))


def measure(runs: dict[str, Run], ids: list[int], reps: int) -> dict[str, dict]:
    """Medians over reps; the engines take turns in every rep, so a change in machine load
    during the run falls on all of them alike."""
    prefill: dict[str, list[float]] = {name: [] for name in runs}
    decode: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            first, per_token = run(ids)
            prefill[name].append(len(ids) / first)
            decode[name].append(per_token * 1000)
            print(name, round(prefill[name][-1], 1), round(decode[name][-1], 3), file=sys.stderr)
    return {
        name: {
            "prefill_tok_s": round(statistics.median(prefill[name]), 1),
            "decode_ms_per_token": round(statistics.median(decode[name]), 3),
            "prefill_runs": [round(x, 1) for x in prefill[name]],
            "decode_runs": [round(x, 3) for x in decode[name]],
        }
        for name in runs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="", help="tiny checkpoint (default: build one)")
    parser.add_argument("--llama-cpp-src", default="", help="llama-cpp-python sdist or folder")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        sys.exit(
            "bench/peer_llamacpp.py needs llama-cpp-python: pip install 'codeassist[llamacpp]'"
        )
    sources = llama_cpp_sources(args.llama_cpp_src)

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(args.checkpoint) if args.checkpoint else None
        if checkpoint is None:
            from codeassist.gemma4.tiny import make_tiny_checkpoint

            checkpoint = make_tiny_checkpoint(Path(tmp) / "tiny")
        ggufs = convert(sources, checkpoint, Path(tmp))
        ids = prompt_ids(checkpoint)
        runs = {
            "llama.cpp f32": llama_cpp_run(ggufs["f32"]),
            "llama.cpp q4_0": llama_cpp_run(ggufs["q4_0"]),
            "codeassist none": engine_run(checkpoint, "none"),
            "codeassist nf4": engine_run(checkpoint, "nf4"),
            "codeassist nf4 compile": engine_run(checkpoint, "nf4", "compile"),
            "transformers f32": transformers_run(checkpoint),
        }
        for run in runs.values():  # warm-up: first-call costs (allocation, compilation) stay out
            run(ids)
        figures = measure(runs, ids, args.reps)

    anchors = {"codeassist nf4": "llama.cpp q4_0", "codeassist nf4 compile": "llama.cpp q4_0"}
    ratios = {}
    for name in ("codeassist none", "codeassist nf4", "codeassist nf4 compile", "transformers f32"):
        anchor = figures[anchors.get(name, "llama.cpp f32")]
        mine = figures[name]
        ratios[name] = {
            "vs": anchors.get(name, "llama.cpp f32"),
            "decode_x_slower": round(
                mine["decode_ms_per_token"] / anchor["decode_ms_per_token"], 2
            ),
            "prefill_x_slower": round(anchor["prefill_tok_s"] / mine["prefill_tok_s"], 2),
        }
    result = {
        "prompt_tokens": len(ids),
        "new_tokens": NEW_TOKENS,
        "reps": args.reps,
        "threads": 1,
        "load_avg_1m": os.getloadavg()[0],
        "engines": figures,
        "ratios": ratios,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
