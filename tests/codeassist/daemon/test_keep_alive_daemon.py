"""keep_alive with real daemons on the tiny checkpoint: the daemon `codeassist review` starts
unloads keep_alive after it; leases hold a daemon (and a crashed holder does not); `-1` never
unloads; a request's own keep_alive; `daemon status` tells the idle time."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from codeassist.client import DaemonStatus, hold_daemon
from codeassist.config import load_settings
from codeassist.daemon_files import holder_pid, token_path
from tests.helpers.environment import clean_env
from tests.helpers.serve_process import daemon_http, start_serve
from tests.helpers.waiting import wait_until

CODEASSIST = shutil.which("codeassist") or str(Path(sys.executable).with_name("codeassist"))
TINY_ENGINE = {"CODEASSIST_ENGINE_QUANTIZE": "none", "CODEASSIST_ENGINE_DEVICE": "cpu"}


def serve_env(**extra: str) -> dict[str, str]:
    """A clean environment for a tiny daemon on the CPU (one torch thread)."""
    return clean_env({"OMP_NUM_THREADS": "1", **TINY_ENGINE, **extra})


def daemon_log() -> str:
    return (Path(os.environ["XDG_STATE_HOME"]) / "codeassist" / "daemon.log").read_text()


def test_the_daemon_review_starts_unloads_keep_alive_after_the_review(
    make_repo, tiny_checkpoint, tmp_path
):
    repo = make_repo()
    repo.commit("first", {"app.py": "def scale(a):\n    return a\n"})
    repo.commit("second", {"app.py": "def scale(a):\n    return a * 2\n"})
    sock = tmp_path / "run" / "d.sock"
    env = serve_env(
        CODEASSIST_MODEL_PATH=str(tiny_checkpoint),
        CODEASSIST_DAEMON_SOCKET=str(sock),
        CODEASSIST_DAEMON_KEEP_ALIVE="2s",
        CODEASSIST_REVIEW_MAX_TOKENS="8",
    )
    done = subprocess.run(
        [CODEASSIST, "review", "HEAD~1"],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    reviewed = time.monotonic()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert wait_until(lambda: holder_pid(sock) is None, 15)
    assert time.monotonic() - reviewed < 5.0  # keep_alive 2 s, then it is gone
    assert not sock.exists() and not token_path(sock).exists()
    assert "unloading the model and exiting: idle for 2 s (keep_alive)" in daemon_log()


LEASE_HOLDER = textwrap.dedent(
    """
    import sys, time
    from codeassist.client import hold_daemon
    from codeassist.config import load_settings
    lease = hold_daemon(load_settings(overrides={"daemon.socket": sys.argv[1]}), holder="child")
    assert lease.wait_held(60)
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_leases_hold_the_daemon_never_means_never_and_a_request_sets_its_own_wait(
    tiny_checkpoint, tmp_path
):
    sock = tmp_path / "run" / "d.sock"
    sock.parent.mkdir(mode=0o700)
    settings = load_settings(overrides={"daemon.socket": str(sock)})
    seen: list[DaemonStatus] = []
    # An editor opened before any daemon runs: its lease waits, then attaches.
    editor = hold_daemon(settings, holder="test editor", on_status=seen.append)
    assert wait_until(lambda: seen and seen[-1].state == "not_running", 5)
    assert not editor.held

    child = start_serve(
        tiny_checkpoint,
        sock,
        output=tmp_path / "serve.out",
        args=["--set=engine.quantize=none", "--set=engine.device=cpu"],  # keep_alive -1
        env=serve_env(),
    )
    crashing: subprocess.Popen | None = None
    http = daemon_http(sock, timeout=60)

    def health() -> dict:
        return http.get("/health").json()

    def ask(**extra) -> None:
        body = {"prompt": "<bos>x = ", "max_tokens": 2, "temperature": 0, **extra}
        assert http.post("/v1/completions", json=body).status_code == 200

    try:
        child.wait_ready()
        assert editor.wait_held(10)
        assert wait_until(lambda: seen[-1].state == "ready", 10), seen
        assert "ready" in seen[-1].message
        crashing = subprocess.Popen(
            [sys.executable, "-c", LEASE_HOLDER, str(sock)],
            stdout=subprocess.PIPE,
            text=True,
            env=serve_env(),
        )
        assert crashing.stdout is not None and crashing.stdout.readline().strip() == "held"
        assert health()["leases"] == 2

        # A request asks for 1 s; two editors hold the daemon, so it stays.
        ask(keep_alive="1s")
        time.sleep(2.5)
        body = health()
        assert body["state"] == "ready" and body["unload_in_s"] is None
        assert body["keep_alive"] == "1 s" and body["leases"] == 2

        ask()  # no keep_alive of its own: the daemon's setting again (-1, never)
        crashing.send_signal(signal.SIGKILL)  # an editor that crashes lets go all the same
        crashing.wait(10)
        assert wait_until(lambda: health()["leases"] == 1, 5)
        editor.close()
        assert not editor.held
        assert wait_until(lambda: health()["leases"] == 0, 5)

        time.sleep(2.5)
        assert child.process.poll() is None  # -1: still here with nobody holding it
        body = health()
        assert body["keep_alive"] == "never" and body["unload_in_s"] is None
        assert body["idle_s"] >= 2.0
        status = subprocess.run(
            [CODEASSIST, "daemon", "status", "--socket", str(sock)],
            capture_output=True,
            text=True,
            timeout=60,
            env=serve_env(),
        )
        assert "; never unloads (keep_alive never)" in status.stdout
        assert "idle " in status.stdout

        ask(keep_alive=1)  # Ollama's form: seconds
        asked = time.monotonic()
        assert wait_until(lambda: child.process.poll() is not None, 10)
        assert time.monotonic() - asked < 5.0
        assert child.process.returncode == 0
        assert not sock.exists() and not token_path(sock).exists()
        assert "unloading the model and exiting: idle for 1 s" in daemon_log()
    finally:
        http.close()
        editor.close()
        if crashing is not None and crashing.poll() is None:
            crashing.kill()
        child.stop()
    assert not any(t.name == "daemon-lease" for t in threading.enumerate())
