"""Which requests run next: plain functions over plain data; the scheduler carries them out.

- Strict priority across classes (interactive before normal before batch), first come first
  served within a class.
- Admission: waiting requests take free sequence slots (the engine's K/V rows), most urgent
  first. The last `reserve` slots only take interactive requests, so reviews holding every
  other slot never keep a completion waiting for minutes (a slot cannot be taken back from a
  running sequence without losing its work). With the K/V `room` left (of `total`), a request
  starts only when what it reserves (`need`) fits, and a non-interactive one must leave `keep`
  tokens for a completion (unless it needs so much that it can only ever run alone); nobody
  starts ahead of a more urgent or older request that is waiting for room.
- Stepping: the running requests of the most urgent class present advance together in one
  batched step (oldest first, up to `max_batch`); the less urgent sit the step out. Deciding
  again before every step is what lets a review yield to a newly arrived completion between two
  decode steps and resume from its own KV cache afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INTERACTIVE = 0  # the most urgent class (codeassist.daemon.request.Priority.INTERACTIVE)


@dataclass(frozen=True)
class Entry:
    """One request as the policy sees it."""

    key: int  # unique per request
    priority: int  # lower runs first
    arrival: int  # lower arrived first
    need: int = 0  # K/V tokens its first step reserves

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.arrival)


def admit(
    waiting: Sequence[Entry],
    running: Sequence[Entry],
    capacity: int,
    reserve: int = 0,
    *,
    room: int | None = None,
    keep: int = 0,
    total: int | None = None,
) -> list[Entry]:
    """The waiting requests to start now, most urgent first: at most `capacity` run at once,
    only interactive ones take the last `reserve` slots, and (when `room` is known) each fits
    in it, non-interactive ones with `keep` tokens to spare when `total` allows that at all."""
    live = len(running)
    taken: list[Entry] = []
    for entry in sorted(waiting, key=lambda e: e.order):
        interactive = entry.priority == INTERACTIVE
        if live >= (capacity if interactive else capacity - reserve):
            break  # everything after it is as urgent or less: no slot for them either
        if room is not None:
            spare = keep if not interactive and (total is None or entry.need + keep <= total) else 0
            if entry.need + spare > room:
                break  # it waits for room, and nothing less urgent or younger goes first
            room -= entry.need
        taken.append(entry)
        live += 1
    return taken


def reserve_for(capacity: int) -> int:
    """Slots kept for interactive requests: one, when there are at least two."""
    return 1 if capacity >= 2 else 0


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
