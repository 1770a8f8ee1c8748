"""How long the daemon keeps its model after the last request: durations and the idle clock.

A daemon started on demand holds a GPU's memory. After `[daemon] keep_alive` with no request,
no request in flight and no language server holding a lease, it unloads by exiting (the next
client starts it again). As in Ollama, each request may carry its own `keep_alive`, which sets
the wait after that request; `0` exits right after it, a negative value never.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# A daemon that has served nothing yet waits at least this long: the client that started it
# sends its first request once the model is ready, and keep_alive 0 must not beat it to it.
FIRST_REQUEST_GRACE_S = 10.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_keep_alive(value: str | float | int, what: str = "keep_alive") -> float | None:
    """Seconds to wait from a duration ("10m", "90s", "1h30m", 300, "0"); None means never.

    A bare number is seconds (as Ollama's API reads numbers); any negative value is never.
    Raises ValueError naming `what` and the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(_bad(what, value))
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        sign = -1.0 if text.startswith("-") else 1.0
        body = text[1:] if text[:1] in "+-" and text else text
        if re.fullmatch(r"\d+(?:\.\d+)?", body):
            seconds = sign * float(body)
        elif re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+", body):
            seconds = sign * sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(body))
        else:
            raise ValueError(_bad(what, value))
    if not math.isfinite(seconds):
        raise ValueError(_bad(what, value))
    return None if seconds < 0 else seconds


def _bad(what: str, value: object) -> str:
    return (
        f"{what} {value!r} is not a duration; give seconds (300), or a number with a unit "
        "(90s, 10m, 1h), 0 to unload right after the last request, or -1 to never unload."
    )


def describe(seconds: float | None) -> str:
    """A duration as a person reads it: "never", "0 s", "45 s", "10 min", "1 h 30 min"."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds:g} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


@dataclass
class IdleClock:
    """When the daemon may unload: pure bookkeeping; the caller passes the time.

    `wait_s` starts as the daemon's setting; each finished request sets it to its own
    `keep_alive` or, when it sent none, back to the setting (None: never). The clock starts
    when the model is ready (`ready`): loading is not idleness.
    """

    keep_alive_s: float | None  # [daemon] keep_alive
    last_active: float
    requests: int = 0  # in flight now
    leases: int = 0  # language servers holding the daemon
    wait_s: float | None = 0.0
    loaded: bool = False
    served: int = 0  # requests finished

    def __post_init__(self) -> None:
        self.wait_s = self.keep_alive_s

    def ready(self, now: float) -> None:
        """The model is loaded: idle time counts from now."""
        self.loaded = True
        self.last_active = max(self.last_active, now)

    def request_started(self, now: float) -> None:
        self.requests += 1
        self.last_active = now

    def request_finished(self, now: float, wait_s: float | None) -> None:
        self.requests = max(0, self.requests - 1)
        self.last_active = now
        self.wait_s = wait_s
        self.served += 1

    def lease_opened(self) -> None:
        self.leases += 1

    def lease_closed(self, now: float) -> None:
        self.leases = max(0, self.leases - 1)
        if self.leases == 0:
            self.last_active = max(self.last_active, now)  # keep_alive counts from now

    def busy(self) -> bool:
        return self.requests > 0 or self.leases > 0

    def idle_s(self, now: float) -> float:
        """Seconds since the last request ended (0 while one runs or an editor holds on)."""
        return 0.0 if self.busy() else max(0.0, now - self.last_active)

    def unload_at(self) -> float | None:
        """The monotonic time at which to unload, or None (loading, busy, held, or never)."""
        if not self.loaded or self.busy() or self.wait_s is None:
            return None
        wait = self.wait_s if self.served else max(self.wait_s, FIRST_REQUEST_GRACE_S)
        return self.last_active + wait

    def due(self, now: float) -> bool:
        at = self.unload_at()
        return at is not None and now >= at
