"""The decode step is one graph: it traces whole (fullgraph, 0 breaks) and never reads the device.

On CUDA the step is captured as a CUDA graph, which only works if it has no host reads, no
data-dependent shapes and no graph breaks; on the CPU the same step must trace with
`torch.compile(fullgraph=True)`, on the bf16 path and on the NF4 path. A host read inside the
step (`.item()`, `.tolist()`, `int(tensor)`, a copy to the CPU...) is caught twice: dynamo
refuses it under fullgraph, and the eager step runs with those calls booby-trapped. The engine
as a whole reads the device exactly once per decode step: the sampled ids.
"""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from codeassist.config import EngineSettings
from codeassist.engine import Engine, SamplingParams, paged_attention
from codeassist.engine.graphs import DecodeGraphs, DecodeRow, pack

aten = torch.ops.aten
# ops that wait for the device (their result or output shape needs its data on the host)
SYNCING_OPS = {
    aten._local_scalar_dense.default,
    aten.nonzero.default,
    aten.masked_select.default,
    aten._unique2.default,
    aten.unique_consecutive.default,
    aten.unique_dim.default,
}
HOST_METHODS = ("item", "tolist", "numpy", "cpu", "__int__", "__float__", "__bool__", "__index__")


class NoHostReads(TorchDispatchMode):
    """Fails on any op that makes the host wait for the device, and on host-side reads."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SYNCING_OPS:
            raise AssertionError(f"host read inside the decode step: {func}")
        if func is aten._to_copy.default and kwargs.get("device") not in (None, args[0].device):
            raise AssertionError(f"device-to-host copy inside the decode step: {kwargs}")
        return func(*args, **kwargs)


@contextlib.contextmanager
def no_host_reads():
    saved = {name: getattr(torch.Tensor, name) for name in HOST_METHODS}

    def trap(name):
        def method(self, *args, **kwargs):
            raise AssertionError(f"Tensor.{name}() inside the decode step")

        return method

    try:
        for name in HOST_METHODS:
            setattr(torch.Tensor, name, trap(name))
        with NoHostReads():
            yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


def _decoding(engine, params: list[SamplingParams]):
    """Sequences that finished their prompts, and the packed inputs of their next step."""
    seqs = [
        engine.add_request([2, *range(300 + 7 * i, 370 + 5 * i)], p) for i, p in enumerate(params)
    ]
    while any(s.in_prefill or not s.generated for s in seqs):
        engine.step_many(seqs)
    rows = engine._decode_rows(seqs)
    batch, blocks = engine.graphs.buckets(rows)
    return seqs, pack(rows, batch, blocks)


@pytest.mark.parametrize(
    ("quantize", "paged"),
    [("none", False), ("nf4", False), ("nf4", True)],  # the last: the step CUDA captures
)
def test_decode_step_traces_as_one_graph_without_host_reads(
    two_layers, monkeypatch, quantize, paged
):
    """paged: attention by the Triton kernel that reads K/V in place (interpreted here)."""
    monkeypatch.setattr(paged_attention, "DECODE_SPLITS", 4)  # fewer interpreted programs
    settings = EngineSettings(quantize=quantize, prefill_chunk=64, prefix_cache_mib=0)
    engine = Engine.load(str(two_layers), settings)
    params = [SamplingParams(temperature=0), SamplingParams(temperature=0.8, seed=3)]
    seqs, (ints, floats) = _decoding(engine, params)
    with no_host_reads():
        want, want_logits = engine.graphs.step(ints, floats, False, paged)
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    # what the engine compiles (and on CUDA captures): the step on its two packed inputs
    step = torch.compile(engine.graphs.step, backend=backend, fullgraph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' lru_cache'd version checks
        got, got_logits = step(ints, floats, False, paged)
    assert len(graphs) == 1  # fullgraph=True: a graph break would have raised
    assert torch.equal(got, want) and torch.equal(got_logits, want_logits)
    for seq in seqs:
        engine.release(seq)
    torch._dynamo.reset()


def test_a_host_read_in_the_step_is_caught(make_engine, monkeypatch):
    """The guard itself: an `int(tensor)` slipped into the step makes it fail."""
    engine = make_engine(quantize="none", prefill_chunk=64, prefix_cache_mib=0)
    seqs, (ints, floats) = _decoding(engine, [SamplingParams(temperature=0)])
    head = engine.runner.head
    monkeypatch.setattr(engine.runner, "head", lambda h: head(h) * int(h.new_ones(()).sum()))
    with pytest.raises(AssertionError, match="inside the decode step"), no_host_reads():
        engine.graphs.step(ints, floats, False, False)
    engine.release(seqs[0])


def test_the_engine_reads_the_device_once_per_decode_step(make_engine, monkeypatch):
    engine = make_engine(quantize="none", prefill_chunk=64, prefix_cache_mib=0)
    params = [SamplingParams(temperature=0, max_tokens=9), SamplingParams(seed=1, max_tokens=9)]
    seqs, _ = _decoding(engine, params)
    reads = []
    for name in ("tolist", "item", "__int__", "__bool__", "numpy"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    steps = 0
    while not all(s.finished for s in seqs):
        engine.step_many(seqs)
        steps += 1
    monkeypatch.undo()
    assert steps == 8 and reads == ["tolist"] * steps
    for seq in seqs:
        engine.release(seq)


def test_compiled_steps_never_see_a_one_block_table(make_engine):
    """The compiler specializes a dimension of size 1: a 1-block table would be a graph of its
    own, compiled again once a sequence passes its first block. Compiled modes pad to 2."""
    engine = make_engine(quantize="none", prefill_chunk=64, prefix_cache_mib=0)
    row = DecodeRow(5, 10, 1, [3], 0.0, 0, 1.0, 0, 1)
    assert engine.graphs.buckets([row]) == (1, 1)  # eager reads only what it needs
    compiled = DecodeGraphs(engine.runner, max_batch=4, max_blocks=8, mode="compile")
    assert compiled.buckets([row]) == (1, 2)
    assert compiled.buckets([row, DecodeRow(5, 600, 2, [4, 5, 6], 0.0, 0, 1.0, 0, 1)]) == (2, 3)
