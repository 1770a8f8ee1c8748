"""The float32 engine against transformers' own Gemma4ForCausalLM on the tiny checkpoint.

Every logit the engine samples from must match transformers' (teacher-forced, one forward over
the whole sequence with its own masks) within 1e-4, and greedy tokens must be identical: for
prompts shorter than, equal to and longer than the sliding window, chunked prefill, long decodes
that cross the window several times, a warm prefix cache and batched decoding.
"""

from __future__ import annotations

import pytest
import torch

from codeassist.engine import SamplingParams

ATOL = 1e-4


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    from transformers import Gemma4ForCausalLM

    model = Gemma4ForCausalLM.from_pretrained(str(tiny_checkpoint), dtype=torch.float32)
    return model.eval()


def _prompt(n: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


class Recorder:
    """Collects the logits each sequence samples from (the engine's opt-in logits hook)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.rows: dict[int, list[torch.Tensor]] = {}

    def __enter__(self) -> Recorder:
        self.engine.logits_hook = self
        return self

    def __exit__(self, *exc) -> None:
        self.engine.logits_hook = None

    def __call__(self, seq, logits: torch.Tensor) -> None:
        self.rows.setdefault(seq.id, []).append(logits.detach().float().cpu().reshape(-1))


def _reference_logits(reference, tokens: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return reference(torch.tensor([tokens])).logits[0].float()


def _generate(engine, prompt: list[int], max_tokens: int) -> tuple[list[int], torch.Tensor]:
    with Recorder(engine) as recorder:
        outs = list(engine.generate(prompt, SamplingParams(temperature=0, max_tokens=max_tokens)))
    tokens = [o.token_id for o in outs if o.token_id is not None]
    (rows,) = recorder.rows.values()
    return tokens, torch.stack(rows)


def _assert_matches(reference, prompt: list[int], tokens: list[int], rows: torch.Tensor) -> None:
    want = _reference_logits(reference, prompt + tokens)[len(prompt) - 1 : -1]
    assert rows.shape == want.shape
    worst = (rows - want).abs().max().item()
    assert worst <= ATOL, f"logits differ from transformers by {worst:.2e}"
    assert tokens == want.argmax(-1).tolist()


@pytest.mark.parametrize("length", [50, 128, 129, 300])
def test_prompts_around_the_window_match_transformers(exact_engine, reference, length):
    """Shorter than, equal to, one past and over twice the window of 128; chunks of 48."""
    assert exact_engine.window == 128 and exact_engine.chunk == 48
    prompt = _prompt(length, seed=length)
    tokens, rows = _generate(exact_engine, prompt, 6)
    _assert_matches(reference, prompt, tokens, rows)


def test_long_decode_crossing_the_window_matches_transformers_generate(exact_engine, reference):
    """A decode of 300 tokens after a 100-token prompt crosses the window three times.

    Compared with transformers' own incremental decoding (`generate` with its cache): over 400
    positions a one-shot forward drifts from either incremental path by float32 rounding alone
    (both are ~1e-4 from a float64 run), while the two incremental paths agree within 4e-5.
    """
    prompt = _prompt(100, seed=14)
    tokens, rows = _generate(exact_engine, prompt, 300)
    assert len(tokens) == 300  # no stop token on the way (the seed is chosen for that)
    with torch.no_grad():
        out = reference.generate(
            torch.tensor([prompt]),
            do_sample=False,
            max_new_tokens=300,
            min_new_tokens=300,
            output_logits=True,
            return_dict_in_generate=True,
        )
    assert tokens == out.sequences[0, len(prompt) :].tolist()
    want = torch.stack(out.logits)[:, 0].float()
    worst = (rows - want).abs().max().item()
    assert worst <= ATOL, f"logits differ from transformers by {worst:.2e}"


def test_one_shot_and_chunked_prefill_match_transformers(make_engine, reference):
    """The prefill chunk size changes nothing: whole prompt at once, and chunks of 7."""
    prompt = _prompt(260, seed=5)
    for chunk in (4096, 7):
        engine = make_engine(
            quantize="none", dtype="float32", prefill_chunk=chunk, prefix_cache_mib=0
        )
        tokens, rows = _generate(engine, prompt, 4)
        _assert_matches(reference, prompt, tokens, rows)


def test_warm_prefix_cache_matches_transformers(make_engine, reference):
    """A prompt resumed from the prefix cache (the user typed at the end) is exact."""
    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    first = _prompt(300, seed=21)
    _generate(engine, first, 2)
    typed = first[:290] + [500, 501, 502, 503]
    before = engine.stats()["reused_tokens"]
    tokens, rows = _generate(engine, typed, 24)
    assert engine.stats()["reused_tokens"] - before == 290
    _assert_matches(reference, typed, tokens, rows)


def test_batched_decode_matches_transformers(exact_engine, reference):
    """Three sequences (shorter than, just past and over twice the window) decode together in
    one batched forward per step (padded to a batch of 4); each is exact on its own."""
    prompts = [_prompt(n, seed=30 + n) for n in (50, 129, 300)]
    params = SamplingParams(temperature=0, max_tokens=40)
    with Recorder(exact_engine) as recorder:
        seqs = [exact_engine.add_request(p, params) for p in prompts]
        before = exact_engine.stats()["decode_steps"]
        while not all(s.finished for s in seqs):
            exact_engine.step_many([s for s in seqs if not s.finished])
        decode_steps = exact_engine.stats()["decode_steps"] - before
        for seq in seqs:
            exact_engine.release(seq)
    decoded = sum(len(s.generated) - 1 for s in seqs)  # the first token of each comes at prefill
    assert decode_steps < decoded / 2  # one forward per step for the batch, not per sequence
    for seq, prompt in zip(seqs, prompts, strict=True):
        rows = torch.stack(recorder.rows[seq.id])
        _assert_matches(reference, prompt, seq.generated, rows)
