"""Fixtures shared by the codeassist tests: real temporary git repositories."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "gitrepo", Path(__file__).parent / "git" / "gitrepo.py"
)
gitrepo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gitrepo)


@pytest.fixture
def make_repo(tmp_path):
    """make() -> a new GitRepo (tests/codeassist/git/gitrepo.py) in its own folder."""
    counter = iter(range(1000))

    def make():
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        return gitrepo.GitRepo(root)

    return make
