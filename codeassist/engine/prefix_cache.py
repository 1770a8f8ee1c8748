"""KV snapshots of recent prompts, reused for the longest shared token prefix (LRU, byte budget).

An entry holds the full-attention layers' K/V from position 0 and each sliding layer's tail:
its window plus some slack. A new prompt can reuse an entry up to position P only if every
sliding tail still reaches back to P - window, because a sliding layer at P needs exactly the
window that ended at P (GEMMA4.md's sliding-window trap). Entries are taken at the end of
each prompt, and also where a prompt diverged from a cached one too far back to reuse it (or
where the caller says the stable part ends), so the next prompt diverging there can resume.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from codeassist.engine.kv_cache import LayerSnapshot


@dataclass
class PrefixEntry:
    tokens: torch.Tensor  # int64 [L] on the CPU
    layers: dict[int, LayerSnapshot]
    windows: dict[int, int | None]  # per stored layer: its window, None for full attention
    nbytes: int

    def reusable(self, upto: int) -> bool:
        """Whether the state at position upto can be rebuilt from this entry."""
        for index, part in self.layers.items():
            window = self.windows[index]
            need = 0 if window is None else max(0, upto - window)
            if part.start_pos > need:
                return False
        return upto <= len(self.tokens)


def shared_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the common token prefix of two 1-D tensors."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = torch.nonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else n


class PrefixCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        self._next = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.entries.values())

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
            if not entry.reusable(upto):
                continue  # its sliding tails no longer reach back to upto - window
            if upto > best_len:
                best, best_len, best_key = entry, upto, key
        if best is None:
            self.misses += 1
            return None, 0, shared
        self.entries.move_to_end(best_key)
        self.hits += 1
        return best, best_len, shared

    def insert(
        self, tokens: list[int], layers: dict[int, LayerSnapshot], windows: dict[int, int | None]
    ) -> bool:
        """Keep a snapshot (LRU eviction); False if it alone exceeds the budget."""
        nbytes = sum(part.nbytes() for part in layers.values())
        if nbytes > self.budget or not tokens:
            return False
        new = PrefixEntry(torch.tensor(tokens, dtype=torch.long), layers, windows, nbytes)
        for key, entry in list(self.entries.items()):
            # an entry the new one covers (its prefix, reached by its sliding tails) is redundant
            size = len(entry.tokens)
            reaches = all(
                new.layers[i].start_pos <= part.start_pos for i, part in entry.layers.items()
            )
            if (
                size <= len(new.tokens)
                and shared_prefix(entry.tokens, new.tokens) == size
                and reaches
            ):
                del self.entries[key]
        while self.entries and self.nbytes + nbytes > self.budget:
            self.entries.popitem(last=False)
            self.evictions += 1
        self.entries[self._next] = new
        self._next += 1
        return True

    def clear(self) -> None:
        self.entries.clear()
