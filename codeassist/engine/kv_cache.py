"""Where the keys and values live: fixed buffers allocated once, shared by every sequence.

Full-attention layers keep every position, so their K/V goes in blocks of BLOCK tokens from
one pool per layer ([blocks, BLOCK, kv heads, head dim]); a sequence owns a list of blocks in
position order. Blocks are append-only and reference counted, so a prefix-cache entry holds
the very blocks of the prompt it remembers (no copy) and a later prompt sharing that prefix
takes them over; only a partly filled last block is copied before anyone appends to it.

Sliding-window layers need only their last `window` positions, kept in a ring of
`ring = window + slack` slots per sequence (position p in slot p % ring): one row per sequence
of a [rows, ring, kv heads, head dim] tensor per layer. The slack keeps a few positions more
than the window, so that the state at a slightly earlier position can be rebuilt from a
snapshot (docs/model.md: a sliding cache that moved past a position cannot be rewound).

Block 0 and ring row 0 are scratch: padding rows of a batched decode write there, and so does
the warm-up of a CUDA graph capture; no sequence ever gets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from codeassist.engine.layout import BLOCK, blocks_for
from codeassist.gemma4.shape import LayerShape

SCRATCH = 0  # the block and the ring row nobody owns


class KVFull(Exception):
    """The preallocated K/V storage has no room for what a request needs."""


class BlockAllocator:
    """Free list and reference counts of the pool's blocks (block 0 is never handed out)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.refs = [0] * count
        self.refs[SCRATCH] = 1
        self._free = list(range(count - 1, SCRATCH, -1))

    @property
    def free(self) -> int:
        return len(self._free)

    def allocate(self, n: int) -> list[int]:
        if n > len(self._free):
            raise KVFull(f"{n} blocks asked, {len(self._free)} free")
        taken = [self._free.pop() for _ in range(n)]
        for block in taken:
            self.refs[block] = 1
        return taken

    def retain(self, blocks: list[int]) -> None:
        for block in blocks:
            assert self.refs[block] > 0, f"block {block} is free"
            self.refs[block] += 1

    def release(self, blocks: list[int]) -> None:
        for block in blocks:
            self.refs[block] -= 1
            assert self.refs[block] >= 0, f"block {block} released twice"
            if self.refs[block] == 0:
                self._free.append(block)


@dataclass(eq=False)
class SequenceKV:
    """One sequence's share of the storage: its ring row and its blocks, in position order."""

    row: int
    blocks: list[int] = field(default_factory=list)
    length: int = 0  # positions whose K/V are stored
    reserved: int = 0  # blocks promised to this sequence beyond those it holds
    ring_floor: int = 0  # the rings hold every position from here to length - 1


