"""The inference engine: a Gemma 4 text model in 4-bit on one GPU (or the CPU), step by step.

Public API (the daemon is its only caller):

- `Engine.load(path, settings, progress=None) -> Engine`: local checkpoint folder or an HF
  cache id (offline only); CUDA if present else CPU; NF4 per `settings.quantize`;
  progress(fraction, message) is called while loading.
- `engine.tokenizer`, `engine.model_name`, `engine.device`, `engine.max_context`,
  `engine.max_sequences` (sequences that can hold K/V at once)
- `engine.encode_chat(messages, *, enable_thinking) -> list[int]`, `engine.encode(text)`
- `engine.add_request(prompt_ids, params, *, stable_prefix=None) -> Sequence` (no compute;
  stable_prefix: where the part later prompts share ends, its K/V state is kept)
- `engine.step(seq) -> StepOutput` (one prefill chunk or one decode token),
  `engine.step_many(seqs) -> list[StepOutput]` (every decoding sequence in one batched
  forward, each prefilling one its next chunk), `engine.release(seq)`
- `engine.generate(prompt_ids, params, cancel=None) -> Iterator[StepOutput]`
- `engine.chat(messages, *, enable_thinking, params, cancel) -> ChatOutput` (thinking, answer)
- `engine.stats() -> dict` (tokens, prefix cache, memory), `engine.memory() -> MemoryUse`
- `SamplingParams`, `StepOutput` (dataclasses; `codeassist.engine.sampling` imports no torch)
- `codeassist.engine.plan.context_limit(model, gpu_memory_bytes) -> int`, `plan.memory_plan(...)`

Importing this package loads nothing heavy: names resolve on first use.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

# Nothing leaves the machine: no Hugging Face Hub calls, not even from libraries that would fetch
# kernels at import (bitsandbytes tries `kernels-community` on CPUs with AVX512-BF16), and no
# warning about the kernel it then does without.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

if TYPE_CHECKING:
    from codeassist.engine.engine import ChatOutput, Engine
    from codeassist.engine.sampling import SamplingParams, StepOutput
    from codeassist.engine.sequence import Sequence

_WHERE = {
    "ChatOutput": "codeassist.engine.engine",
    "Engine": "codeassist.engine.engine",
    "SamplingParams": "codeassist.engine.sampling",
    "StepOutput": "codeassist.engine.sampling",
    "Sequence": "codeassist.engine.sequence",
}

__all__ = ["ChatOutput", "Engine", "SamplingParams", "Sequence", "StepOutput"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
