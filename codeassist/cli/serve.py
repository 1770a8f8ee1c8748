"""`codeassist serve`: run the daemon in the foreground."""

from __future__ import annotations

import logging
import os
import sys

import typer

from codeassist.cli.common import fail
from codeassist.config import load_settings


def serve(
    model: str = typer.Option(None, "--model", help="Checkpoint folder to load ([model] path)."),
    socket: str = typer.Option(None, "--socket", help="Unix socket path ([daemon] socket)."),
    tcp: str = typer.Option(
        None, "--tcp", help="Also listen on loopback HOST:PORT (bearer token required)."
    ),
    queue_size: int = typer.Option(None, "--queue-size", help="Queued + running requests."),
    keep_alive: str = typer.Option(
        None,
        "--keep-alive",
        help="Exit after this long without requests or editors ([daemon] keep_alive): "
        "10m, 90s, 0 (after the last request), -1 (never).",
    ),
    background: bool = typer.Option(False, "--background", hidden=True),
    set_: list[str] = typer.Option([], "--set", hidden=True, help="SECTION.KEY=VALUE"),
) -> None:
    """Serve the model over an OpenAI-compatible API on a Unix socket (foreground)."""
    from codeassist.daemon.server import serve as run_server

    overrides: dict[str, object] = {
        "model.path": model,
        "daemon.socket": socket,
        "daemon.tcp": tcp,
        "daemon.queue_size": queue_size,
        "daemon.keep_alive": keep_alive,
    }
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--set {item!r} must be SECTION.KEY=VALUE.")
        overrides[key] = value
    settings = load_settings(overrides=overrides)
    code = run_server(settings, console=not background)
    # Socket, token and lock are cleaned up. What is left is the model (GPU memory, compiled
    # kernels, worker threads, possibly a load still running): the OS frees it at once, where
    # Python's teardown takes seconds, and "unloaded" should mean gone.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
