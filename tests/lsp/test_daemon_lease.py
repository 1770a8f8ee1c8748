"""The language server holds the daemon it started while the editor is open, then lets it go.

A real `codeassist lsp` starts a real daemon on the tiny checkpoint (keep_alive 2 s) through its
first completion; the daemon outlives several keep_alive periods while the server runs, shows
its loading as `codeassist/status` model_loading, and exits keep_alive after the server stops.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from codeassist.daemon_files import holder_pid
from tests.helpers.lsp_client import inline, open_doc, plain
from tests.helpers.waiting import wait_until_async

pytestmark = pytest.mark.asyncio

KEEP_ALIVE_S = 2.0


async def test_daemon_started_by_the_server_stays_while_it_runs_and_goes_after(
    start_server, workspace: Path, tiny_checkpoint: Path, tmp_path: Path
):
    sock = tmp_path / "run" / "daemon.sock"
    env = {
        "CODEASSIST_MODEL_PATH": str(tiny_checkpoint),
        "CODEASSIST_MODEL_ENDPOINT": "daemon",
        "CODEASSIST_DAEMON_SOCKET": str(sock),
        "CODEASSIST_DAEMON_KEEP_ALIVE": f"{KEEP_ALIVE_S:g}s",
        "CODEASSIST_ENGINE_QUANTIZE": "none",
        "CODEASSIST_ENGINE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    options = {"completion": {"debounce_ms": 0, "max_tokens": 2, "budget_tokens": 64}}
    client, _ = await start_server(workspace, env=env, options=options)
    statuses: list[dict] = []
    client.feature("codeassist/status")(lambda params: statuses.append(plain(params)))
    uri = open_doc(client, workspace / "pkg" / "app.py")

    await inline(client, uri, 9, 4)  # the first model request starts the daemon
    assert await wait_until_async(lambda: holder_pid(sock) is not None, 120), "no daemon started"
    daemon = holder_pid(sock)
    states = [s["state"] for s in statuses]
    assert "model_loading" in states or "ready" in states, statuses

    # Idle for twice keep_alive while the editor is open: the lease keeps it.
    await asyncio.sleep(2 * KEEP_ALIVE_S + 1)
    assert holder_pid(sock) == daemon and sock.exists()

    await asyncio.wait_for(client.shutdown_session(), 20)
    stopped = time.monotonic()
    assert await wait_until_async(lambda: holder_pid(sock) is None, KEEP_ALIVE_S + 8)
    gone_after = time.monotonic() - stopped
    assert gone_after >= KEEP_ALIVE_S * 0.5  # it waited for keep_alive, not for the exit
    assert not sock.exists()
    log = (Path(os.environ["XDG_STATE_HOME"]) / "codeassist" / "daemon.log").read_text()
    assert f"idle for {KEEP_ALIVE_S:g} s (keep_alive)" in log
