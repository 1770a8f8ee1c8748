"""`codeassist serve`: bind the sockets, load the model once, serve until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from codeassist import paths
from codeassist.config import Settings
from codeassist.daemon.app import create_app
from codeassist.daemon.auth import TcpTokenAuth, write_token
from codeassist.daemon.lock import DaemonLock, holder_pid, token_path
from codeassist.daemon.logs import setup_logging
from codeassist.daemon.scheduler import Scheduler
from codeassist.daemon.sockets import (
    bind_tcp,
    bind_unix,
    check_socket_path,
    parse_loopback,
    prepare_socket_dir,
    remove_quietly,
)
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config

log = logging.getLogger("codeassist.daemon")


def socket_path_of(settings: Settings) -> Path:
    return (
        Path(settings.daemon.socket).expanduser()
        if settings.daemon.socket
        else (paths.default_socket_path())
    )


def check_model_path(settings: Settings) -> str:
    if not settings.model.path:
        raise UserError(
            "no model to serve: pass --model PATH, or set [model] path in the config "
            "(env CODEASSIST_MODEL_PATH) to a local Gemma 4 checkpoint."
        )
    read_checkpoint_config(settings.model.path)
    return settings.model.path


class _Server(uvicorn.Server):
    """uvicorn, plus: on SIGTERM/SIGINT cancel every request so connections close at once."""

    def __init__(self, config: uvicorn.Config, scheduler: Scheduler) -> None:
        super().__init__(config)
        self._scheduler = scheduler

    def handle_exit(self, sig: int, frame: Any) -> None:
        # A signal handler must not take locks the interrupted code may hold: hand off.
        threading.Thread(target=self._scheduler.stop, name="stop", daemon=True).start()
        super().handle_exit(sig, frame)


def serve(settings: Settings, *, console: bool = True) -> int:
    """Run the daemon in this process until it is told to stop; returns the exit status."""
    model_path = check_model_path(settings)
    socket_path = socket_path_of(settings)
    tcp = parse_loopback(settings.daemon.tcp) if settings.daemon.tcp else None
    check_socket_path(socket_path)
    prepare_socket_dir(socket_path.parent)

    lock = DaemonLock(socket_path)
    if not lock.acquire():
        pid = holder_pid(socket_path)
        raise UserError(
            f"a codeassist daemon is already running on {socket_path} (pid {pid}); use it, "
            "or stop it first with `codeassist daemon stop`."
        )
    log_path = setup_logging(to_stderr=console)
    token_file = token_path(socket_path)
    exit_code = 0
    try:
        if socket_path.exists() or socket_path.is_symlink():
            log.info("replacing stale socket %s (its daemon is gone)", socket_path)
            remove_quietly(socket_path)
        listeners = [bind_unix(socket_path)]
        token = None
        if tcp is not None:
            listeners.append(bind_tcp(*tcp))
            token = write_token(token_file)

        def load_engine():
            from codeassist.engine import Engine

            log.info("loading model %s (device %s) ...", model_path, settings.engine.device)
            return Engine.load(model_path, settings.engine)

        def make_params(**kwargs: Any) -> Any:
            from codeassist.engine import SamplingParams

            return SamplingParams(**kwargs)

        failed = threading.Event()

        def on_fatal(_: BaseException) -> None:
            failed.set()
            server.should_exit = True

        scheduler = Scheduler(
            load_engine,
            make_params,
            queue_size=settings.daemon.queue_size,
            max_running=settings.daemon.max_running,
            on_fatal=on_fatal,
        )
        started = time.time()

        def info() -> dict[str, Any]:
            return {
                "model_path": model_path,
                "socket": str(socket_path),
                "tcp": f"{tcp[0]}:{tcp[1]}" if tcp else None,
                "log": str(log_path),
            }

        app: Any = create_app(
            scheduler,
            request_timeout_s=settings.daemon.request_timeout_s,
            info=info,
            started=started,
        )
        if token is not None:
            app = TcpTokenAuth(app, token)
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            ws="none",
        )
        server = _Server(config, scheduler)
        log.info(
            "codeassist daemon pid %d listening on %s%s; log %s",
            os.getpid(),
            socket_path,
            f" and http://{tcp[0]}:{tcp[1]} (token in {token_file})" if tcp else "",
            log_path,
        )
        # uvicorn re-raises the signal that stopped it once it is done; with the default
        # SIGTERM action that would kill us before the cleanup below.
        signal.signal(signal.SIGTERM, lambda *_: None)
        scheduler.start()
        server.run(sockets=listeners)
        scheduler.shutdown(timeout=10)
        if failed.is_set():
            log.error("daemon stopped: %s", scheduler.load_error)
            exit_code = 1
        else:
            log.info("daemon stopped")
    finally:
        remove_quietly(socket_path)
        remove_quietly(token_file)
        lock.release()
    return exit_code
