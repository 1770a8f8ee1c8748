"""Sampling rows on their own: greedy, temperature, top-k and top-p keep what they promise."""

from __future__ import annotations

import torch

from codeassist.engine.sampler import SamplingRows, sample

# Probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1 (token 2 is the most likely).
LOGITS = torch.log(torch.tensor([0.15, 0.3, 0.5, 0.05]))
DRAWS = 400


def draws(temperature=1.0, top_k=0, top_p=1.0, seed=7) -> torch.Tensor:
    """DRAWS tokens for one request: rows with indices 0..DRAWS-1 of the same seed."""
    rows = SamplingRows(
        temperature=torch.full((DRAWS,), temperature),
        top_k=torch.full((DRAWS,), top_k, dtype=torch.int64),
        top_p=torch.full((DRAWS,), top_p),
        seed=torch.full((DRAWS,), seed, dtype=torch.int64),
        index=torch.arange(DRAWS, dtype=torch.int64),
    )
    return sample(LOGITS.expand(DRAWS, -1).clone(), rows, greedy_only=False)


def share(tokens: torch.Tensor, token: int) -> float:
    return (tokens == token).float().mean().item()


def test_greedy_rows_take_the_argmax():
    assert set(draws(temperature=0.0).tolist()) == {2}
    assert set(draws(temperature=-1.0).tolist()) == {2}


def test_unfiltered_draws_follow_the_distribution():
    tokens = draws()
    assert set(tokens.tolist()) == {0, 1, 2, 3}
    for token, p in enumerate([0.15, 0.3, 0.5, 0.05]):
        assert abs(share(tokens, token) - p) < 0.08, (token, share(tokens, token))


def test_top_k_keeps_the_k_most_likely():
    assert set(draws(top_k=1).tolist()) == {2}
    assert set(draws(top_k=2).tolist()) == {1, 2}
    assert set(draws(top_k=99).tolist()) == {0, 1, 2, 3}  # more than the vocabulary: no limit


def test_top_p_keeps_the_smallest_set_holding_p():
    assert set(draws(top_p=0.0).tolist()) == {2}  # the most likely token always stays
    assert set(draws(top_p=0.4).tolist()) == {2}  # 0.5 alone covers 0.4
    assert set(draws(top_p=0.7).tolist()) == {1, 2}  # 0.5 + 0.3
    assert set(draws(top_p=0.9).tolist()) == {0, 1, 2}


def test_the_same_seed_and_index_draw_the_same_token_alone_or_batched():
    tokens = draws(seed=11)
    assert torch.equal(tokens, draws(seed=11))
    assert not torch.equal(tokens, draws(seed=12))
    one = SamplingRows(
        temperature=torch.tensor([1.0]),
        top_k=torch.tensor([0]),
        top_p=torch.tensor([1.0]),
        seed=torch.tensor([11]),
        index=torch.tensor([5]),
    )
    assert sample(LOGITS[None].clone(), one, greedy_only=False).item() == tokens[5].item()
    # a low temperature sharpens towards the argmax
    assert share(draws(temperature=0.2), 2) > 0.9
