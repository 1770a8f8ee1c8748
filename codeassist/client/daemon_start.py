"""Finding, starting (on demand, once) and stopping the user's daemon from outside it."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from codeassist.client.errors import ModelUnavailable
from codeassist.config import Settings
from codeassist.daemon_files import (
    FileLock,
    holder_pid,
    log_file,
    prepare_socket_dir,
    socket_path_of,
    start_lock_path,
    stderr_file,
)
from codeassist.errors import UserError

__all__ = [
    "check_socket_owner",
    "ensure_daemon",
    "read_health",
    "socket_path_of",
    "spawn_daemon",
    "stop_daemon",
]

# Settings a spawned daemon must share with the client that started it.
FORWARDED_SECTIONS = ("engine.", "daemon.")


def check_socket_owner(socket_path: Path) -> None:
    """Refuse a socket that another user could have put there."""
    try:
        info = socket_path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ModelUnavailable(
            f"{socket_path} is not a socket; remove it or set [daemon] socket to another path."
        )
    if info.st_uid != os.getuid():
        raise ModelUnavailable(
            f"daemon socket {socket_path} belongs to uid {info.st_uid}, not to you "
            f"(uid {os.getuid()}); refusing to connect. Remove it, or set [daemon] socket "
            "to a path in a directory only you can write."
        )


def read_health(socket_path: Path, timeout: float = 2.0) -> dict[str, Any] | None:
    """The daemon's /health, or None when nothing answers on the socket."""
    check_socket_owner(socket_path)
    if not socket_path.exists():
        return None
    transport = httpx.HTTPTransport(uds=str(socket_path))
    try:
        with httpx.Client(transport=transport, timeout=timeout) as http:
            response = http.get("http://codeassist/health")
            return response.json()
    except (httpx.TransportError, ValueError):
        return None


def _serve_command(settings: Settings, socket_path: Path) -> list[str]:
    command = [sys.executable, "-m", "codeassist.cli.main", "serve", "--background"]
    command += ["--socket", str(socket_path), "--model", settings.model.path]
    for dotted, value, source in settings.items():
        if source != "default" and dotted.startswith(FORWARDED_SECTIONS):
            if dotted in ("daemon.socket",):
                continue
            command += ["--set", f"{dotted}={value}"]
    return command


def spawn_daemon(settings: Settings, socket_path: Path) -> subprocess.Popen:
    """Start `codeassist serve` detached from this process (its own session)."""
    errors = stderr_file()
    errors.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(errors, "wb") as sink:
        process = subprocess.Popen(
            _serve_command(settings, socket_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
            close_fds=True,
        )
    # We are its parent for as long as we live (a language server: all day): collect its exit
    # status whenever it ends (`daemon stop`, idle unload), or it would linger as a zombie.
    threading.Thread(target=process.wait, name="daemon-reaper", daemon=True).start()
    return process


def _last_error_line() -> str:
    with contextlib.suppress(OSError):
        lines = [ln.strip() for ln in stderr_file().read_text(errors="replace").splitlines()]
        lines = [ln for ln in lines if ln]
        if lines:
            return lines[-1]
    return "no message"


def _usable(health: dict[str, Any] | None, wait_ready: bool) -> bool:
    if health is None:
        return False
    status = health.get("status")
    return status == "ok" or (status == "loading" and not wait_ready)


def ensure_daemon(settings: Settings, *, wait_ready: bool = True) -> dict[str, Any]:
    """The health of the user's daemon, starting it first when none runs.

    A lock serializes starters, so two clients starting at once give one daemon. A daemon on
    its way out (idle unload, `daemon stop`) is waited for, then replaced.
    """
    socket_path = socket_path_of(settings)
    health = read_health(socket_path)
    if _usable(health, wait_ready):
        return health  # type: ignore[return-value]
    timeout = settings.daemon.start_timeout_s
    try:
        prepare_socket_dir(socket_path.parent)
        with FileLock(start_lock_path(socket_path), timeout):
            return _start_or_wait(settings, socket_path, timeout, wait_ready)
    except TimeoutError:
        raise ModelUnavailable(
            f"another client has been starting the daemon on {socket_path} for over "
            f"{timeout:.0f} s; check `codeassist daemon status` and the log {log_file()}."
        ) from None
    except ModelUnavailable:
        raise
    except UserError as error:
        raise ModelUnavailable(f"cannot start the codeassist daemon: {error}") from None


def _start_or_wait(
    settings: Settings, socket_path: Path, timeout: float, wait_ready: bool
) -> dict[str, Any]:
    """Under the start lock: wait for the daemon there, or start one when none holds the
    socket's lock (none ran, or the last one has just exited)."""
    deadline = time.monotonic() + timeout
    process: subprocess.Popen | None = None
    while time.monotonic() < deadline:
        health = read_health(socket_path)
        if _usable(health, wait_ready):
            return health  # type: ignore[return-value]
        if health is not None and health.get("status") == "failed":
            raise ModelUnavailable(
                f"the codeassist daemon on {socket_path} could not load its model: "
                f"{health.get('error')}. Fix [model] path, then retry (log: {log_file()})."
            )
        if process is not None and process.poll() is not None:
            raise ModelUnavailable(
                f"the codeassist daemon exited during start (status {process.returncode}): "
                f"{_last_error_line()} (see {stderr_file()} and {log_file()})."
            )
        if process is None and health is None and holder_pid(socket_path) is None:
            if not settings.model.path:
                raise ModelUnavailable(
                    f"no codeassist daemon runs on {socket_path} and none can be started: "
                    "no model is configured. Set [model] path (env CODEASSIST_MODEL_PATH) "
                    "to a local Gemma 4 checkpoint, or set [model] endpoint to an "
                    "OpenAI-compatible server URL."
                )
            process = spawn_daemon(settings, socket_path)
        time.sleep(0.05)
    raise ModelUnavailable(
        f"the codeassist daemon on {socket_path} was not ready within {timeout:.0f} s; "
        f"see {log_file()}, or raise [daemon] start_timeout_s for a large model."
    )


def stop_daemon(socket_path: Path, timeout: float = 30.0) -> int | None:
    """SIGTERM the daemon on socket_path and wait until it is gone; its pid, or None."""
    pid = holder_pid(socket_path)
    if pid is None or pid <= 0:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while holder_pid(socket_path) is not None:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    return pid
