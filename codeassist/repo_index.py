"""The one way to open a repository's index: the shared content-addressed cache and the
`[retrieval]` settings, for `codeassist index`, `context`, review, refactor, the language server
and completion alike (so a warm cache made by one serves all the others).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from codeassist import paths
from codeassist.config import Settings
from codeassist.errors import UserError
from retrieval import PathError, RepoIndex
from retrieval.index import Progress

log = logging.getLogger(__name__)


def index_cache_dir() -> Path:
    """Where every repository's index is cached (content-addressed, so shared by all roots)."""
    return paths.cache_dir() / "index"


def open_index(
    root: str | Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> RepoIndex:
    """The index of the repository at root, refreshed against the files on disk.

    progress(done, total, cache_hits) is called while files are parsed. When the cache cannot
    be used (its path is a folder, read-only, on a full disk) the index is built in memory and
    warn(message) is called once; it defaults to a log warning. UserError when root is not a
    directory.
    """
    cache = index_cache_dir()
    options = {
        "max_file_bytes": settings.retrieval.max_file_bytes,
        "workers": settings.retrieval.workers,
    }
    try:
        _private_folder(cache)
        return RepoIndex.open(root, cache, progress, **options)
    except PathError as error:
        raise UserError(str(error)) from None
    except (sqlite3.Error, OSError) as error:
        problem = f"{error.__class__.__name__}: {error}"
    (warn or log.warning)(
        f"the index cache in {cache} cannot be used ({problem}); indexing in memory this time "
        f"(slower). Check that folder's permissions and free space."
    )
    try:
        return RepoIndex.open(root, None, progress, **options)
    except PathError as error:
        raise UserError(str(error)) from None


def _private_folder(folder: Path) -> None:
    """Make folder (and missing parents) readable by its owner only: it holds code.

    A folder an earlier version left open to others is closed too.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        os.chmod(folder, 0o700)
