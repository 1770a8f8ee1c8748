"""One request's state: its prompt, its KV cache, what it generated, and its streamed text."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from codeassist.engine.kv_cache import SequenceKV
from codeassist.engine.sampling import SamplingParams

_ids = itertools.count(1)


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters of text could still start one of the stop strings."""
    keep = 0
    for stop in stops:
        for size in range(min(len(text), len(stop) - 1), keep, -1):
            if stop.startswith(text[-size:]):
                keep = size
                break
    return keep


@dataclass(eq=False)
class Sequence:
    prompt_ids: list[int]
    params: SamplingParams
    id: int = field(default_factory=lambda: next(_ids))
    kv: SequenceKV | None = None
    prefilled: int = 0  # prompt tokens already in the KV cache
    reused: int = 0  # prompt tokens taken from the prefix cache
    snapshot_at: int = 0  # prompt position whose KV state goes to the prefix cache (0: none)
    generated: list[int] = field(default_factory=list)
    finished: bool = False
    finish_reason: str | None = None
    error: str | None = None
    seed: int = 0  # the sampler's noise is a function of (seed, token index)
    # incremental detokenization: a window of tokens is decoded so multi-token characters settle
    text: str = ""  # all decoded text so far
    emitted: int = 0  # characters of text handed out
    prefix_offset: int = 0
    read_offset: int = 0

    @property
    def in_prefill(self) -> bool:
        return self.prefilled < len(self.prompt_ids)

    def next_delta(self, tokenizer, hidden: frozenset[int] = frozenset()) -> None:
        """Decode the newest token into self.text (held while it ends in a partial character).

        Control tokens stay in the text (parsers need the markers); ids in hidden (fillers such
        as `<unused7>`, `<pad>`) are left out of it.
        """
        ids = self.generated

        def decode(part: list[int]) -> str:
            return tokenizer.decode([i for i in part if i not in hidden], skip_special_tokens=False)

        before = decode(ids[self.prefix_offset : self.read_offset])
        after = decode(ids[self.prefix_offset :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self.prefix_offset, self.read_offset = self.read_offset, len(ids)

    def take_text(self, final: bool) -> tuple[str, bool]:
        """(text to emit now, whether a stop string ended the output)."""
        stops = [s for s in self.params.stop if s]
        if stops:
            lookback = max(0, self.emitted - max(len(s) for s in stops))
            hits = [i for i in (self.text.find(s, lookback) for s in stops) if i >= 0]
            if hits:
                cut = min(hits)
                out = self.text[self.emitted : cut] if cut > self.emitted else ""
                self.text = self.text[:cut]
                self.emitted = len(self.text)
                return out, True
        keep = 0 if final or not stops else held_back(self.text[self.emitted :], stops)
        end = len(self.text) - keep
        out = self.text[self.emitted : end]
        self.emitted = end
        return out, False
