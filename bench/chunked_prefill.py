"""Chunked prefill of a 16K-token prompt on the tiny checkpoint: memory stays flat.

No arguments. The sliding layers' K/V lives in fixed rings (window + slack slots), so it
cannot grow with the prompt; what could is the transient memory of a prefill step. This
measures, from the profiler's allocation events, the peak of bytes allocated during the whole
request on top of what was held before it (K/V storage is preallocated at load), and compares
it with the memory plan's activation figure for the same context, chunk and (CPU) code path.
Last line: one JSON object (keys: ring_slots, window, peak_transient_bytes,
plan_activation_bytes, peak_over_plan, prompt_tokens, prefill_steps, seconds).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams
from codeassist.engine.plan import activation_bytes
from codeassist.gemma4.tiny import make_tiny_checkpoint

PROMPT_TOKENS = 16_384
CHUNK = 1024


def peak_allocated(prof) -> int:
    """Peak of the running sum of allocation events (bytes above the start of profiling)."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    running = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        running += event.nbytes()
        peak = max(peak, running)
    return peak


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny_checkpoint(Path(tmp) / "tiny")
        engine = Engine.load(str(path), EngineSettings(prefill_chunk=CHUNK))
        generator = torch.Generator().manual_seed(0)
        prompt = [2, *torch.randint(110, 1000, (PROMPT_TOKENS - 1,), generator=generator).tolist()]
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            outs = list(engine.generate(prompt, SamplingParams(temperature=0, max_tokens=4)))
        seconds = time.perf_counter() - start
        peak = peak_allocated(prof)
        plan = activation_bytes(
            engine.config.to_dict(),
            PROMPT_TOKENS,
            CHUNK,
            device="cpu",
            quantize=engine.loaded.quantize,
            dtype_bytes=engine.dtype_bytes,
        )
        figures = {
            "ring_slots": engine.kv.ring,
            "window": engine.window,
            "peak_transient_bytes": peak,
            "plan_activation_bytes": plan,
            "peak_over_plan": round(peak / plan, 3),
            "prompt_tokens": len(prompt),
            "prefill_steps": sum(o.token_id is None for o in outs) + 1,
            "computed_tokens": engine.stats()["computed_tokens"],
            "seconds": round(seconds, 2),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
