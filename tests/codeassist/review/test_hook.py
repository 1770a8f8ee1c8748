"""The pre-commit hook as git and pre-commit run it: commits go through or stop, never altered."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeassist.errors import UserError
from codeassist.hook import CHAINED_NAME, MARKER, install_hook, uninstall_hook

ROOT = Path(__file__).resolve().parents[3]
CODEASSIST = shutil.which("codeassist") or str(Path(sys.executable).with_name("codeassist"))


def snapshot(repo) -> dict:
    """Everything a hook must not touch: HEAD, the index, the working tree's files."""
    files = {
        str(p.relative_to(repo.root)): p.read_bytes()
        for p in sorted(repo.root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.root).parts
    }
    return {
        "head": repo.git("rev-parse", "HEAD"),
        "index": repo.git("ls-files", "--stage"),
        "status": repo.git("status", "--porcelain"),
        "files": files,
    }


def staged_repo(make_repo):
    """A repository with a staged change and a different unstaged change to the same file."""
    repo = make_repo()
    repo.commit("first", {"app.py": "def f(x):\n    return x\n"})
    repo.write("app.py", "def f(x):\n    return x + 1\n")
    repo.git("add", "app.py")
    repo.write("app.py", "def f(x):\n    return x + 2  # not staged\n")
    repo.write("notes.txt", "untracked\n")
    return repo


def commit(repo, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "commit", "-m", "change"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
             "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid", **(env or {})},
    )  # fmt: skip


def assert_committed_exactly_the_index(repo, before: dict) -> None:
    after = snapshot(repo)
    assert after["head"] != before["head"]
    assert repo.git("show", "HEAD:app.py") == "def f(x):\n    return x + 1"
    assert after["files"] == before["files"]  # working tree untouched, unstaged edit kept
    assert repo.git("diff", "--cached", "--name-only") == ""  # index == new HEAD
    assert repo.git("diff", "--name-only") == "app.py"  # the unstaged edit is still unstaged


def test_plain_hook_warns_and_lets_the_commit_through_without_a_model(make_repo):
    repo = staged_repo(make_repo)
    status = install_hook(repo.root)
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    assert status.action == "installed" and status.path == hook and os.access(hook, os.X_OK)
    assert MARKER in hook.read_text() and "review --staged --hook" in hook.read_text()
    before = snapshot(repo)
    done = commit(repo)
    assert done.returncode == 0, done.stderr
    assert "commit not reviewed" in done.stderr and "no model is configured" in done.stderr
    assert_committed_exactly_the_index(repo, before)


def test_strict_hook_stops_the_commit_and_changes_nothing(make_repo):
    repo = staged_repo(make_repo)
    install_hook(repo.root, strict=True)
    before = snapshot(repo)
    done = commit(repo)
    assert done.returncode != 0
    assert "commit not reviewed" in done.stderr
    assert snapshot(repo) == before  # no commit, index and working tree as they were


def test_existing_hook_is_chained_and_restored(make_repo):
    repo = staged_repo(make_repo)
    hooks = repo.root / ".git" / "hooks"
    original = '#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/earlier-hook-ran"\nexit 0\n'
    (hooks / "pre-commit").write_text(original)
    (hooks / "pre-commit").chmod(0o755)
    status = install_hook(repo.root)
    assert status.chained == hooks / CHAINED_NAME
    assert (hooks / CHAINED_NAME).read_text() == original
    assert install_hook(repo.root).action == "updated"  # twice: still one chain
    assert (hooks / CHAINED_NAME).read_text() == original
    done = commit(repo)
    assert done.returncode == 0, done.stderr
    assert (repo.root / ".git" / "earlier-hook-ran").read_text() == "ran\n"
    assert "commit not reviewed" in done.stderr

    (hooks / CHAINED_NAME).write_text("#!/bin/sh\necho 'earlier hook says no' >&2\nexit 3\n")
    repo.write("app.py", "def f(x):\n    return x + 3\n")
    repo.git("add", "app.py")
    before = snapshot(repo)
    stopped = commit(repo)
    assert stopped.returncode != 0 and "earlier hook says no" in stopped.stderr
    assert snapshot(repo) == before

    (hooks / CHAINED_NAME).write_text(original)
    assert uninstall_hook(repo.root).action == "restored"
    assert (hooks / "pre-commit").read_text() == original
    assert not (hooks / CHAINED_NAME).exists()
    with pytest.raises(UserError):  # the hook there now is not ours: left alone
        uninstall_hook(repo.root)
    assert (hooks / "pre-commit").read_text() == original