class KVCache:
    """The K/V pools of all layers that store K/V (KV-shared layers read their owner's)."""

    def __init__(
        self,
        shapes: list[LayerShape],
        owners: list[int],
        *,
        tokens: int,
        sequences: int,
        slack: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.shapes = shapes
        self.owners = owners
        self.device = device
        self.dtype = dtype
        stored = sorted(set(owners))
        self.window = max((shapes[i].window or 0) for i in stored)
        self.ring = self.window + slack
        self.slack = slack
        self.block_count = blocks_for(tokens) + 1  # + the scratch block
        self.rows = sequences + 1  # + the scratch row
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}
        for i in stored:
            shape = shapes[i]
            lead = (self.block_count, BLOCK) if shape.window is None else (self.rows, self.ring)
            size = (*lead, shape.num_kv_heads, shape.head_dim)
            self.keys[i] = torch.zeros(size, device=device, dtype=dtype)
            self.values[i] = torch.zeros(size, device=device, dtype=dtype)
        self.global_layers = [i for i in stored if shapes[i].window is None]
        self.sliding_layers = [i for i in stored if shapes[i].window is not None]
        self.allocator = BlockAllocator(self.block_count)
        self._free_rows = list(range(self.rows - 1, SCRATCH, -1))
        self.reserved = 0  # blocks promised to live sequences, not yet taken

    # --- bytes ------------------------------------------------------------------------------
    def bytes_per_token(self) -> tuple[int, int]:
        """(bytes per position on all full-attention layers, on all sliding layers)."""
        full = sum(2 * self.keys[i][0, 0].numel() for i in self.global_layers)
        sliding = sum(2 * self.keys[i][0, 0].numel() for i in self.sliding_layers)
        size = torch.empty((), dtype=self.dtype).element_size()
        return full * size, sliding * size

    def pool_bytes(self) -> int:
        return sum(
            2 * self.keys[i].numel() * self.keys[i].element_size() for i in self.global_layers
        )

    def ring_bytes(self) -> int:
        return sum(
            2 * self.keys[i].numel() * self.keys[i].element_size() for i in self.sliding_layers
        )

    def snapshot_bytes(self) -> int:
        """Bytes of one sliding-layer snapshot (every sliding ring of one sequence)."""
        return self.bytes_per_token()[1] * self.ring

    # --- sequences --------------------------------------------------------------------------
    @property
    def available_blocks(self) -> int:
        """Free blocks not promised to a live sequence."""
        return self.allocator.free - self.reserved

    def open(self) -> SequenceKV:
        if not self._free_rows:
            raise KVFull(f"all {self.rows - 1} sequences the engine can hold at once are running")
        return SequenceKV(self._free_rows.pop())

    def reserve(self, seq: SequenceKV, tokens: int) -> None:
        """Promise seq blocks for `tokens` positions in all (KVFull if they are not there)."""
        need = max(0, blocks_for(tokens) - len(seq.blocks) - seq.reserved)
        if need > self.available_blocks:
            raise KVFull(f"{need} blocks needed, {self.available_blocks} available")
        seq.reserved += need
        self.reserved += need

    def close(self, seq: SequenceKV) -> None:
        """Give back seq's row, its blocks (those others hold stay) and what it was promised."""
        self.allocator.release(seq.blocks)
        seq.blocks = []
        self.reserved -= seq.reserved
        seq.reserved = 0
        if seq.row != SCRATCH:
            self._free_rows.append(seq.row)
            seq.row = SCRATCH

    def grow(self, seq: SequenceKV, tokens: int) -> None:
        """Blocks for positions [0, tokens) of seq, from its reservation first."""
        need = blocks_for(tokens) - len(seq.blocks)
        if need <= 0:
            return
        from_reserve = min(need, seq.reserved)
        if need - from_reserve > self.available_blocks:
            raise KVFull(f"{need - from_reserve} more blocks needed")
        seq.blocks += self.allocator.allocate(need)
        seq.reserved -= from_reserve
        self.reserved -= from_reserve

    def advance(self, seq: SequenceKV, end: int) -> None:
        """seq's K/V now reaches position end (the rings dropped what fell out of them)."""
        seq.length = end
        seq.ring_floor = max(seq.ring_floor, end - self.ring)

    def adopt(self, seq: SequenceKV, blocks: list[int], upto: int) -> None:
        """Start seq from shared blocks holding positions [0, upto) (copy a partial last one)."""
        whole, part = divmod(upto, BLOCK)
        if part and self.available_blocks < 1:
            raise KVFull("no free block to copy the shared prefix's last block into")
        self.allocator.retain(blocks[:whole])
        seq.blocks = list(blocks[:whole])
        if part:
            (copy,) = self.allocator.allocate(1)
            for i in self.global_layers:
                self.keys[i][copy, :part] = self.keys[i][blocks[whole], :part]
                self.values[i][copy, :part] = self.values[i][blocks[whole], :part]
            seq.blocks.append(copy)
        seq.length = upto

    # --- sliding rings ----------------------------------------------------------------------
    def copy_rings(self, row: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """A copy of row's sliding rings (the tail a prefix-cache snapshot keeps)."""
        return {
            i: (self.keys[i][row].clone(), self.values[i][row].clone()) for i in self.sliding_layers
        }

    def load_rings(self, row: int, rings: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        for i, (keys, values) in rings.items():
            self.keys[i][row].copy_(keys)
            self.values[i][row].copy_(values)

    # --- reads for prefill ------------------------------------------------------------------
    def slots(self, seq: SequenceKV, start: int, end: int) -> torch.Tensor:
        """Flat pool indices ([blocks * BLOCK] view) of positions [start, end) of seq."""
        positions = torch.arange(start, end)
        table = torch.tensor(seq.blocks, dtype=torch.long)
        return (table[positions // BLOCK] * BLOCK + positions % BLOCK).to(self.device)

    def write_blocks(
        self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> None:
        """keys/values [T, heads, dim] into the flat pool slots of a full-attention layer."""
        self.keys[layer].view(-1, *keys.shape[1:]).index_copy_(0, slots, keys)
        self.values[layer].view(-1, *values.shape[1:]).index_copy_(0, slots, values)

    def read_blocks(
        self, layer: int, seq: SequenceKV, start: int, end: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions [start, end) of a full-attention layer: [end - start, heads, dim] each."""
        first, last = start // BLOCK, blocks_for(end)
        table = torch.tensor(seq.blocks[first:last], device=self.device)
        offset = start - first * BLOCK
        keys = self.keys[layer][table].flatten(0, 1)[offset : offset + end - start]
        values = self.values[layer][table].flatten(0, 1)[offset : offset + end - start]
        return keys, values
