"""Which requests run next: plain functions over plain data; the scheduler carries them out.

- Strict priority across classes (interactive before normal before batch), first come first
  served within a class.
- Admission: waiting requests take free sequence slots, most urgent first. Beyond
  `max_running` a request is still admitted when nothing running is as urgent as it, so eight
  reviews holding every slot never keep a completion waiting for minutes.
- Stepping: the running requests of the most urgent class present advance together in one
  batched step (oldest first, up to `max_batch`); the less urgent sit the step out. Deciding
  again before every step is what lets a review yield to a newly arrived completion between two
  decode steps and resume from its own KV cache afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One request as the policy sees it."""

    key: int  # unique per request
    priority: int  # lower runs first
    arrival: int  # lower arrived first

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.arrival)


def admit(waiting: Sequence[Entry], running: Sequence[Entry], max_running: int) -> list[Entry]:
    """The waiting requests to start now, most urgent first."""
    live = list(running)
    taken: list[Entry] = []
    for entry in sorted(waiting, key=lambda e: e.order):
        free = len(live) < max_running
        most_urgent = all(other.priority > entry.priority for other in live)
        if free or most_urgent:
            taken.append(entry)
            live.append(entry)
    return taken


def batch(running: Sequence[Entry], max_batch: int) -> list[Entry]:
    """The running requests to advance in the next step: the most urgent class, oldest first."""
    if not running:
        return []
    top = min(entry.priority for entry in running)
    chosen = sorted((e for e in running if e.priority == top), key=lambda e: e.arrival)
    return chosen[: max(1, max_batch)]


def yielding(running: Sequence[Entry], stepped: Sequence[Entry]) -> list[Entry]:
    """The running requests that sit out a step because something more urgent runs."""
    keys = {entry.key for entry in stepped}
    top = min((entry.priority for entry in stepped), default=None)
    return [e for e in running if e.key not in keys and top is not None and e.priority > top]
