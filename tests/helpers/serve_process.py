"""A `codeassist serve` child process under the caller's control (tests, benchmarks), and raw
looks at it: its memory, a request written in one piece."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from codeassist.client.daemon_start import read_health


@dataclass
class ServeProcess:
    process: subprocess.Popen
    socket_path: Path
    output: Path  # the child's stdout and stderr

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until /health says ok; raises RuntimeError (with the child's output) if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"codeassist serve exited with {self.process.returncode}: {self.tail()}"
                )
            health = read_health(self.socket_path)
            if health is not None and health.get("status") == "ok":
                return health
            time.sleep(0.05)
        raise RuntimeError(f"codeassist serve not ready within {timeout} s: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after timeout; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_serve(
    model: Path | str,
    socket_path: Path,
    *,
    output: Path,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ServeProcess:
    """Start `codeassist serve --model MODEL --socket SOCKET [args]`; does not wait.

    Unless args set it, the daemon never unloads by itself (keep_alive -1): the caller stops it.
    """
    args = list(args or [])
    if not any("daemon.keep_alive" in arg for arg in args):
        args.append("--set=daemon.keep_alive=-1")
    command = [sys.executable, "-m", "codeassist.cli.main", "serve"]
    command += ["--model", str(model), "--socket", str(socket_path), *args]
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
        )
    return ServeProcess(process, socket_path, output)


def daemon_http(socket_path: Path | str, timeout: float | None = 30.0) -> httpx.Client:
    """A plain HTTP client for the daemon on its Unix socket (paths like "/health")."""
    transport = httpx.HTTPTransport(uds=str(socket_path))
    return httpx.Client(transport=transport, base_url="http://codeassist", timeout=timeout)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def raw_post(socket_path: Path | str, path: str, payload: bytes) -> tuple[int, bytes]:
    """(status, body) of a POST to the daemon's Unix socket, sent with one sendall: httpx copies
    what is left of a body after every partial send, seconds of client time for 50 MB that
    would hide the daemon's own."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        sock.sendall(head.encode() + payload)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    header, _, body = reply.partition(b"\r\n\r\n")
    return int(header.split()[1]), body
