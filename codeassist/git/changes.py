"""What changed, as plain data: files, hunks, and the right-side (reviewed) line numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "+" added, "-" deleted, " " context
    text: str
    old_line: int | None  # 1-based line on the left side; None for an added line
    new_line: int | None  # 1-based line on the right side (the reviewed version); None if deleted


@dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    header: str = ""  # the function context git prints after the second @@
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def new_range(self) -> tuple[int, int] | None:
        """(first, last) right-side lines this hunk shows, inclusive; None if it shows none."""
        if self.new_count == 0:
            return None
        return self.new_start, self.new_start + self.new_count - 1

    @property
    def added_lines(self) -> list[int]:
        return [line.new_line for line in self.lines if line.kind == "+" and line.new_line]


@dataclass
class FileChange:
    path: str | None  # right-side path, repo-relative (None: the file was deleted)
    old_path: str | None  # left-side path (None: the file was added)
    status: str  # added | modified | deleted | renamed | copied | type-changed
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    new_text: str | None = None  # the reviewed version (None: deleted, binary or skipped)
    similarity: int | None = None  # for renames and copies, percent
    skipped: str = ""  # why it is kept out of every prompt (codeassist.confine), e.g. "secret file"

    @property
    def display_path(self) -> str:
        if self.status in ("renamed", "copied") and self.old_path != self.path:
            return f"{self.old_path} -> {self.path}"
        return self.path or self.old_path or "?"

    @property
    def reviewable(self) -> bool:
        """True when this change has reviewed lines a finding can point at."""
        return (
            self.path is not None
            and not self.binary
            and not self.skipped
            and self.new_text is not None
        )

    def new_lines(self) -> list[str]:
        """The reviewed version's lines (without their line ends)."""
        return split_lines(self.new_text or "")

    def diff_ranges(self) -> list[tuple[int, int]]:
        """Right-side line ranges the diff shows (changed lines and their context)."""
        return [r for r in (h.new_range for h in self.hunks) if r is not None]

    def added_lines(self) -> list[int]:
        return [n for h in self.hunks for n in h.added_lines]

    def counts(self) -> tuple[int, int]:
        """(added, deleted) line counts."""
        added = sum(1 for h in self.hunks for d in h.lines if d.kind == "+")
        deleted = sum(1 for h in self.hunks for d in h.lines if d.kind == "-")
        return added, deleted


@dataclass
class ChangeSet:
    root: Path  # repository root
    label: str  # what was compared, for people: "HEAD~1..HEAD", "staged changes (index vs HEAD)"
    base: str | None  # left-side commit (None: the empty tree)
    target: str | None  # right-side commit (None: the index, or files given directly)
    files: list[FileChange] = field(default_factory=list)

    def file(self, path: str) -> FileChange | None:
        for change in self.files:
            if change.path == path:
                return change
        return None

    def reviewable(self) -> list[FileChange]:
        return [f for f in self.files if f.reviewable and f.hunks]

    def not_reviewed(self) -> list[tuple[str, str]]:
        """(path, why) of every changed file the review does not look at."""
        out = []
        for change in self.files:
            if change.reviewable and change.hunks:
                continue
            if change.skipped:
                why = change.skipped
            elif change.path is None:
                why = "deleted"
            elif change.binary:
                why = "binary"
            else:
                why = "no line changes"
            out.append((change.display_path, why))
        return out


def split_lines(text: str) -> list[str]:
    """Lines as git counts them: split on \\n only (a \\r or form feed stays in its line)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def in_ranges(ranges: list[tuple[int, int]], first: int, last: int) -> tuple[int, int] | None:
    """The range that holds line first, with last clipped into it; None if first is in none."""
    for start, end in ranges:
        if start <= first <= end:
            return first, min(max(last, first), end)
    return None
