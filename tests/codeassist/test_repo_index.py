"""open_index: the shared cache and [retrieval] settings; a cache it cannot use is not fatal."""

from __future__ import annotations

import stat

import pytest

from codeassist.config import load_settings
from codeassist.errors import UserError
from codeassist.repo_index import index_cache_dir, open_index


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "big.py").write_text("x = 1\n" * 400)
    return root


def test_the_cache_is_shared_and_private(repo):
    settings = load_settings(repo=repo)
    first = open_index(repo, settings)
    assert first.summary.parsed == 2
    first.close()
    again = open_index(repo, settings)
    assert again.summary.parsed == 0 and again.summary.unchanged == 2
    again.close()
    assert stat.S_IMODE(index_cache_dir().stat().st_mode) == 0o700
    index_cache_dir().chmod(0o755)  # as an earlier version left it
    open_index(repo, settings).close()
    assert stat.S_IMODE(index_cache_dir().stat().st_mode) == 0o700


def test_retrieval_settings_apply(repo):
    settings = load_settings(repo=repo, overrides={"retrieval.max_file_bytes": 1000})
    index = open_index(repo, settings)
    assert index.paths() == ["app.py"] and index.summary.skipped == {"too large": 1}
    index.close()


def test_a_cache_that_is_a_folder_falls_back_to_memory(repo):
    (index_cache_dir() / "tags.sqlite").mkdir(parents=True)
    warnings = []
    index = open_index(repo, load_settings(repo=repo), warn=warnings.append)
    assert index.paths() == ["app.py", "big.py"]
    (warning,) = warnings
    assert str(index_cache_dir()) in warning and "in memory" in warning
    index.close()


def test_a_cache_folder_that_is_a_file_falls_back_to_memory(repo):
    index_cache_dir().parent.mkdir(parents=True, exist_ok=True)
    index_cache_dir().write_text("not a folder")
    warnings = []
    index = open_index(repo, load_settings(repo=repo), warn=warnings.append)
    assert index.paths() == ["app.py", "big.py"] and len(warnings) == 1
    index.close()


def test_a_database_that_cannot_be_written_falls_back_to_memory(repo, monkeypatch):
    """A read-only cache (root ignores file modes, so the refusal is simulated at sqlite)."""
    import sqlite3

    from retrieval import cache

    put_tags = cache.TagCache.put_tags

    def refuse(self, rows):
        if self.path is not None:  # the file on disk; the in-memory fallback still works
            raise sqlite3.OperationalError("attempt to write a readonly database")
        put_tags(self, rows)

    monkeypatch.setattr(cache.TagCache, "put_tags", refuse)
    warnings = []
    index = open_index(repo, load_settings(repo=repo), warn=warnings.append)
    assert index.paths() == ["app.py", "big.py"] and len(warnings) == 1
    assert "readonly" in warnings[0]
    index.close()


def test_not_a_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a directory"):
        open_index(tmp_path / "nope", load_settings(repo=tmp_path))
