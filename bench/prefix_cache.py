"""Prefix cache under typing: 30 completion prompts sharing a 4,000-token context.

No arguments. Each prompt is the same repository context plus the code being typed, one more
character each time, so consecutive prompts differ in their last few tokens. Last line: one
JSON object; computed_ratio = computed tokens / prompt tokens over requests 2..30 (target <= 0.05).
"""

from __future__ import annotations

import json
import tempfile
import time
from importlib import resources
from pathlib import Path

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams
from codeassist.gemma4.prompt import render_chat
from codeassist.gemma4.tiny import make_tiny_checkpoint

CONTEXT_TOKENS = 4000
TYPED = "    result = compute_total(items, discount=0.1)\n"


def main() -> None:
    corpus = resources.files("codeassist.gemma4").joinpath("tiny_corpus.txt").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny_checkpoint(Path(tmp) / "tiny")
        engine = Engine.load(str(path), EngineSettings())
        text, context_ids = corpus, []
        while len(context_ids) < CONTEXT_TOKENS:
            context_ids = engine.encode(text)
            text += corpus
        context = engine.tokenizer.decode(context_ids[:CONTEXT_TOKENS])
        params = SamplingParams(temperature=0.2, max_tokens=4, seed=0)
        rows, times = [], []
        for i in range(30):
            messages = [
                {"role": "user", "content": f"Repository context:\n{context}\nComplete the code."}
            ]
            prompt = render_chat(messages, model_prefix="def total():\n" + TYPED[: i + 1])
            ids = engine.encode(prompt)
            before = engine.stats()
            start = time.perf_counter()
            list(engine.generate(ids, params))
            times.append(time.perf_counter() - start)
            after = engine.stats()
            rows.append(
                (
                    after["prompt_tokens"] - before["prompt_tokens"],
                    after["computed_tokens"] - before["computed_tokens"],
                )
            )
        later_prompt = sum(p for p, _ in rows[1:])
        later_computed = sum(c for _, c in rows[1:])
        stats = engine.stats()
        figures = {
            "computed_ratio": round(later_computed / later_prompt, 4),
            "first_prompt_tokens": rows[0][0],
            "first_computed_tokens": rows[0][1],
            "requests": len(rows),
            "reused_tokens": stats["reused_tokens"],
            "prefix_cache_entries": stats["prefix_cache_entries"],
            "prefix_cache_bytes": stats["prefix_cache_bytes"],
            "first_request_s": round(times[0], 3),
            "median_later_request_s": round(sorted(times[1:])[len(times[1:]) // 2], 3),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
