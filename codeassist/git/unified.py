"""Parse one file's section of `git diff` output into hunks with both sides' line numbers."""

from __future__ import annotations

import re

from codeassist.git.changes import DiffLine, Hunk

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


def parse_hunks(section: str) -> list[Hunk]:
    """Hunks of one file's unified diff (header lines before the first @@ are skipped)."""
    hunks: list[Hunk] = []
    current: Hunk | None = None
    old = new = 0
    for raw in section.split("\n"):
        match = _HUNK.match(raw)
        if match:
            old_start, old_count, new_start, new_count, header = match.groups()
            current = Hunk(
                old_start=int(old_start),
                old_count=1 if old_count is None else int(old_count),
                new_start=int(new_start),
                new_count=1 if new_count is None else int(new_count),
                header=header.strip(),
            )
            hunks.append(current)
            old, new = current.old_start, current.new_start
            continue
        if current is None or not raw:
            continue
        kind, text = raw[0], raw[1:]
        if kind == " ":
            current.lines.append(DiffLine(" ", text, old, new))
            old, new = old + 1, new + 1
        elif kind == "+":
            current.lines.append(DiffLine("+", text, None, new))
            new += 1
        elif kind == "-":
            current.lines.append(DiffLine("-", text, old, None))
            old += 1
        # "\ No newline at end of file" and anything else is not a line of either side.
    return hunks


def hunks_for_ranges(lines: list[str], ranges: list[tuple[int, int]]) -> list[Hunk]:
    """Hunks that present whole line ranges of a file as under review (no git diff needed)."""
    hunks = []
    for start, end in sorted(ranges):
        start, end = max(1, start), min(len(lines), end)
        if start > end:
            continue
        body = [DiffLine("+", lines[n - 1], None, n) for n in range(start, end + 1)]
        hunks.append(Hunk(0, 0, start, end - start + 1, "", body))
    return hunks
