"""A lease on the daemon: while a language server holds one, the daemon does not unload.

The lease is one open connection (`GET /lease`) that the daemon counts as a holder. When the
editor's process ends, however it ends, the kernel closes that connection and the daemon's
keep_alive clock starts: a crashed editor never pins the GPU. The lease never starts a
daemon (the first model request does); it attaches to whichever daemon appears, re-attaches
after a restart, and reports the daemon's state (loading progress included) as it changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from codeassist.client import sse
from codeassist.client.daemon_start import check_socket_owner
from codeassist.client.daemon_status import DaemonStatus, not_running, status_from
from codeassist.client.errors import ModelUnavailable
from codeassist.config import Settings
from codeassist.daemon_files import socket_path_of

log = logging.getLogger("codeassist.client")

# How often a lease without a daemon looks for one (a stat of the socket path).
LOOK_EVERY_S = 0.5

OnStatus = Callable[[DaemonStatus], None]


class Lease:
    """Holds the daemon on socket_path from a background thread until `close()`."""

    def __init__(
        self, socket_path: Path | None, holder: str, on_status: OnStatus | None = None
    ) -> None:
        self.socket_path = socket_path
        self.holder = holder
        self._on_status = on_status
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._held = threading.Event()
        self.status: DaemonStatus | None = None
        self._thread: threading.Thread | None = None
        if socket_path is not None:
            self._thread = threading.Thread(target=self._run, name="daemon-lease", daemon=True)
            self._thread.start()

    @property
    def held(self) -> bool:
        """Whether a daemon counts this lease now."""
        return self._held.is_set()

    def wait_held(self, timeout: float) -> bool:
        return self._held.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Let go: the daemon's keep_alive clock starts now. Idempotent."""
        self._closed.set()
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the lease thread ----------------------------------------------------------------
    def _run(self) -> None:
        assert self.socket_path is not None
        while not self._closed.is_set():
            if self.socket_path.exists():
                self._hold_once(self.socket_path)
            if not self._closed.is_set() and not self.socket_path.exists():
                self._report(not_running(self.socket_path))
            self._closed.wait(LOOK_EVERY_S)

    def _hold_once(self, socket_path: Path) -> None:
        try:
            check_socket_owner(socket_path)
            transport = httpx.HTTPTransport(uds=str(socket_path))
            timeout = httpx.Timeout(None, connect=5.0)
            with (
                httpx.Client(transport=transport, timeout=timeout) as http,
                http.stream(
                    "GET", "http://codeassist/lease", params={"holder": self.holder}
                ) as response,
            ):
                if response.status_code != 200:
                    return
                self._attach(response)
                for event in sse.iter_events(response.iter_lines()):
                    if event is sse.DONE or self._closed.is_set():
                        return
                    if isinstance(event, dict):
                        self._report(status_from(event, socket_path))
        except ModelUnavailable as refused:  # a socket that is not ours: say so, never use it
            self._report(DaemonStatus("failed", str(refused)))
        except (httpx.HTTPError, ValueError, OSError) as error:
            if not self._closed.is_set():
                log.debug("daemon lease on %s dropped: %s", socket_path, error)
        finally:
            self._held.clear()
            with self._lock:
                self._sock = None

    def _attach(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock
            if self._closed.is_set() and sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._held.set()

    def _report(self, status: DaemonStatus) -> None:
        if status == self.status:
            return
        self.status = status
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                log.exception("daemon lease: on_status failed")


def hold_daemon(
    settings: Settings, *, holder: str = "", on_status: OnStatus | None = None
) -> Lease:
    """A lease on the user's daemon for as long as the caller runs (a language server).

    Returns at once and never starts a daemon. `on_status` is called from the lease's thread
    whenever the daemon's state changes. For a `[model] endpoint` other than the daemon there
    is nothing to hold: the lease does nothing.
    """
    holder = holder or f"pid {os.getpid()}"
    if settings.model.endpoint.strip() not in ("", "daemon"):
        return Lease(None, holder, on_status)
    return Lease(socket_path_of(settings), holder, on_status)
