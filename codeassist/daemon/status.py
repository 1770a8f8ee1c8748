"""What the daemon tells clients about itself: its state in words, and when it will unload.

Pure: /health and the lease stream both send these fields, from plain values.
"""

from __future__ import annotations

from typing import Any

from codeassist.daemon.keep_alive import IdleClock, describe

# Scheduler states as clients see them ("ok" is /health's historical name for ready).
STATUS_OF_STATE = {"ready": "ok"}


def state_fields(
    *,
    state: str,
    model: str,
    device: str | None,
    progress: tuple[float, str],
    error: str | None,
    stopping: str | None,
) -> dict[str, Any]:
    """`state` (loading | ready | failed | stopping), `progress` while loading, `message`."""
    if stopping is not None:
        return {"state": "stopping", "progress": None, "message": stopping}
    if state == "loading":
        fraction, step = progress
        return {
            "state": "loading",
            "progress": round(fraction, 3),
            "message": f"loading model {model}: {step} ({fraction:.0%})",
        }
    if state == "ready":
        return {"state": "ready", "progress": None, "message": f"model {model} ready on {device}"}
    if state == "failed":
        return {
            "state": "failed",
            "progress": None,
            "message": f"the model {model} failed to load: {error}",
        }
    return {"state": "stopping", "progress": None, "message": "the daemon is stopping"}


def keep_alive_fields(clock: IdleClock, now: float) -> dict[str, Any]:
    """Idle time, the wait that applies, and seconds until the daemon unloads (None: not due)."""
    at = clock.unload_at()
    return {
        "idle_s": round(clock.idle_s(now), 1),
        "keep_alive_s": clock.wait_s,
        "keep_alive": describe(clock.wait_s),
        "unload_in_s": None if at is None else round(max(0.0, at - now), 1),
        "leases": clock.leases,
        "requests_in_flight": clock.requests,
    }
