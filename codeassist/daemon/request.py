"""One request's state as the scheduler sees it, and the updates it sends back."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from codeassist.daemon.policy import Entry
from codeassist.engine.sampling import SamplingParams  # plain data: no torch


class Priority(IntEnum):
    """Lower runs first: completion before refactor before review."""

    INTERACTIVE = 0
    NORMAL = 1
    BATCH = 2

    @classmethod
    def parse(cls, name: str) -> Priority:
        return cls[name.upper()]


@dataclass
class ChatPrompt:
    messages: list[dict[str, str]]
    enable_thinking: bool = False

    @property
    def chars(self) -> int:
        return sum(len(message["content"]) for message in self.messages)


@dataclass
class TextPrompt:
    text: str  # already rendered; may hold special tokens

    @property
    def chars(self) -> int:
        return len(self.text)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0


@dataclass
class Update:
    """What the engine thread hands to the HTTP side: new text, or the end of the request."""

    text: str = ""
    finished: bool = False
    finish_reason: str | None = None  # stop | length | cancelled | error | timeout
    error: str | None = None
    status: int = 200  # HTTP status matching the error
    usage: Usage | None = None


_arrivals = itertools.count()


@dataclass(eq=False)
class Job:
    """A request waiting for or holding a sequence in the engine."""

    prompt: ChatPrompt | TextPrompt
    sampling: SamplingParams
    priority: Priority
    sink: Callable[[Update], None]  # called from the engine thread; must be thread-safe
    deadline: float  # time.monotonic() after which the request is stopped
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    arrival: int = field(default_factory=lambda: next(_arrivals))
    created: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)
    prompt_ids: list[int] | None = None  # set by the tokenizer thread
    need: int = 0  # K/V tokens its first step reserves (engine.kv_tokens_needed)
    started: bool = False  # it had its first step: its K/V is reserved
    # Owned by the engine thread once admitted:
    seq: Any = None
    usage: Usage = field(default_factory=Usage)
    first_token_at: float | None = None
    yields: int = 0  # times a higher-priority request ran while this one held a sequence

    @property
    def order(self) -> tuple[int, int]:
        return (int(self.priority), self.arrival)

    @property
    def entry(self) -> Entry:
        """This job as the scheduling policy sees it."""
        return Entry(
            key=self.arrival, priority=int(self.priority), arrival=self.arrival, need=self.need
        )
