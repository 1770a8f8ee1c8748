"""Related code for a review from the repository index: callers of the changed definitions
first (who is affected by the change), then what retrieval ranks for the changed lines
(enclosing definitions, definitions the change uses, neighbours), all within one budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeassist.config import Settings
from codeassist.git.changes import ChangeSet


def show_reviewed_version(index: Any, changes: ChangeSet) -> None:
    """Give the index the reviewed text of each changed file that differs from the disk's.

    Reviewing the last commit on a clean tree is the common case: the disk already holds the
    reviewed version, and re-parsing it (~0.1 s for a large file) would change nothing.
    """
    from retrieval.cache import content_hash

    for change in changes.reviewable():
        text = change.new_text or ""
        on_disk = index.version(change.path)
        if on_disk is None or on_disk != content_hash(text.encode("utf-8", "surrogateescape")):
            index.update_buffer(change.path, text)


def context_provider(
    index: Any, changes: ChangeSet, count_tokens: Callable[[str], int]
) -> Callable[[dict[str, list[tuple[int, int]]], int], Any]:
    """A context provider for build_prompt over an open index (the CLI's or the editor's).

    The index is shown the reviewed version of each changed file (it reads the working tree);
    call the provider on the thread that owns the index.
    """
    from retrieval import PackedContext

    def provide(ranges: dict[str, list[tuple[int, int]]], budget: int) -> PackedContext:
        show_reviewed_version(index, changes)
        # callers of the changed definitions come first (retrieval.callers_of_changes)
        return index.context_for_changes(ranges, budget=budget, count_tokens=count_tokens)

    return provide


def index_context(
    root: Path, changes: ChangeSet, count_tokens: Callable[[str], int], settings: Settings
) -> Callable[[dict[str, list[tuple[int, int]]], int], Any]:
    """A context provider that opens the repository's index (shared cache) when it is asked."""
    from codeassist.repo_index import open_index

    def provide(ranges: dict[str, list[tuple[int, int]]], budget: int) -> Any:
        index = open_index(root, settings)
        try:
            return context_provider(index, changes, count_tokens)(ranges, budget)
        finally:
            index.close()

    return provide
