"""Chunked prefill of a 16K-token prompt on the tiny checkpoint: sliding caches stay at the window.

No arguments. Last line: one JSON object with max_sliding_cache_len (largest live sliding-layer
cache seen between chunks; must equal window), window, peak_rss_bytes (whole process).
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams
from codeassist.gemma4.tiny import make_tiny_checkpoint

PROMPT_TOKENS = 16_384


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny_checkpoint(Path(tmp) / "tiny")
        engine = Engine.load(str(path), EngineSettings(prefill_chunk=1024))
        generator = torch.Generator().manual_seed(0)
        prompt = [2, *torch.randint(110, 1000, (PROMPT_TOKENS - 1,), generator=generator).tolist()]
        start = time.perf_counter()
        outs = list(engine.generate(prompt, SamplingParams(temperature=0, max_tokens=4)))
        seconds = time.perf_counter() - start
        stats = engine.stats()
        figures = {
            "max_sliding_cache_len": engine.max_sliding_len,
            "window": engine.window,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "max_sliding_held_len": engine.max_sliding_held,  # incl. prefix-cache slack
            "prompt_tokens": len(prompt),
            "prefill_steps": sum(o.token_id is None for o in outs) + 1,
            "computed_tokens": stats["computed_tokens"],
            "seconds": round(seconds, 2),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
