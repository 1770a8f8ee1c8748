"""The narrow interface ranking and packing read the index through.

`rank*.py`, `signals.py`, `receiver.py`, `pack.py` and `context.py` see an index only as an
`IndexView`: lookups by path and by name, and the explicit `caches` they may fill. They never
touch the index's internals, and the index (`retrieval/index.py`) imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from retrieval.caches import RankCaches
from retrieval.imports import ResolvedImports
from retrieval.model import Definition, Reference
from retrieval.tags import FileTags

DefRef = tuple[str, int]  # (path, index into that file's defs)


class IndexView(Protocol):
    """What a query needs from the repository index (see retrieval/index.py)."""

    root: Path
    caches: RankCaches  # ranking's memory between queries; the index invalidates it

    def relpath(self, path: str | Path) -> str:
        """Repo-relative '/'-path (PathError outside the repository)."""
        ...

    def paths(self) -> list[str]:
        """Every indexed path."""
        ...

    def tags(self, path: str) -> FileTags | None:
        """A file's tags (its unsaved buffer's when there is one)."""
        ...

    def lines(self, path: str) -> list[str]:
        """A file's lines (buffer first)."""
        ...

    def buffer_text(self, path: str) -> str | None:
        """The unsaved text tracked for path, or None."""
        ...

    def version(self, path: str) -> object:
        """Changes whenever the text of path does."""
        ...

    def imports_of(self, path: str) -> ResolvedImports:
        """The repository files and names path imports."""
        ...

    def recent_paths(self) -> list[str]:
        """Recently edited paths, oldest first."""
        ...

    def defs_named(self, name: str) -> list[DefRef]:
        """Every definition called name: (path, def index)."""
        ...

    def defined_names(self) -> Iterable[str]:
        """Every name the repository defines."""
        ...

    def def_files(self, name: str) -> frozenset[str]:
        """The files that define name."""
        ...

    def doc_freq(self, name: str) -> int:
        """In how many files name occurs."""
        ...

    def file_count(self) -> int:
        """How many files are indexed."""
        ...

    def files_using(self, name: str) -> dict[str, int]:
        """path -> occurrences of name, for the files that use it."""
        ...

    def definition_at(self, path: str, index: int) -> Definition:
        """The public Definition for def number index of path."""
        ...

    def enclosing_definition(self, path: str, line: int) -> Definition | None:
        """The innermost function/class/... holding line."""
        ...

    def references(self, name: str) -> list[Reference]:
        """Exact positions of name in code."""
        ...

    def update_buffer(self, path: str, text: str | None) -> None:
        """Track (or drop) unsaved text for path."""
        ...
