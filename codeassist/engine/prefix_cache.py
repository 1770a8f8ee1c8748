"""K/V state of recent prompts, reused for the longest shared token prefix (LRU).

An entry remembers a prompt prefix of length P: the full-attention blocks that hold positions
[0, P) (shared with the sequence that wrote them, reference counted: never copied) and a copy
of the sliding rings at P (positions [P - ring, P)). A new prompt can resume from an entry at
position U <= P only if the rings still reach back to U - window, since a sliding layer at U
needs exactly the window that ended at U (docs/model.md, the sliding-window trap).

Memory: the budget bounds the bytes of ring copies, and it is checked before a copy is made;
the shared blocks live in the engine's preallocated pool and are given back (oldest entry
first) whenever a live sequence needs room. Entries are taken at the end of each prompt, and
also where a prompt diverged from a cached one too far back to reuse it (or where the caller
says its stable part ends), so the next prompt diverging there can resume.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from codeassist.engine.kv_cache import KVCache, SequenceKV, blocks_for


@dataclass
class PrefixEntry:
    tokens: torch.Tensor  # int64 [P] on the CPU
    blocks: list[int]  # full-attention blocks of positions [0, P) (one reference held)
    rings: dict[int, tuple[torch.Tensor, torch.Tensor]]  # sliding layer -> ring copy at P
    ring_floor: int  # the ring copies hold every position from here to P - 1
    nbytes: int  # bytes of the ring copies

    @property
    def length(self) -> int:
        return len(self.tokens)


def shared_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the common token prefix of two 1-D tensors."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = torch.nonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else n


class PrefixCache:
    def __init__(self, budget_bytes: int, kv: KVCache) -> None:
        self.budget = budget_bytes
        self.kv = kv
        self.entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        self._next = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def nbytes(self) -> int:
        """Bytes of ring copies held (what the budget bounds)."""
        return sum(e.nbytes for e in self.entries.values())

    def evictable_blocks(self) -> int:
        """Pool blocks that only prefix-cache entries hold (freed if every entry went)."""
        held: dict[int, int] = {}
        for entry in self.entries.values():
            for block in entry.blocks:
                held[block] = held.get(block, 0) + 1
        refs = self.kv.allocator.refs
        return sum(1 for block, count in held.items() if refs[block] == count)

    def shared_blocks(self) -> int:
        """Pool blocks the entries hold (some may also belong to live sequences)."""
        return len({b for e in self.entries.values() for b in e.blocks})

    def reusable(self, entry: PrefixEntry, upto: int) -> bool:
        """Whether the state at position upto can be rebuilt from entry."""
        if upto > entry.length:
            return False
        return not entry.rings or max(0, upto - self.kv.window) >= entry.ring_floor

    def lookup(self, prompt: list[int]) -> tuple[PrefixEntry | None, int, int]:
        """(entry, position to resume from, longest shared prefix with any entry).

        The resume position is the longest reusable prefix (at most len - 1); the shared length
        can be longer when a sliding tail no longer reaches back far enough.
        """
        tokens = torch.tensor(prompt, dtype=torch.long)
        best, best_len, best_key, shared = None, 0, None, 0
        for key, entry in self.entries.items():
            upto = min(shared_prefix(entry.tokens, tokens), len(prompt) - 1)
            shared = max(shared, upto)
            if upto > best_len and self.reusable(entry, upto):
                best, best_len, best_key = entry, upto, key
        if best is None:
            self.misses += 1
            return None, 0, shared
        self.entries.move_to_end(best_key)
        self.hits += 1
        return best, best_len, shared

    def insert(self, tokens: list[int], seq: SequenceKV) -> bool:
        """Remember seq's state at position len(tokens) (its current end); False if over budget.

        The budget is checked, and older entries evicted, before the rings are copied.
        """
        length = len(tokens)
        nbytes = self.kv.snapshot_bytes() if self.kv.sliding_layers else 0
        if not tokens or nbytes > self.budget or length != seq.length:
            return False
        new_tokens = torch.tensor(tokens, dtype=torch.long)
        for key, entry in list(self.entries.items()):
            # an entry the new one covers (its prefix, reached by the new rings) is redundant
            covered = entry.length <= length and shared_prefix(entry.tokens, new_tokens) == len(
                entry.tokens
            )
            if covered and seq.ring_floor <= entry.ring_floor:
                self._drop(key)
        while self.entries and self.nbytes + nbytes > self.budget:
            self._drop(next(iter(self.entries)))
            self.evictions += 1
        blocks = list(seq.blocks[: blocks_for(length)])
        self.kv.allocator.retain(blocks)
        rings = self.kv.copy_rings(seq.row) if self.kv.sliding_layers else {}
        self.entries[self._next] = PrefixEntry(new_tokens, blocks, rings, seq.ring_floor, nbytes)
        self._next += 1
        return True

    def make_room(self, blocks: int) -> None:
        """Drop the oldest entries until `blocks` pool blocks are available (or none is left)."""
        while self.entries and self.kv.available_blocks < blocks:
            self._drop(next(iter(self.entries)))
            self.evictions += 1

    def clear(self) -> None:
        for key in list(self.entries):
            self._drop(key)

    def _drop(self, key: int) -> None:
        entry = self.entries.pop(key)
        self.kv.allocator.release(entry.blocks)
