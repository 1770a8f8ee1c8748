"""The Neovim plugin in a real headless Neovim (Debian's 0.7.2 in CI) against the real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
SCRIPT = Path(__file__).resolve().parent / "neovim" / "headless_test.lua"

SOURCE = '''\
"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    total = width + height
    return 2 * total


def describe(width, height):
    '''


@pytest.fixture(scope="module")
def nvim() -> str:
    path = shutil.which("nvim")
    assert path, "Neovim is required for this test: apt-get install -y neovim"
    return path


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "shapes.py").write_text(SOURCE, encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init")
    return root


def _run_headless(
    nvim: str, repo: Path, tmp_path: Path, tiny_checkpoint: Path, **extra: str
) -> dict:
    out = tmp_path / "result.json"
    codeassist = Path(sys.executable).parent / "codeassist"
    source_lines = SOURCE.splitlines()
    env = dict(os.environ)
    env.update(
        {
            "CODEASSIST_NVIM_PLUGIN": str(PLUGIN),
            "CODEASSIST_NVIM_OUT": str(out),
            "CODEASSIST_NVIM_FILE": str(repo / "pkg" / "shapes.py"),
            "CODEASSIST_NVIM_CMD": json.dumps([str(codeassist), "lsp"]),
            "CODEASSIST_NVIM_SETTINGS": json.dumps(
                {
                    "model": {"path": str(tiny_checkpoint), "endpoint": "daemon"},
                    "completion": {"debounce_ms": 0},
                }
            ),
            "CODEASSIST_NVIM_LINE": str(len(source_lines)),
            "CODEASSIST_NVIM_ACTION_FIRST": "8",
            "CODEASSIST_NVIM_ACTION_LAST": "10",
            "CODEASSIST_NVIM_ACTION_TITLE": extra.get("action_title", "Rename"),
            "CODEASSIST_NVIM_TIMEOUT_MS": "180000",
        }
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(SCRIPT)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert out.is_file(), (
        f"Neovim wrote no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    result = json.loads(out.read_text())
    result["_exit"] = proc.returncode
    result["_stderr"] = proc.stderr[-4000:]
    return result


def _stop_daemon() -> None:
    codeassist = Path(sys.executable).parent / "codeassist"
    subprocess.run([str(codeassist), "daemon", "stop"], capture_output=True, timeout=60)


def test_headless_neovim_completion_code_action_and_review(nvim, repo, tmp_path, tiny_checkpoint):
    try:
        result = _run_headless(nvim, repo, tmp_path, tiny_checkpoint)
    finally:
        _stop_daemon()
    steps = result["steps"]
    context = json.dumps(result, indent=1)[-6000:]
    assert steps["setup"] is True, context
    assert isinstance(steps["attach"], dict) or steps["attach"] is True, context
    assert Path(result["root_dir"]).resolve() == repo.resolve(), context

    completion = steps["completion"]
    assert "error" not in completion, context
    assert completion["count"] > 0 and any(t.strip() for t in completion["texts"]), context

    actions = steps["code_actions"]
    assert "error" not in actions, context
    assert actions["titles"], context
    assert actions["chosen"], context
    assert actions["ok"] is True, context
    assert actions["after"] != actions["before"], context

    review = steps["review"]
    assert "error" not in review, context
    assert review["diagnostics"], context
    assert all(d["source"] == "codeassist" for d in review["diagnostics"]), context
    assert all(0 <= d["lnum"] < review["line_count"] for d in review["diagnostics"]), context
    assert result["_exit"] == 0, context
