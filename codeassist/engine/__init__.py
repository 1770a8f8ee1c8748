"""The inference engine: a Gemma 4 text model in 4-bit on one GPU (or the CPU), step by step.

Public API (the daemon is its only caller):

- `Engine.load(path, settings: EngineSettings | None) -> Engine`: local checkpoint folder or an HF
  cache id (offline only); CUDA if present else CPU; NF4 per `settings.quantize`.
- `engine.tokenizer`, `engine.model_name`, `engine.device`
- `engine.encode_chat(messages, *, enable_thinking) -> list[int]`
- `engine.encode(text) -> list[int]`
- `engine.add_request(prompt_ids, params, *, stable_prefix=None) -> Sequence` (no compute;
  stable_prefix: where the part later prompts share ends, its KV state is kept)
- `engine.step(seq) -> StepOutput`
  (one prefill chunk or one decode token), `engine.release(seq)`
- `engine.generate(prompt_ids, params, cancel=None) -> Iterator[StepOutput]`
- `engine.chat(messages, *, enable_thinking, params, cancel) -> ChatOutput` (thinking, answer)
- `engine.stats() -> dict` (prompt/reused/computed/generated tokens, prefix cache, memory)
- `SamplingParams`, `StepOutput` (dataclasses), `Sequence` (one request's state)
- `codeassist.engine.plan.context_limit(model, gpu_memory_bytes) -> int`, `plan.memory_plan(...)`
"""

import logging
import os

# Nothing leaves the machine: no Hugging Face Hub calls, not even from libraries that would fetch
# kernels at import (bitsandbytes tries `kernels-community` on CPUs with AVX512-BF16), and no
# warning about the kernel it then does without.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

from codeassist.engine.engine import ChatOutput, Engine  # noqa: E402
from codeassist.engine.sampling import SamplingParams, StepOutput  # noqa: E402
from codeassist.engine.sequence import Sequence  # noqa: E402

__all__ = ["ChatOutput", "Engine", "SamplingParams", "Sequence", "StepOutput"]
