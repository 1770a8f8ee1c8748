"""Review, the pre-commit hook and completion through the real daemon on the tiny checkpoint,
in a hostile repository, in a network namespace with no network; every connect() is recorded.

The tiny model writes noise, so a review ends in the clear "no valid findings" report (exit 0,
one repair attempt, raw output saved) and the hook lets the commit through with a warning.

The repository's `.codeassist.toml` and `pyproject.toml` name remote endpoints, another daemon
socket and a model path; the user's environment names the real (test) daemon. Every Python
process started here (CLI, hook, language server, index workers) loads a sitecustomize that
records `socket.connect`, `socket.sendto` and `socket.getaddrinfo` audit events to a file; the
only connections allowed are to the user's daemon socket (or loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CODEASSIST = shutil.which("codeassist") or str(Path(sys.executable).with_name("codeassist"))

AUDIT = """
import json, os, sys

_LOG = os.environ.get("CA_AUDIT_LOG")


def _record(event, args):
    if event not in ("socket.connect", "socket.sendto", "socket.getaddrinfo"):
        return
    if event == "socket.getaddrinfo":
        entry = {"event": event, "host": str(args[0])}
    else:
        sock, address = args[0], args[-1]
        entry = {"event": event, "family": int(sock.family), "address": repr(address)}
    entry["argv"] = " ".join(sys.argv[:3])
    with open(_LOG, "a") as log:
        log.write(json.dumps(entry) + "\\n")


if _LOG:
    sys.addaudithook(_record)
"""

HOSTILE_TOML = """
[model]
endpoint = "http://203.0.113.9:8080/v1"
path = "/tmp/attacker-model"
allow_remote = true
[daemon]
socket = "/tmp/attacker.sock"
[engine]
device = "cuda"
"""
HOSTILE_PYPROJECT = """
[project]
name = "innocent"
[tool.codeassist.model]
endpoint = "http://198.51.100.7/v1"
allow_remote = true
"""
APP = "def total(values):\n    result = 0\n    for v in values:\n        result += v\n"


def _namespace_prefix() -> list[str]:
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return prefix
    pytest.skip("`unshare -n` is not permitted here (CI runs as root, where it is)")


@pytest.fixture
def hostile(make_repo, tmp_path, daemon_settings):
    repo = make_repo()
    repo.commit("first", {"app.py": APP, "README.md": "# innocent\n"})
    repo.commit(
        "second",
        {
            "app.py": APP + "    return result / len(values)\n",
            ".codeassist.toml": HOSTILE_TOML,
            "pyproject.toml": HOSTILE_PYPROJECT,
            ".env": "API_TOKEN=hunter2\n",
        },
    )
    repo.git("config", "user.name", "T")
    repo.git("config", "user.email", "t@example.invalid")
    site = tmp_path / "audit-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "connects.jsonl"
    pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "CA_AUDIT_LOG": str(log),
        "CODEASSIST_MODEL_PATH": daemon_settings.model.path,
        "CODEASSIST_DAEMON_SOCKET": daemon_settings.daemon.socket,
        "CODEASSIST_REVIEW_MAX_TOKENS": "16",
        "COLUMNS": "200",
    }
    return repo, env, log, _namespace_prefix()


def _connections(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _allowed(entry: dict, daemon_socket: str) -> bool:
    if entry["event"] == "socket.getaddrinfo":
        return entry["host"] in ("localhost", "127.0.0.1", "::1")
    if entry["family"] == socket.AF_UNIX:
        return daemon_socket in entry["address"]
    host = entry["address"].strip("()").split(",")[0].strip(" '\"")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _assert_only_the_daemon(log: Path, daemon_socket: str, program: str) -> None:
    """Every recorded event of every process is allowed, and program did ask the daemon."""
    entries = _connections(log)
    bad = [e for e in entries if not _allowed(e, daemon_socket)]
    assert bad == [], bad
    asked = [e for e in entries if program in e["argv"] and e["event"] == "socket.connect"]
    assert asked, f"{program} made no connection at all: the daemon was never asked"


def test_review_and_hook_in_a_namespace_without_network(hostile, daemon_settings):
    repo, env, log, prefix = hostile
    done = subprocess.run(
        [*prefix, CODEASSIST, "review", "HEAD~1"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr  # no findings reached --fail-on
    out = " ".join(done.stdout.split())
    assert "The model did not return valid findings for HEAD~1..HEAD" in out
    raw = Path(out.split("Its raw output is saved in ")[1].split(" ")[0])
    saved = raw.read_text()
    assert "===== review: answer =====" in saved and "===== repair: answer =====" in saved
    assert "prompt tokens, thinking on" in done.stderr and "tokens generated" in done.stderr
    assert "hunter2" not in saved
    for key in ("[model] endpoint", "[model] allow_remote", "[daemon] socket", "[model] path"):
        assert key in done.stderr  # each ignored key named once...
    assert done.stderr.count("203.0.113.9") == 0  # ...without repeating where it pointed
    assert "not reviewed: .env (secret file)" in done.stdout
    _assert_only_the_daemon(log, daemon_settings.daemon.socket, "review")

    log.unlink()
    hook = subprocess.run(
        [CODEASSIST, "hook", "install"], cwd=repo.root, capture_output=True, text=True, env=env
    )
    assert hook.returncode == 0, hook.stderr
    repo.write("app.py", APP + "    return result\n")
    repo.git("add", "app.py")
    commit = subprocess.run(
        [*prefix, "git", "commit", "-q", "-m", "third"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert commit.returncode == 0, commit.stderr
    assert "did not return valid findings" in commit.stderr
    assert "commit not blocked" in commit.stderr
    assert repo.git("show", "HEAD:app.py") == (APP + "    return result").rstrip("\n")
    _assert_only_the_daemon(log, daemon_settings.daemon.socket, "review")


def test_completion_in_a_namespace_without_network(hostile, daemon_settings):
    from lsprotocol import types

    from tests.helpers.lsp_client import (
        FAST_COMPLETION,
        SERVER_COMMAND,
        inline,
        open_doc,
        start_language_server,
        stop_language_server,
    )

    repo, env, log, prefix = hostile

    async def run() -> None:
        client, _ = await start_language_server(
            repo.root,
            capabilities=types.ClientCapabilities(),
            options={"completion": {**FAST_COMPLETION["completion"], "debounce_ms": 0}},
            env=env,
            command=[*prefix, *SERVER_COMMAND],
        )
        try:
            uri = open_doc(client, repo.root / "app.py")
            lines = (repo.root / "app.py").read_text().split("\n")
            await inline(client, uri, 3, len(lines[3]))
        finally:
            await stop_language_server(client)

    asyncio.run(run())
    _assert_only_the_daemon(log, daemon_settings.daemon.socket, "lsp")
