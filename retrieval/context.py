"""The two context queries: code that helps at a cursor, and code that helps review changes.

`callers_of_changes` (retrieval/callers.py) is the one function that finds who uses changed
code; review (CLI and editor) and refactor get callers through context_for_changes.

Both read the index only through `IndexView` (retrieval/view.py): query -> rank -> pack.
`RepoIndex` is the index with these two queries as methods, the entry point other packages
use (`from retrieval import RepoIndex`).
"""

from __future__ import annotations

from collections.abc import Callable

from retrieval.callers import callers_of_changes
from retrieval.index import PathError, TagIndex
from retrieval.model import PackedContext
from retrieval.pack import pack
from retrieval.query import changes_query, position_query
from retrieval.rank import rank_definitions
from retrieval.receiver import STRONG
from retrieval.view import IndexView


def context_for_position(
    index: IndexView,
    path: str,
    line: int,
    col: int,
    *,
    buffer: str | None = None,
    budget: int,
    count_tokens: Callable[[str], int],
    open_buffers: dict[str, str] | None = None,
    explain: bool = False,
) -> PackedContext:
    """Code that helps at (line, col) of `path` (1-based line, 0-based col), within budget.

    buffer: the unsaved text of path (None: the file as indexed); open_buffers: other
    unsaved files (path -> text), which the index starts tracking.
    """
    rel = index.relpath(path)
    if buffer is not None and index.buffer_text(rel) != buffer:
        index.update_buffer(rel, buffer)
    for p, text in (open_buffers or {}).items():
        r = index.relpath(p)
        if r != rel and index.buffer_text(r) != text:
            index.update_buffer(r, text)
    lines = buffer.split("\n") if buffer is not None else index.lines(rel)
    if line < 1 or line > max(len(lines), 1):
        raise PathError(
            f"{path}:{line}: past the end of the file ({len(lines)} lines); pass a line inside it"
        )
    query = position_query(index, rel, lines, line, col, open_buffers or {})
    ranked = rank_definitions(index, query, explain=explain)
    sure = any(query.receivers[c] >= STRONG for c in query.receiver_classes)
    return pack(
        index,
        ranked,
        budget,
        count_tokens,
        exclude=query.exclude,
        explain=explain,
        sure_receiver=sure,
    )


def context_for_changes(
    index: IndexView,
    changes: dict[str, list[tuple[int, int]]],
    *,
    budget: int,
    count_tokens: Callable[[str], int],
    explain: bool = False,
) -> PackedContext:
    """Code that helps review `changes` (path -> changed 1-based line ranges), in budget.

    First the callers of the changed definitions (items of kind "caller"), then the
    definitions around the changes (whole), what they use, and their neighbours.
    """
    rel_changes = {index.relpath(p): r for p, r in changes.items()}
    query = changes_query(index, rel_changes)
    ranked = rank_definitions(index, query, explain=explain)
    callers = callers_of_changes(index, rel_changes)
    return pack(
        index,
        ranked,
        budget,
        count_tokens,
        exclude=query.exclude,
        explain=explain,
        callers=callers,
    )


__all__ = ["RepoIndex", "callers_of_changes", "context_for_changes", "context_for_position"]


class RepoIndex(TagIndex):
    """The repository index (retrieval/index.py) with the two context queries as methods."""

    def context_for_position(
        self,
        path: str,
        line: int,
        col: int,
        *,
        buffer: str | None = None,
        budget: int,
        count_tokens: Callable[[str], int],
        open_buffers: dict[str, str] | None = None,
        explain: bool = False,
    ) -> PackedContext:
        """Code that helps at (line, col) of `path`; see retrieval.context.context_for_position."""
        return context_for_position(
            self,
            path,
            line,
            col,
            buffer=buffer,
            budget=budget,
            count_tokens=count_tokens,
            open_buffers=open_buffers,
            explain=explain,
        )

    def context_for_changes(
        self,
        changes: dict[str, list[tuple[int, int]]],
        *,
        budget: int,
        count_tokens: Callable[[str], int],
        explain: bool = False,
    ) -> PackedContext:
        """Code that helps review `changes`; see retrieval.context.context_for_changes."""
        return context_for_changes(
            self, changes, budget=budget, count_tokens=count_tokens, explain=explain
        )
