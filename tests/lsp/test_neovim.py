"""A real Neovim 0.7 (headless) starts `codeassist lsp` with vim.lsp.start_client and completes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers.environment import clean_env
from tests.helpers.lsp_client import SERVER_COMMAND, daemon_env

SCRIPT = Path(__file__).with_name("nvim_complete.lua")


def neovim_07() -> str | None:
    """A Neovim 0.7 binary: the distribution's (another nvim may come first on PATH)."""
    candidates = [shutil.which("nvim", path=d) for d in os.get_exec_path()] + ["/usr/bin/nvim"]
    for nvim in dict.fromkeys(c for c in candidates if c):
        version = subprocess.run([nvim, "--version"], capture_output=True, text=True).stdout
        if version.startswith("NVIM v0.7"):
            return nvim
    return None


def test_neovim_07_gets_a_completion_item(workspace, daemon_settings, tmp_path):
    nvim = neovim_07()
    assert nvim, "Neovim 0.7 is not installed: apt-get install -y neovim (0.7.2 on Debian 12)"
    out = tmp_path / "result.json"
    env = clean_env(daemon_env(daemon_settings))
    env.update(
        OUT=str(out),
        FILE=str(workspace / "pkg" / "app.py"),
        SERVER_CMD=json.dumps(SERVER_COMMAND),
    )
    subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {SCRIPT}"],
        env=env,
        cwd=workspace,
        timeout=240,
        check=False,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert "error" not in result, result
    assert result["completion_provider"] is True
    items = [item for attempt in result["attempts"] for item in attempt["items"]]
    assert items, result
    assert all("error" not in item for item in items), result
    assert items[0]["text"] and items[0]["label"], result
