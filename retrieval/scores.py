"""Scores of definitions as ranking signals add to them, and the ranked result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Ranked:
    """A ranked definition."""

    path: str
    index: int  # into the file's defs
    score: float
    reasons: list[str] = field(default_factory=list)
    body: bool = False  # the whole span is wanted even at a small budget
    outline: bool = False  # a class wanted as an outline (the receiver's, or a base)


class Scores:
    """Scores of (path, def index) as the signals add to them; excluded files never score."""

    def __init__(self, excluded: set[str], explain: bool) -> None:
        self.excluded = excluded
        self.explain = explain
        self.by_def: dict[tuple[str, int], Ranked] = {}
        self.factor = 1.0  # applied to every bump while set (see rank_definitions)

    def bump(
        self, path: str, i: int, s: float, why: str, body: bool = False, outline: bool = False
    ) -> None:
        """Add s to definition i of path (why: the reason shown with --explain)."""
        s *= self.factor
        if s <= 0 or path in self.excluded:
            return
        key = (path, i)
        r = self.by_def.get(key)
        if r is None:
            r = self.by_def[key] = Ranked(path, i, 0.0)
        r.score += s
        if body:
            r.body = True
        if outline:
            r.outline = True
        if self.explain:
            r.reasons.append(f"{why} (+{s:.2f})")

    def scale(self, keep: Callable[[str], bool], factor: float, why: str) -> None:
        """Multiply the scores of definitions in files `keep` does not accept by factor."""
        for r in self.by_def.values():
            if not keep(r.path):
                r.score *= factor
                if self.explain:
                    r.reasons.append(f"{why} (x{factor:g})")

    def best(self, n: int) -> list[Ranked]:
        """The n best so far."""
        return sorted(self.by_def.values(), key=lambda r: -r.score)[:n]

    def ranked(self) -> list[Ranked]:
        """Everything scored, best first (ties: in the order first scored)."""
        return sorted(self.by_def.values(), key=lambda r: -r.score)
