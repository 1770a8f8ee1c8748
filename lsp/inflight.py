"""One live completion per document: a newer request supersedes the older one."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Ticket:
    """A request's cancellation: wakes its debounce wait and stops its model call."""

    def __init__(self) -> None:
        self.event = threading.Event()  # passed to the model client
        self.reason = ""  # why it was cancelled: "superseded", "stale", ...
        self._wake = asyncio.Event()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        if not self.event.is_set():
            self.reason = reason
        self.event.set()
        self._wake.set()

    async def sleep(self, seconds: float) -> bool:
        """Wait up to seconds; True if cancelled meanwhile (or before)."""
        if seconds > 0 and not self.cancelled:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        return self.cancelled


class Inflight:
    """The live ticket per document."""

    def __init__(self) -> None:
        self._live: dict[str, Ticket] = {}
        self.superseded = 0

    def start(self, key: str) -> Ticket:
        """A ticket for a new request on key; the previous one (if live) is cancelled."""
        previous = self._live.get(key)
        if previous is not None and not previous.cancelled:
            previous.cancel("superseded")
            self.superseded += 1
        ticket = self._live[key] = Ticket()
        return ticket

    def finish(self, key: str, ticket: Ticket) -> None:
        if self._live.get(key) is ticket:
            del self._live[key]

    def cancel(self, key: str, reason: str) -> None:
        """Cancel the live request on key, if any (e.g. its document changed or closed)."""
        ticket = self._live.pop(key, None)
        if ticket is not None:
            ticket.cancel(reason)
