"""Keep review findings on the code they were about while the user types.

A finding is anchored to the text of its lines. After each change it moves with the lines
around it; when the text under it changed, it is dropped (the user is acting on it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from codeassist.tasks.edits import split_lines


@dataclass(frozen=True)
class Anchored:
    """A finding (any object) pinned to 0-based lines [start_line, end_line] and their text."""

    finding: Any
    start_line: int
    end_line: int
    text: tuple[str, ...]

    def moved(self, start_line: int) -> Anchored:
        return replace(self, start_line=start_line, end_line=start_line + len(self.text) - 1)


def anchor(finding: Any, start_line: int, end_line: int, document: str) -> Anchored | None:
    """finding pinned to the current text of its lines; None when they are not in document."""
    lines = split_lines(document)
    if not 0 <= start_line <= end_line < len(lines):
        return None
    return Anchored(finding, start_line, end_line, tuple(lines[start_line : end_line + 1]))


def _holds(lines: list[str], start: int, item: Anchored) -> bool:
    return start >= 0 and tuple(lines[start : start + len(item.text)]) == item.text


def changed_region(old: list[str], new: list[str]) -> tuple[int, int, int]:
    """(first changed line, end of the change in old, end in new): lines outside match."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, len(old) - suffix, len(new) - suffix


def after_edit(items: list[Anchored], old_text: str, new_text: str) -> list[Anchored]:
    """items moved with the lines around the edit from old_text to new_text.

    A finding above the changed lines stays, one below moves by the lines added or removed,
    and one whose own lines were changed is dropped.
    """
    old, new = split_lines(old_text), split_lines(new_text)
    first, old_end, new_end = changed_region(old, new)
    delta = new_end - old_end
    kept = []
    for item in items:
        if item.end_line < first:
            kept.append(item)
        elif item.start_line >= old_end:
            kept.append(item.moved(item.start_line + delta))
        elif _holds(new, item.start_line, item):  # e.g. lines were only added right above it
            kept.append(item)
        elif _holds(new, item.start_line + delta, item):
            kept.append(item.moved(item.start_line + delta))
    return kept
