"""Polling until something a test started (a process, a server, a file) reaches a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout: float, step: float = 0.05) -> bool:
    """Whether predicate() turned true within timeout seconds (checked every step)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


async def wait_until_async(
    predicate: Callable[[], Any], timeout: float, step: float = 0.05
) -> bool:
    """wait_until for a test on an event loop (the loop keeps running meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())
