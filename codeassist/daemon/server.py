"""`codeassist serve`: bind the sockets, load the model once, serve until told to stop or idle.

The daemon stops on SIGTERM/SIGINT (at any moment, even before it serves: the handler is
installed before the socket exists) and after `[daemon] keep_alive` with nothing to do. Either
way it ends every answer in flight with a last event, and removes its socket and token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import uvicorn

from codeassist.config import Settings
from codeassist.daemon.answers import Shutdown
from codeassist.daemon.app import create_app
from codeassist.daemon.auth import TcpTokenAuth, write_token
from codeassist.daemon.keep_alive import IdleClock, describe, parse_keep_alive
from codeassist.daemon.logs import setup_logging
from codeassist.daemon.scheduler import Progress, Scheduler
from codeassist.daemon.sockets import (
    bind_tcp,
    bind_unix,
    check_socket_path,
    parse_loopback,
    remove_quietly,
)
from codeassist.daemon_files import (
    DaemonLock,
    holder_pid,
    prepare_socket_dir,
    socket_path_of,
    token_path,
)
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config

log = logging.getLogger("codeassist.daemon")

IDLE_CHECK_S = 0.2
# After the socket file is gone, connections already queued on it are still served: this long.
DRAIN_S = 0.3


def check_model_path(settings: Settings) -> str:
    if not settings.model.path:
        raise UserError(
            "no model to serve: pass --model PATH, or set [model] path in the config "
            "(env CODEASSIST_MODEL_PATH) to a local Gemma 4 checkpoint."
        )
    read_checkpoint_config(settings.model.path)
    return settings.model.path


def keep_alive_of(settings: Settings) -> float | None:
    where = settings.source_of("daemon.keep_alive")
    try:
        return parse_keep_alive(settings.daemon.keep_alive, f"[daemon] keep_alive ({where})")
    except ValueError as error:
        raise UserError(str(error)) from None


class _Signals:
    """SIGTERM/SIGINT from the first instant: recorded, then acted on wherever we are."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.server: _Server | None = None
        self.scheduler: Scheduler | None = None

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, sig: int, frame: Any) -> None:
        again = self.received is not None
        self.received = sig
        if self.scheduler is not None and not again:
            # A signal handler must not take locks the interrupted code may hold: hand off.
            threading.Thread(target=self.scheduler.stop, name="stop", daemon=True).start()
        if self.server is not None:
            self.server.stop_for(f"stopped by {signal.Signals(sig).name}", force=again)