def test_foreign_hook_is_never_removed(make_repo):
    repo = make_repo()
    repo.commit("first", {"a.py": "a = 1\n"})
    hooks = repo.root / ".git" / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(UserError, match="not written by codeassist"):
        uninstall_hook(repo.root)
    assert (hooks / "pre-commit").exists()
    assert uninstall_hook(make_repo().root).action == "absent"


def test_hook_cli_and_core_hooks_path(make_repo):
    repo = make_repo()
    repo.commit("first", {"a.py": "a = 1\n"})
    repo.git("config", "core.hooksPath", "githooks")
    done = subprocess.run([CODEASSIST, "hook", "install"], cwd=repo.root, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (repo.root / "githooks" / "pre-commit").exists()
    done = subprocess.run([CODEASSIST, "hook", "uninstall"], cwd=repo.root, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0 and not (repo.root / "githooks" / "pre-commit").exists()


def _with_codeassist_on_path() -> dict:
    """pre-commit runs `codeassist` from PATH (language: system): the one this test runs."""
    bin_dir = str(Path(CODEASSIST).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def _hook_source_repo(make_repo):
    """A repository holding only our .pre-commit-hooks.yaml, as pre-commit clones it."""
    source = make_repo()
    source.commit(
        "hooks", {".pre-commit-hooks.yaml": (ROOT / ".pre-commit-hooks.yaml").read_text()}
    )
    return source


def test_pre_commit_try_repo_runs_our_hook(make_repo):
    source = _hook_source_repo(make_repo)
    repo = staged_repo(make_repo)
    before = snapshot(repo)
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(source.root), "codeassist-review",
         "--verbose"],
        cwd=repo.root, capture_output=True, text=True, timeout=300, env=_with_codeassist_on_path(),
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "codeassist review (staged changes)" in out and "Passed" in out
    assert "commit not reviewed" in out  # no model here: warned, not blocked
    assert snapshot(repo) == before  # pre-commit restored the unstaged edit; nothing changed


def test_pre_commit_framework_commit_with_strict_args(make_repo):
    source = _hook_source_repo(make_repo)
    repo = staged_repo(make_repo)
    rev = source.git("rev-parse", "HEAD")
    config = (
        f"repos:\n- repo: {source.root}\n  rev: {rev}\n  hooks:\n"
        "  - id: codeassist-review\n    args: [--strict]\n"
    )
    (repo.root / ".pre-commit-config.yaml").write_text(config)
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo.root, check=True,
                   capture_output=True)  # fmt: skip
    before = snapshot(repo)
    stopped = commit(repo, env=_with_codeassist_on_path())
    assert stopped.returncode != 0 and "commit not reviewed" in stopped.stdout + stopped.stderr
    assert snapshot(repo) == before
    (repo.root / ".pre-commit-config.yaml").write_text(config.replace("    args: [--strict]\n", ""))
    done = commit(repo, env=_with_codeassist_on_path())
    assert done.returncode == 0, done.stdout + done.stderr
    assert repo.git("show", "HEAD:app.py") == "def f(x):\n    return x + 1"
    assert (repo.root / "app.py").read_text() == "def f(x):\n    return x + 2  # not staged\n"


def test_commit_all_is_reviewed_from_the_index_git_prepares(make_repo):
    """`git commit -a` stages into a temporary index (GIT_INDEX_FILE): that gets reviewed."""
    repo = make_repo()
    repo.commit("first", {"app.py": "def f(x):\n    return x\n"})
    repo.write("app.py", "def f(x):\n    return x * 2\n")  # changed, not staged
    install_hook(repo.root)
    done = subprocess.run(
        ["git", "commit", "-a", "-m", "all"], cwd=repo.root, capture_output=True, text=True,
        timeout=300, env={**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e.invalid",
                          "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@e.invalid"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nothing to review" not in done.stderr  # it saw the change being committed
    assert "no model is configured" in done.stderr
    assert repo.git("show", "HEAD:app.py") == "def f(x):\n    return x * 2"


def test_findings_stop_the_commit_and_change_nothing(staged_app_repo, replay_endpoint):
    repo = staged_app_repo
    server = replay_endpoint("valid")
    install_hook(repo.root)
    model = {"CODEASSIST_MODEL_ENDPOINT": server.url}
    before = snapshot(repo)
    stopped = commit(repo, env=model)
    assert stopped.returncode != 0
    output = stopped.stdout + stopped.stderr  # git sends a hook's stdout to stderr
    assert "ratio() divides by b" in output and "commit stopped" in output
    assert "--no-verify" in stopped.stderr
    assert snapshot(repo) == before  # no commit; index and working tree exactly as they were
    repo.write(".codeassist.toml", '[review]\nfail_on = "never"\n')
    done = commit(repo, env=model)
    assert done.returncode == 0, done.stderr
    assert repo.git("show", "HEAD:app.py") == (repo.root / "app.py").read_text().rstrip("\n")
