"""`codeassist daemon start|stop|status`: the user's one background daemon."""

from __future__ import annotations

import json
import time

import typer

from codeassist.cli.common import err_console, fail
from codeassist.config import load_settings

app = typer.Typer(
    help="The background daemon that holds the model: start, stop, status.", no_args_is_help=True
)


def _settings(model: str | None, socket: str | None, keep_alive: str | None = None):
    overrides = {"model.path": model, "daemon.socket": socket, "daemon.keep_alive": keep_alive}
    return load_settings(overrides=overrides)


def _describe(health: dict) -> str:
    queue = health.get("queue") or {}
    device = f" on {health['device']}" if health.get("device") else ""
    return (
        f"{health.get('status')}: model {health.get('model') or health.get('model_path')}"
        f"{device}, pid {health.get('pid')}, socket {health.get('socket')}, "
        f"{queue.get('running', 0)} running / {queue.get('waiting', 0)} waiting, "
        f"log {health.get('log')}"
    )


def describe_keep_alive(health: dict) -> str:
    """When the daemon unloads, in words, from its /health."""
    keep_alive = health.get("keep_alive", "?")
    leases = int(health.get("leases") or 0)
    if health.get("state") == "stopping":
        return f"stopping: {health.get('message', '')}"
    if int(health.get("requests_in_flight") or 0):
        return (
            f"busy: {health['requests_in_flight']} request(s) in flight (keep_alive {keep_alive})"
        )
    if leases:
        editors = "1 editor" if leases == 1 else f"{leases} editors"
        return f"kept loaded by {editors}; unloads {keep_alive} after the last one closes"
    idle = _duration(float(health.get("idle_s") or 0.0))
    unload_in = health.get("unload_in_s")
    if unload_in is None:
        return f"idle {idle}; never unloads (keep_alive {keep_alive})"
    return f"idle {idle}; unloads in {_duration(float(unload_in))} (keep_alive {keep_alive})"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@app.command("start")
def start(
    model: str = typer.Option(None, "--model", help="Checkpoint folder ([model] path)."),
    socket: str = typer.Option(None, "--socket", help="Unix socket path ([daemon] socket)."),
    keep_alive: str = typer.Option(
        None,
        "--keep-alive",
        help="Exit after this long without requests or editors ([daemon] keep_alive): "
        "10m, 90s, 0 (after the last request), -1 (never).",
    ),
) -> None:
    """Start the daemon in the background (if it is not running) and wait for its model."""
    from codeassist.client.daemon_start import ensure_daemon, read_health, socket_path_of

    settings = _settings(model, socket, keep_alive)
    socket_path = socket_path_of(settings)
    health = read_health(socket_path)
    if health is not None and health.get("status") == "ok":
        typer.echo(f"already running: {_describe(health)}")
        return
    started = time.monotonic()
    with err_console.status("starting the codeassist daemon ...") as status:
        health = ensure_daemon(settings, wait_ready=False)
        while health.get("status") == "loading":
            what = health.get("message") or f"loading model {health.get('model_path')}"
            status.update(f"{what} ... {time.monotonic() - started:.0f} s")
            time.sleep(0.25)
            health = read_health(socket_path) or {"status": "gone"}
    if health.get("status") != "ok":
        fail(
            f"the daemon did not become ready ({health.get('status')}: "
            f"{health.get('error', 'it exited')}); see the daemon log {health.get('log', '')}."
        )
    typer.echo(f"ready in {time.monotonic() - started:.1f} s: {_describe(health)}")


@app.command("stop")
def stop(
    socket: str = typer.Option(None, "--socket", help="Unix socket path ([daemon] socket)."),
) -> None:
    """Stop the daemon (SIGTERM: running requests are cancelled, the socket removed)."""
    from codeassist.client.daemon_start import socket_path_of, stop_daemon

    socket_path = socket_path_of(_settings(None, socket))
    pid = stop_daemon(socket_path)
    if pid is None:
        typer.echo(f"no daemon is running on {socket_path}")
    else:
        typer.echo(f"stopped daemon pid {pid} on {socket_path}")


@app.command("status")
def status(
    socket: str = typer.Option(None, "--socket", help="Unix socket path ([daemon] socket)."),
    as_json: bool = typer.Option(False, "--json", help="Print /health as JSON."),
) -> None:
    """Whether the daemon runs: model, queue, idle time, when it unloads (exit 1: it does not)."""
    from codeassist.client.daemon_start import read_health, socket_path_of

    socket_path = socket_path_of(_settings(None, socket))
    health = read_health(socket_path)
    if health is None:
        if as_json:
            typer.echo(json.dumps({"status": "not running", "socket": str(socket_path)}))
        else:
            typer.echo(f"not running (socket {socket_path})")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(health, indent=2))
        return
    typer.echo(_describe(health))
    if health.get("state") == "loading":
        typer.echo(health.get("message", "loading"))
    elif "idle_s" in health:
        typer.echo(describe_keep_alive(health))
    engine = health.get("engine")
    if engine:
        typer.echo("engine: " + ", ".join(f"{k}={v}" for k, v in engine.items()))
