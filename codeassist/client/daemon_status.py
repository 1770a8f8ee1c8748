"""The daemon's state as a client shows it: not running, loading (with progress), ready..."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeassist.client.daemon_start import read_health
from codeassist.client.errors import ModelUnavailable
from codeassist.config import Settings
from codeassist.daemon_files import socket_path_of

STATES = ("not_running", "loading", "ready", "failed", "stopping")


@dataclass(frozen=True)
class DaemonStatus:
    state: str  # one of STATES
    message: str  # the full human text
    progress: float | None = None  # 0..1 while loading
    pid: int | None = None
    idle_s: float | None = None
    unload_in_s: float | None = None  # None: not due (busy, held by an editor, or never)


def not_running(socket_path: Path) -> DaemonStatus:
    return DaemonStatus(
        "not_running",
        f"the codeassist daemon is not running on {socket_path}; the next request starts it",
    )


def status_from(fields: dict[str, Any], socket_path: Path) -> DaemonStatus:
    """From /health or a lease event (both carry `state`, `progress`, `message`)."""
    state = fields.get("state")
    if state not in STATES:
        # A daemon from before `state` existed: its `status` says as much.
        state = {"ok": "ready", "loading": "loading", "failed": "failed"}.get(
            str(fields.get("status")), "stopping"
        )
    progress = fields.get("progress")
    message = fields.get("message") or f"the codeassist daemon on {socket_path} is {state}"
    return DaemonStatus(
        state=state,
        message=str(message),
        progress=float(progress) if isinstance(progress, int | float) else None,
        pid=fields.get("pid") if isinstance(fields.get("pid"), int) else None,
        idle_s=fields.get("idle_s"),
        unload_in_s=fields.get("unload_in_s"),
    )


def daemon_status(settings: Settings) -> DaemonStatus:
    """The daemon's state now; starts nothing, takes milliseconds."""
    socket_path = socket_path_of(settings)
    try:
        health = read_health(socket_path)
    except ModelUnavailable as refused:  # a socket that is not ours
        return DaemonStatus("failed", str(refused))
    return not_running(socket_path) if health is None else status_from(health, socket_path)
