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

CALLER_SHARE = 0.4  # at most this part of the context budget goes to callers
MAX_DEFINITIONS = 20
MAX_CALLERS_PER_DEFINITION = 12
CALLER_WINDOW = 12  # lines either side of the call when the calling definition is long
_SKIP_KINDS = {"constant", "variable", "field", "module"}


def _changed_lines(changes: ChangeSet) -> dict[str, list[int]]:
    """Right-side lines that changed: added lines, and where lines were only deleted."""
    out: dict[str, list[int]] = {}
    for change in changes.reviewable():
        lines: list[int] = []
        for hunk in change.hunks:
            added = hunk.added_lines
            if added:
                lines.extend(added)
                continue
            after = [d.new_line for d in hunk.lines if d.new_line]
            deleted_at = [i for i, d in enumerate(hunk.lines) if d.kind == "-"]
            if after and deleted_at:
                before = [d.new_line for d in hunk.lines[: deleted_at[0]] if d.new_line]
                lines.append(before[-1] if before else after[0])
        out[change.path or ""] = sorted(set(lines))
    return out


def changed_definitions(index: Any, changes: ChangeSet) -> list[Any]:
    """The functions/classes (innermost) that hold changed lines."""
    found: dict[tuple[str, str, int], Any] = {}
    for path, lines in _changed_lines(changes).items():
        for line in lines:
            definition = index.enclosing_definition(path, line)
            if definition is None or definition.kind in _SKIP_KINDS:
                continue
            found.setdefault((definition.path, definition.name, definition.start_line), definition)
            if len(found) >= MAX_DEFINITIONS:
                return list(found.values())
    return list(found.values())


def caller_items(
    index: Any, changes: ChangeSet, budget: int, count_tokens: Callable[[str], int]
) -> tuple[list[Any], list[str]]:
    """Code that uses a changed definition, outside the definition itself, packed to budget."""
    from retrieval.model import ContextItem

    items: list[ContextItem] = []
    omitted: list[str] = []
    used = 0
    taken: set[tuple[str, int, int]] = set()
    for definition in changed_definitions(index, changes):
        if sum(index.files_using(definition.name).values()) <= 1:
            continue  # its own name is its only use: no callers, and no file to re-parse
        callers = 0
        for ref in index.references(definition.name):
            if callers >= MAX_CALLERS_PER_DEFINITION:
                break
            inside = ref.path == definition.path and (
                definition.start_line <= ref.line <= definition.end_line
            )
            if inside:
                continue
            caller = index.enclosing_definition(ref.path, ref.line)
            if caller is not None and caller.end_line - caller.start_line <= 2 * CALLER_WINDOW:
                start, end = caller.start_line, caller.end_line
            else:
                start, end = max(1, ref.line - CALLER_WINDOW), ref.line + CALLER_WINDOW
            lines = index.lines(ref.path)
            end = min(end, len(lines))
            if (ref.path, start, end) in taken or start > end:
                continue
            taken.add((ref.path, start, end))
            callers += 1
            text = "\n".join(lines[start - 1 : end])
            tokens = count_tokens(text)
            if used + tokens > budget:
                omitted.append(f"{ref.path}:{start}-{end}")
                continue
            used += tokens
            items.append(
                ContextItem(
                    path=ref.path,
                    start_line=start,
                    end_line=end,
                    tokens=tokens,
                    kind="caller",
                    score=1.0,
                    text=text,
                    reason=f"uses {definition.name} (changed in {definition.path})",
                )
            )
    return items, omitted


def _overlaps(item: Any, others: list[Any]) -> bool:
    return any(
        o.path == item.path and o.start_line <= item.end_line and item.start_line <= o.end_line
        for o in others
    )


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
        callers, left_out = caller_items(index, changes, int(budget * CALLER_SHARE), count_tokens)
        used = sum(item.tokens for item in callers)
        packed = index.context_for_changes(ranges, budget=budget - used, count_tokens=count_tokens)
        rest = [item for item in packed.items if not _overlaps(item, callers)]
        items = callers + rest
        return PackedContext(
            budget=budget,
            used=sum(item.tokens for item in items),
            items=items,
            omitted=left_out + list(packed.omitted),
        )

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
