"""The commands a user or the pre-commit hook runs on every change start light: `review
--dry-run`, `review --staged --dry-run`, `index`, `context` and `config` import no torch,
transformers, bitsandbytes or triton, even with a local checkpoint configured (their context
window comes from the memory plan, which is arithmetic over config.json). Importing torch
costs ~1 s, bitsandbytes pulls triton in (more seconds, and its nanobind prints "leaked"
lines at every exit)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.git_repo import GitRepo

HEAVY = ("torch", "transformers", "bitsandbytes", "triton")


def heavy_imports(args: list[str], cwd, env: dict[str, str]) -> tuple[set[str], str]:
    """The heavy packages a `codeassist` run imported (from -X importtime), and its output."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "codeassist.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return imported & set(HEAVY), done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["review", "HEAD~1", "--dry-run"],
        ["review", "--staged", "--dry-run"],
        ["index", "--quiet"],
        ["context", "app.py:2"],
        ["config"],
    ],
)
def test_everyday_commands_import_no_torch(args, tmp_path, tiny_checkpoint):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("one", {"app.py": "def total(xs):\n    return sum(xs)\n"})
    repo.commit("two", {"app.py": "def total(xs):\n    return sum(xs) + 0\n"})
    repo.write("app.py", "def total(xs):\n    return sum(xs) + 1\n")
    repo.git("add", "app.py")
    # a machine without a GPU: with one, the plan counts the weights on a meta-device model
    env = dict(os.environ, CODEASSIST_MODEL_PATH=str(tiny_checkpoint), CUDA_VISIBLE_DEVICES="")
    heavy, output = heavy_imports(args, repo.root, env)
    assert heavy == set(), output[-3000:]
    assert "nanobind" not in output
