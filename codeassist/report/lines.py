"""The reviewed version's lines that the formats quote or measure."""

from __future__ import annotations

from codeassist.git.changes import ChangeSet


def reviewed_lines(changes: ChangeSet, path: str) -> list[str]:
    """Lines of path in the reviewed version (empty when the change set does not hold it)."""
    change = changes.file(path)
    if change is not None and change.new_text is not None:
        return change.new_lines()
    full = changes.root / path
    try:
        from codeassist.git.changes import split_lines

        return split_lines(full.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []
