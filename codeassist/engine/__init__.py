"""The inference engine: a Gemma 4 text model in 4-bit on one GPU (or the CPU), step by step.

Public API (see /work/coord/HELPERS.md, "Engine"):

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

from codeassist.engine.engine import ChatOutput, Engine
from codeassist.engine.sampling import SamplingParams, StepOutput
from codeassist.engine.sequence import Sequence

__all__ = ["ChatOutput", "Engine", "SamplingParams", "Sequence", "StepOutput"]
