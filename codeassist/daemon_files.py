"""The daemon's files on disk, shared by the daemon and by the clients that start it.

Where its socket, lock, token, log and start-up output live; the exclusive lock a running daemon
holds (one daemon per socket); the lock that serializes clients starting one; and the private
directory the socket sits in. Neither side imports the other: both import this.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

from codeassist import paths
from codeassist.config import Settings
from codeassist.errors import UserError


def socket_path_of(settings: Settings) -> Path:
    """The daemon's Unix socket: `[daemon] socket`, else the default under the runtime dir."""
    if settings.daemon.socket:
        return Path(settings.daemon.socket).expanduser()
    return paths.default_socket_path()


def lock_path(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".lock")


def start_lock_path(socket_path: Path) -> Path:
    """Serializes clients that start a daemon on demand (two at once give one daemon)."""
    return socket_path.with_name(socket_path.name + ".start.lock")


def token_path(socket_path: Path) -> Path:
    """The bearer token of the optional TCP listener."""
    return socket_path.with_name(socket_path.name + ".token")


def log_file() -> Path:
    """The daemon's rotating log."""
    return paths.state_dir() / "daemon.log"


def stderr_file() -> Path:
    """What a daemon started in the background printed (its start-up errors)."""
    return paths.state_dir() / "daemon.stderr"


def prepare_socket_dir(directory: Path) -> None:
    """Create the socket's directory 0700, or check that an existing one is private to us."""
    if not directory.exists():
        old = os.umask(0o077)
        try:
            directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        finally:
            os.umask(old)
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UserError(
            f"socket directory {directory} is not a directory; choose another --socket."
        )
    if info.st_uid != os.getuid():
        raise UserError(
            f"socket directory {directory} belongs to uid {info.st_uid}, not to you; "
            "choose a --socket path in a directory you own."
        )
    if info.st_mode & 0o077 and not info.st_mode & 0o022:
        # Ours and never writable by others (e.g. made 0755 by an earlier tool): nobody else
        # could have put anything in it, so closing it is safe.
        os.chmod(directory, 0o700)
        info = directory.stat()
    if info.st_mode & 0o077:
        raise UserError(
            f"socket directory {directory} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 700 {directory}` "
            "or choose a --socket path in a private directory."
        )


class DaemonLock:
    """Held by the running daemon for its lifetime; records its pid.

    The kernel drops the lock when the process dies, even by `kill -9`, so a socket file whose
    lock is free is stale and may be replaced.
    """

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
