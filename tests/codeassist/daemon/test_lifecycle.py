"""Daemon processes: permissions, the TCP token, one daemon per socket, queue overflow,
on-demand start under a lock, recovery after kill -9, SIGTERM cleanup."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from codeassist.client import ModelBusy, ModelUnavailable, client_from_settings
from codeassist.client.daemon_start import stop_daemon
from codeassist.config import load_settings
from codeassist.daemon_files import holder_pid, token_path
from tests.helpers.environment import clean_env
from tests.helpers.ports import free_port
from tests.helpers.serve_process import daemon_http
from tests.helpers.waiting import wait_until


@pytest.fixture(scope="module")
def small_daemon(tiny_checkpoint, tmp_path_factory):
    """A daemon with a queue of 2 that also listens on loopback TCP, started the way a user
    would: `codeassist daemon start`, settings from the environment (forwarded to the child)."""
    home = tmp_path_factory.mktemp("small")
    sock = home / "private" / "d.sock"  # the directory is created by the daemon itself
    port = free_port()
    env = clean_env()
    env.update(
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home),
        OMP_NUM_THREADS="1",
        CODEASSIST_DAEMON_QUEUE_SIZE="2",
        CODEASSIST_DAEMON_TCP=f"127.0.0.1:{port}",
        CODEASSIST_ENGINE_QUANTIZE="none",
        CODEASSIST_ENGINE_DEVICE="cpu",
    )
    start = [sys.executable, "-m", "codeassist.cli.main", "daemon", "start"]
    start += ["--model", str(tiny_checkpoint), "--socket", str(sock)]
    started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("ready in ") and "model " in started.stdout
    pid = holder_pid(sock)
    assert pid is not None and f"pid {pid}" in started.stdout
    yield SimpleNamespace(socket_path=sock, pid=pid, port=port)
    stop = [sys.executable, "-m", "codeassist.cli.main", "daemon", "stop", "--socket", str(sock)]
    stopped = subprocess.run(stop, env=env, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0 and f"stopped daemon pid {pid}" in stopped.stdout
    assert not sock.exists()
    assert not token_path(sock).exists()
    log = (home / "state" / "codeassist" / "daemon.log").read_text()
    assert "daemon stopped" in log and "loading model" in log


def test_socket_and_token_permissions_and_tcp_auth(small_daemon):
    child = small_daemon
    port = child.port
    sock = child.socket_path
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    token_file = token_path(sock)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    url = f"http://127.0.0.1:{port}/health"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    for scheme in ("bearer", "BEARER"):  # auth schemes are case-insensitive (RFC 9110)
        assert httpx.get(url, headers={"Authorization": f"{scheme} {token}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Basic {token}"}).status_code == 401


def test_another_user_cannot_connect(small_daemon):
    child = small_daemon
    assert os.stat(child.socket_path).st_uid == os.getuid()
    if os.getuid() != 0:
        # Unprivileged: we cannot act as another user; the modes above and the owner are the proof.
        assert stat.S_IMODE(child.socket_path.stat().st_mode) & 0o077 == 0
        return
    probe = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print(type(e).__name__)\n"
        "else:\n print('connected')\n"
    )
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    result = subprocess.run(
        [python, "-c", probe, str(child.socket_path)],
        user="nobody",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "PermissionError", result.stderr


def test_client_refuses_a_socket_owned_by_someone_else(tmp_path):
    foreign = tmp_path / "foreign.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(foreign))
    os.chown(foreign, 65534, 65534) if os.getuid() == 0 else None
    settings = load_settings(overrides={"daemon.socket": str(foreign)})
    client = client_from_settings(settings)
    if os.getuid() == 0:
        with pytest.raises(ModelUnavailable) as refused:
            client.chat([{"role": "user", "content": "x"}], max_tokens=1)
        assert "belongs to uid 65534" in str(refused.value)
    listener.close()


def test_non_loopback_and_second_daemon_are_refused(small_daemon, tiny_checkpoint, tmp_path):
    child = small_daemon
    serve = [sys.executable, "-m", "codeassist.cli.main", "serve", "--model", str(tiny_checkpoint)]
    public = subprocess.run(
        [*serve, "--socket", str(tmp_path / "s" / "d.sock"), "--tcp", "0.0.0.0:8999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert public.returncode == 2 and "not a loopback address" in public.stderr
    long_path = tmp_path / ("x" * 120) / "d.sock"
    too_long = subprocess.run(
        [*serve, "--socket", str(long_path)], capture_output=True, text=True, timeout=60
    )
    assert too_long.returncode == 2 and "too long" in too_long.stderr
    assert not long_path.parent.exists()  # refused before anything was created
    second = subprocess.run(
        [*serve, "--socket", str(child.socket_path)], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 2
    assert "already running" in second.stderr and str(child.pid) in second.stderr
    assert holder_pid(child.socket_path) == child.pid  # the first one is untouched


def test_queue_overflow_answers_503_with_retry_after(small_daemon, tiny_checkpoint):
    child = small_daemon
    # Greedy on this prompt runs ~110 tokens before the tiny model stops: both stay running.
    body = {"messages": [{"role": "user", "content": "go"}], "max_tokens": 3000, "stream": True}
    body["temperature"] = 0
    settings = load_settings(
        overrides={"daemon.socket": str(child.socket_path), "model.path": str(tiny_checkpoint)}
    )
    with (
        daemon_http(child.socket_path) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as one,
        http.stream("POST", "/v1/chat/completions", json=body) as two,
    ):
        assert one.status_code == two.status_code == 200
        third = http.post("/v1/completions", json={"prompt": "<bos>b", "max_tokens": 1})
        assert third.status_code == 503
        assert int(third.headers["Retry-After"]) >= 1
        assert "queue is full" in third.json()["error"]["message"]
        with pytest.raises(ModelBusy) as busy:
            client_from_settings(settings).complete("<bos>c", max_tokens=1)
        assert str(child.socket_path) in str(busy.value) and busy.value.retry_after >= 1


def test_on_demand_start_is_single_and_survives_kill_9(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # inherited by the daemons the client starts
    sock = tmp_path / "run" / "ondemand.sock"
    settings = load_settings(
        overrides={
            "daemon.socket": str(sock),
            "model.path": str(tiny_checkpoint),
            "engine.quantize": "none",
            "engine.device": "cpu",
            "daemon.max_running": 2,  # so that some requests wait in the queue at SIGTERM
        }
    )
    pids: list[int] = []
    errors: list[BaseException] = []

    def first_call() -> None:
        try:
            pids.append(client_from_settings(settings).health()["pid"])
        except BaseException as error:
            errors.append(error)

    callers = [threading.Thread(target=first_call) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(180)
    assert not errors, errors
    assert len(pids) == 2 and pids[0] == pids[1] == holder_pid(sock)
    first = pids[0]
    client = client_from_settings(settings)  # one client across the crash, as an editor keeps it
    assert client.chat([{"role": "user", "content": "a"}], max_tokens=1).usage.completion_tokens

    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while holder_pid(sock) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists()  # the stale socket of the dead daemon
    try:
        result = client.chat([{"role": "user", "content": "hi"}], max_tokens=2, temperature=0)
        assert result.finish_reason in ("stop", "length")
        second = holder_pid(sock)
        assert second is not None and second != first
        log = (Path(os.environ["XDG_STATE_HOME"]) / "codeassist" / "daemon.log").read_text()
        assert "replacing stale socket" in log
        status = cli("daemon", "status", "--socket", str(sock), "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["pid"] == second

        # SIGTERM (what `daemon stop` sends) with a generation in flight: it ends, cancelled.
        streamed: list[str] = []
        outcome: list = []
        story = [{"role": "user", "content": "Write a long story about a compiler."}]

        def long_request() -> None:
            # Greedy on this prompt runs ~110 tokens before the tiny model's stop token.
            on_delta = lambda kind, text: streamed.append(text)  # noqa: E731
            outcome.append(client.chat(story, max_tokens=5000, temperature=0, on_delta=on_delta))

        runner = threading.Thread(target=long_request)
        runner.start()
        deadline = time.monotonic() + 60
        while not streamed and time.monotonic() < deadline:
            time.sleep(0.005)
        # More streams: one more running beside it, four waiting for a slot.
        endings: list[list[str]] = []

        def raw_stream() -> None:
            lines: list[str] = []
            body = {"messages": story, "max_tokens": 5000, "temperature": 0, "stream": True}
            try:
                with (
                    daemon_http(sock, timeout=60) as http,
                    http.stream("POST", "/v1/chat/completions", json=body) as answer,
                ):
                    lines += [line for line in answer.iter_lines() if line]
            except httpx.HTTPError as error:
                lines.append(f"read error: {error!r}")
            endings.append(lines)

        streams = [threading.Thread(target=raw_stream) for _ in range(5)]
        for stream in streams:
            stream.start()
        with daemon_http(sock) as http:

            def queued() -> int:
                queue = http.get("/health").json()["queue"]
                return queue["running"] + queue["waiting"]

            deadline = time.monotonic() + 30
            while queued() < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert queued() == 6
    finally:
        stopped = stop_daemon(sock)
    runner.join(30)
    for stream in streams:
        stream.join(30)
    assert stopped == second
    assert outcome and outcome[0].finish_reason == "cancelled"
    # Every stream in flight ended with a last event and [DONE], none with a read error.
    assert len(endings) == 5
    for lines in endings:
        assert lines[-1] == "data: [DONE]", lines[-3:]
        last = json.loads(lines[-2].removeprefix("data: "))
        assert "error" in last or last["choices"][0]["finish_reason"] == "cancelled", last
    # The daemons this process started were reaped: no zombie left under us.
    for pid in (first, second):
        assert wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 10), pid
    assert not sock.exists()  # SIGTERM removed it
    assert holder_pid(sock) is None
    gone = cli("daemon", "status", "--socket", str(sock))
    assert gone.returncode == 1 and "not running" in gone.stdout
    again = cli("daemon", "stop", "--socket", str(sock))
    assert again.returncode == 0 and "no daemon is running" in again.stdout


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "codeassist.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_unreachable_endpoints_say_which_and_how_to_fix(tmp_path):
    port = free_port()
    client = client_from_settings(
        load_settings(
            overrides={"model.endpoint": f"http://127.0.0.1:{port}/v1", "model.name": "m"}
        )
    )
    with pytest.raises(ModelUnavailable) as down:
        client.chat([{"role": "user", "content": "x"}], max_tokens=1)
    assert f"127.0.0.1:{port}" in str(down.value) and "[model] endpoint" in str(down.value)
    no_model = client_from_settings(
        load_settings(overrides={"daemon.socket": str(tmp_path / "x.sock")})
    )
    with pytest.raises(ModelUnavailable) as unconfigured:
        no_model.complete("x", max_tokens=1)
    assert "[model] path" in str(unconfigured.value)


def test_sigterm_right_after_the_socket_appears_cleans_up(tiny_checkpoint, tmp_path):
    """Even before it serves (model still loading, TCP listener up), SIGTERM stops the daemon
    at once and leaves neither socket nor token behind."""
    for trial, appears in enumerate(("socket", "token")):
        sock = tmp_path / f"t{trial}" / "d.sock"
        command = [sys.executable, "-m", "codeassist.cli.main", "serve"]
        command += ["--model", str(tiny_checkpoint), "--socket", str(sock)]
        command += ["--tcp", f"127.0.0.1:{free_port()}"]
        with open(tmp_path / f"t{trial}.out", "wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        watched = sock if appears == "socket" else token_path(sock)
        try:
            assert wait_until(watched.exists, 120), (tmp_path / f"t{trial}.out").read_text()
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            assert process.wait(20) == 0
            assert time.monotonic() - signalled < 10  # it did not wait for the model to load
        finally:
            if process.poll() is None:
                process.kill()
        assert not sock.exists() and not token_path(sock).exists()
        assert holder_pid(sock) is None
