"""Listening sockets: the owner-only Unix socket, and the optional loopback TCP one."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from pathlib import Path

from codeassist.errors import UserError

MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL


def check_socket_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise UserError(
            f"socket path {path} is too long for a Unix socket (at most {MAX_SOCKET_PATH} "
            "bytes); choose a shorter --socket path."
        )


def bind_unix(path: Path) -> socket.socket:
    """A listening Unix socket at path with mode 0600 from the first instant."""
    check_socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as error:
        sock.close()
        raise UserError(
            f"cannot listen on socket {path}: {error.strerror}; choose another --socket path."
        ) from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def parse_loopback(address: str) -> tuple[str, int]:
    """("127.0.0.1", 8000) from "127.0.0.1:8000"; refuses anything that is not loopback."""
    host, sep, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_text.isdigit() or not host:
        raise UserError(f"--tcp {address!r} must be HOST:PORT, for example 127.0.0.1:8765.")
    port = int(port_text)
    if not 0 < port < 65536:
        raise UserError(f"--tcp {address!r}: port must be between 1 and 65535.")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise UserError(
            f"--tcp {address!r}: give a loopback IP address (127.0.0.1 or ::1), not a host name."
        ) from None
    if not ip.is_loopback:
        raise UserError(
            f"--tcp {address!r} is not a loopback address; the daemon only listens on this "
            "machine (use 127.0.0.1 or ::1, or put an authenticating proxy in front)."
        )
    return host, port


def bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {error.strerror}; choose another port."
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
