"""One daemon per socket: an exclusive flock held for the daemon's lifetime.

The kernel drops the lock when the process dies, even by `kill -9`, so a socket file whose
lock is free is stale and may be replaced.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_path(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".lock")


def start_lock_path(socket_path: Path) -> Path:
    """Serializes clients that start a daemon on demand (two at once give one daemon)."""
    return socket_path.with_name(socket_path.name + ".start.lock")


def token_path(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".token")


class DaemonLock:
    """Held by the running daemon; records its pid."""

    def __init__(self, socket_path: Path) -> None:
        self.path = lock_path(socket_path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when we now hold it; False when another live daemon does."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def holder_pid(socket_path: Path) -> int | None:
    """The pid of the live daemon on socket_path, or None when no daemon holds the lock."""
    path = lock_path(socket_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 64).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class FileLock:
    """A blocking exclusive flock on a file, as a context manager with a timeout."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        import time

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    message = f"could not lock {self.path} within {self.timeout:.0f} s"
                    raise TimeoutError(message) from None
                time.sleep(0.05)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