class _Server(uvicorn.Server):
    """uvicorn, plus: our own signal handling, the idle watch, and a clean end for streams."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        clock: IdleClock,
        shutdown: Shutdown,
        socket_path: Path,
        loaded: Callable[[], bool],
    ) -> None:
        super().__init__(config)
        self._clock = clock
        self._loaded = loaded
        self._shutdown = shutdown
        self._socket_path = socket_path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reason: str | None = None
        self._watch: asyncio.Task | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # ours are installed for the process's whole life (_Signals)

    def stop_for(self, reason: str, *, force: bool = False) -> None:
        """Stop serving (safe from a signal handler)."""
        self._reason = self._reason or reason
        self.should_exit = True
        self.force_exit = self.force_exit or force
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._shutdown.begin, self._reason)

    @property
    def reason(self) -> str | None:
        return self._reason

    async def startup(self, sockets: list | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        if self._reason is not None:
            self._shutdown.begin(self._reason)
        await super().startup(sockets=sockets)
        self._watch = asyncio.create_task(self._watch_idle(), name="idle-watch")

    async def shutdown(self, sockets: list | None = None) -> None:
        self._shutdown.begin(self._reason or "stopping")  # leases and streams end now
        if self._watch is not None:
            self._watch.cancel()
        await super().shutdown(sockets=sockets)

    def _answering(self) -> bool:
        """Whether a connection is in the middle of a request. Idle keep-alive connections
        are not: a client's pool would otherwise hold the daemon for uvicorn's keep-alive."""
        for connection in self.server_state.connections:
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not getattr(cycle, "response_complete", False):
                return True
        return False

    async def _watch_idle(self) -> None:
        clock = self._clock
        while not self.should_exit:
            await asyncio.sleep(IDLE_CHECK_S)
            if not clock.loaded and self._loaded():
                clock.ready(time.monotonic())
            if not clock.due(time.monotonic()) or self._answering():
                continue
            reason = (
                f"idle for {describe(clock.wait_s)} (keep_alive) with no request and no "
                "editor holding it"
            )
            log.info("unloading the model and exiting: %s", reason)
            # New clients find no socket and start a fresh daemon once this one is gone;
            # those already queued on the socket are served first.
            remove_quietly(self._socket_path)
            await asyncio.sleep(DRAIN_S)
            while clock.requests:
                await asyncio.sleep(IDLE_CHECK_S)
            self.stop_for(reason)
            return


def _model_label(model_path: str) -> str:
    """The name the daemon serves under (the engine reports the same once loaded)."""
    path = Path(model_path).expanduser()
    return path.name if path.exists() else model_path


def serve(settings: Settings, *, console: bool = True) -> int:
    """Run the daemon in this process until it is told to stop; returns the exit status."""
    signals = _Signals()
    signals.install()
    model_path = check_model_path(settings)
    keep_alive_s = keep_alive_of(settings)
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

        def load_engine(progress: Progress) -> Any:
            from codeassist.engine import Engine

            log.info("loading model %s (device %s) ...", model_path, settings.engine.device)
            return Engine.load(model_path, settings.engine, progress=progress)

        failed = threading.Event()

        def on_fatal(_: BaseException) -> None:
            failed.set()
            server.stop_for("the model failed to load")

        scheduler = Scheduler(
            load_engine,
            queue_size=settings.daemon.queue_size,
            max_running=settings.daemon.max_running,
            keep_tokens=settings.completion.budget_tokens + settings.completion.max_tokens,
            on_fatal=on_fatal,
        )
        signals.scheduler = scheduler
        started = time.time()
        clock = IdleClock(keep_alive_s=keep_alive_s, last_active=time.monotonic())
        shutdown = Shutdown()

        def info() -> dict[str, Any]:
            return {
                "model_path": model_path,
                "socket": str(socket_path),
                "tcp": f"{tcp[0]}:{tcp[1]}" if tcp else None,
                "log": str(log_path),
            }

        app: Any = create_app(
            scheduler,
            clock=clock,
            shutdown=shutdown,
            request_timeout_s=settings.daemon.request_timeout_s,
            model_label=_model_label(model_path),
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
        server = _Server(
            config,
            clock=clock,
            shutdown=shutdown,
            socket_path=socket_path,
            loaded=lambda: scheduler.state == "ready",
        )
        signals.server = server
        log.info(
            "codeassist daemon pid %d listening on %s%s; keep_alive %s; log %s",
            os.getpid(),
            socket_path,
            f" and http://{tcp[0]}:{tcp[1]} (token in {token_file})" if tcp else "",
            describe(keep_alive_s),
            log_path,
        )
        if signals.received is not None:
            server.stop_for(f"stopped by {signal.Signals(signals.received).name}")
        else:
            scheduler.start()
            server.run(sockets=listeners)
        # A load cannot be interrupted: do not wait for one (the process exits around it).
        scheduler.shutdown(timeout=0.5 if scheduler.state == "loading" else 10)
        for listener in listeners:
            listener.close()
        if failed.is_set():
            log.error("daemon stopped: %s", scheduler.load_error)
            exit_code = 1
        else:
            log.info("daemon stopped: %s", server.reason or "stopped")
    finally:
        remove_quietly(socket_path)
        remove_quietly(token_file)
        lock.release()
    return exit_code
