"""Real git repositories in temporary folders, driven through the git command line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Commits need an identity; the tests' home has no git config of its own.
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(root: Path, *args: str) -> str:
    """Run `git ARGS` in root with a fixed identity; its stdout, stripped. Raises on failure."""
    result = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write text or bytes files under root, creating their folders."""
    for path, content in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            full.write_bytes(content)
        else:
            full.write_text(content)


class GitRepo:
    """A new repository (branch `main`) at root, created if missing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def write(self, path: str, content: str | bytes) -> Path:
        write_files(self.root, {path: content})
        return self.root / path

    def commit(self, message: str, files: Mapping[str, str | bytes] | None = None) -> str:
        """Write and stage `files`, commit what is staged (even nothing); the new commit's id."""
        if files:
            write_files(self.root, files)
            self.git("add", "--", *files)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def repo_with_files(root: Path, files: Mapping[str, str | bytes], *, commit: bool = True) -> Path:
    """A repository at root holding `files`; unless commit=False, everything git does not
    ignore is committed (`git add -A`: a file .gitignore names stays untracked). root."""
    repo = GitRepo(root)
    write_files(root, files)
    if commit:
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", "init")
    return root
