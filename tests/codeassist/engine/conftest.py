"""Engines on the tiny checkpoint, loaded once per session (loading takes well under a second)."""

from __future__ import annotations

import pytest
import torch

from codeassist.config import EngineSettings
from codeassist.engine import Engine


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model runs fastest on one thread; with 2 shared cores, 2 threads spin and wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def nf4_engine(tiny_checkpoint):
    """The default engine: NF4 weights, bf16 compute, chunks of 64 tokens."""
    return Engine.load(str(tiny_checkpoint), EngineSettings(prefill_chunk=64))


@pytest.fixture(scope="session")
def exact_engine(tiny_checkpoint):
    """float32 compute, no quantization: differences in logits are bugs, not rounding."""
    return Engine.load(
        str(tiny_checkpoint), EngineSettings(quantize="none", dtype="float32", prefill_chunk=48)
    )


@pytest.fixture(scope="session")
def make_engine(tiny_checkpoint):
    def make(**settings) -> Engine:
        return Engine.load(str(tiny_checkpoint), EngineSettings(**settings))

    return make
