"""The decode step run as one captured graph per bucket, fed through two input copies.

A batched decode step is `ModelRunner.decode` over fixed-shape tensors. Batches are padded to
a batch bucket (1, 2, 4, 8, ...) and block tables to a context bucket (1, 2, 3, 4, 6, 8, 12,
... blocks: attention reads at most half again what it needs), so each (batch, context,
greedy) bucket is one graph. Padding rows feed token 0 at position 0 into the scratch block
and ring row, which no sequence owns.

Host to device, a step is two copies (one int64 and one float32 tensor holding every row's
inputs); device to host it is one (the sampled ids, which the caller reads).

Modes: "eager" runs the step as plain PyTorch ops (the CPU default); "compile" runs it through
`torch.compile(fullgraph=True)`; "graph" (the CUDA default) compiles it, then captures one
CUDA graph per bucket on first use and replays it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from codeassist.engine.kv_cache import SCRATCH
from codeassist.engine.runner import DecodeInputs, ModelRunner
from codeassist.engine.sampler import SamplingRows

log = logging.getLogger("codeassist.engine")

MODES = ("eager", "compile", "graph")
_INT_COLUMNS = 6  # ids, positions, rows, top_k, seed, index; then the block table
_FLOAT_COLUMNS = 2  # temperature, top_p


@dataclass
class DecodeRow:
    """One sequence's part of a decode step (host values)."""

    token: int
    position: int
    row: int
    blocks: list[int]
    temperature: float
    top_k: int
    top_p: float
    seed: int
    index: int


def batch_bucket(count: int) -> int:
    return 1 << max(0, (count - 1).bit_length())


def context_bucket(blocks: int, limit: int) -> int:
    """The smallest of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... that is >= blocks (at most limit)."""
    size = 1
    while True:
        if size >= blocks:
            return min(max(size, blocks), max(limit, blocks))
        if size >= 2 and size + size // 2 >= blocks:
            return min(size + size // 2, max(limit, blocks))
        size *= 2


def _inputs(ints: torch.Tensor, floats: torch.Tensor) -> DecodeInputs:
    return DecodeInputs(
        ids=ints[:, 0],
        positions=ints[:, 1],
        rows=ints[:, 2],
        tables=ints[:, _INT_COLUMNS:],
        sampling=SamplingRows(
            temperature=floats[:, 0],
            top_k=ints[:, 3],
            top_p=floats[:, 1],
            seed=ints[:, 4],
            index=ints[:, 5],
        ),
    )


def pack(rows: list[DecodeRow], batch: int, blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two host tensors of a step, padded to `batch` rows and `blocks` table columns."""
    ints = torch.zeros(batch, _INT_COLUMNS + blocks, dtype=torch.int64)
    floats = torch.zeros(batch, _FLOAT_COLUMNS, dtype=torch.float32)
    ints[:, 2] = SCRATCH
    for i, r in enumerate(rows):
        ints[i, :_INT_COLUMNS] = torch.tensor(
            [r.token, r.position, r.row, r.top_k, r.seed, r.index]
        )
        ints[i, _INT_COLUMNS : _INT_COLUMNS + len(r.blocks)] = torch.tensor(r.blocks)
        floats[i, 0] = r.temperature
        floats[i, 1] = r.top_p
    return ints, floats


class _Captured:
    """One bucket's CUDA graph with its static input and output tensors."""

    def __init__(
        self, step, ints: torch.Tensor, floats: torch.Tensor, flags: tuple[bool, bool], pool
    ) -> None:
        self.ints, self.floats = ints, floats
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm-up (compilation, autotuning) writes only scratch slots
                step(ints, floats, *flags)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.tokens, self.logits = step(ints, floats, *flags)

    def run(self, ints: torch.Tensor, floats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.ints.copy_(ints, non_blocking=True)
        self.floats.copy_(floats, non_blocking=True)
        self.graph.replay()
        return self.tokens, self.logits


class DecodeGraphs:
    """Runs batched decode steps in the chosen mode, one graph per bucket."""

    def __init__(self, runner: ModelRunner, *, max_batch: int, max_blocks: int, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"decode mode must be one of {MODES}, not {mode!r}")
        if mode == "graph" and runner.kv.device.type != "cuda":
            raise ValueError("decode mode 'graph' needs a CUDA device")
        self.runner = runner
        self.max_batch = max_batch
        self.max_blocks = max_blocks  # blocks of the longest sequence the pool can hold
        self.mode = mode
        self.device = runner.kv.device
        self._step = self.step
        if mode in ("compile", "graph"):
            # no size/stride asserts in the generated code: ~220 checks of the inputs per step
            # (the weights are inputs), host time that the CPU pays on every token
            self._step = torch.compile(self.step, fullgraph=True, options={"size_asserts": False})
        self._graphs: dict[tuple[int, int, bool, bool], _Captured] = {}
        self._pool = torch.cuda.graph_pool_handle() if mode == "graph" else None

    def step(
        self, ints: torch.Tensor, floats: torch.Tensor, greedy: bool, paged: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The decode step on the two packed input tensors (what is compiled and captured)."""
        return self.runner.decode(_inputs(ints, floats), greedy, paged)

    def buckets(self, rows: list[DecodeRow]) -> tuple[int, int]:
        blocks = max(len(r.blocks) for r in rows)
        if self.mode != "eager":
            # tables at least 2 blocks wide: the compiler specializes a dimension of size 1, so
            # a 1-block table would compile a graph of its own (a second compilation, seconds
            # on the CPU, as soon as a sequence passes its first block)
            blocks = max(blocks, 2)
        return batch_bucket(len(rows)), context_bucket(blocks, self.max_blocks)

    def run(self, rows: list[DecodeRow]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids [B], logits [B, V]) on the device for the rows, B = len(rows)."""
        if not 0 < len(rows) <= self.max_batch:
            raise ValueError(f"a decode step takes 1 to {self.max_batch} rows, not {len(rows)}")
        batch, blocks = self.buckets(rows)
        flags = (all(r.temperature <= 0 for r in rows), self.runner.paged())
        ints, floats = pack(rows, batch, blocks)
        if self.mode != "eager":
            # one compilation serves every bucket: batch and table width are symbolic
            for tensor in (ints, floats):
                torch._dynamo.maybe_mark_dynamic(tensor, 0)
            torch._dynamo.maybe_mark_dynamic(ints, 1)
        if self.mode != "graph":
            tokens, logits = self._step(ints.to(self.device), floats.to(self.device), *flags)
        else:
            key = (batch, blocks, *flags)
            graph = self._graphs.get(key)
            if graph is None:
                graph = _Captured(
                    self._step,
                    torch.zeros_like(ints, device=self.device),
                    torch.zeros_like(floats, device=self.device),
                    flags,
                    self._pool,
                )
                self._graphs[key] = graph
            tokens, logits = graph.run(ints.pin_memory(), floats.pin_memory())
        return tokens[: len(rows)], logits[: len(rows)]

    @property
    def captured(self) -> int:
        return len(self._graphs)

    def pool_bytes(self) -> int:
        """Bytes of the captured graphs' private memory pool (0 without CUDA graphs)."""
        if self._pool is None:
            return 0
        pool = tuple(self._pool)
        return sum(
            segment["total_size"]
            for segment in torch.cuda.memory_snapshot()
            if tuple(segment.get("segment_pool_id", ())) == pool
        )
