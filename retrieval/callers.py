"""Callers of changed code: who uses the definitions a change touches.

The one place that finds them, for every review (CLI, editor) and refactor: through
`context_for_changes`, which packs them first. Files using a name come from the index's
name map, and the uses are found by a word search of those files' lines: no file is
re-parsed (exact positions are for rename, not for context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.files import is_test_file
from retrieval.tags import VALUE_KINDS
from retrieval.view import IndexView

MAX_DEFINITIONS = 20  # changed definitions whose callers are looked for
MAX_CALLERS_PER_DEFINITION = 12
MAX_USING_FILES = 60  # a name used in more files says little about who calls this one
CALLER_WINDOW = 12  # lines either side of the use when the calling definition is long
MIN_NAME = 3  # shorter names (`f`, `go`) match too much
# lines that mention a name without using it: imports and comments
_STRING = re.compile(r"""(["'`])(?:\\.|(?!\1).)*\1""")
_NOT_A_USE = re.compile(
    r"\s*(?:from\s+\S+\s+import\b|import\b|export\s.*\bfrom\b|use\s|#include|#|//|/?\*)"
)


@dataclass(frozen=True)
class Caller:
    """Code that uses a changed definition: a whole function, or lines around the use."""

    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    name: str  # the changed definition it uses
    changed_path: str  # where that definition is


@dataclass(frozen=True)
class ChangedDefinition:
    path: str
    index: int  # into the file's defs
    name: str
    start_line: int
    end_line: int


def changed_definitions(
    index: IndexView, changes: dict[str, list[tuple[int, int]]]
) -> list[ChangedDefinition]:
    """The innermost functions/classes holding changed lines (repo-relative paths)."""
    found: dict[tuple[str, int], ChangedDefinition] = {}
    for path, ranges in changes.items():
        tags = index.tags(path)
        if tags is None:
            continue
        defs = tags.defs
        for start, end in ranges:
            for line in range(start, min(end, start + 2000) + 1):
                best = -1
                for i, d in enumerate(defs):
                    if d.start > line:
                        break
                    if d.start <= line <= d.end and d.kind not in VALUE_KINDS | {"module"}:
                        best = i
                if best < 0 or (path, best) in found:
                    continue
                d = defs[best]
                found[(path, best)] = ChangedDefinition(path, best, d.name, d.start, d.end)
                if len(found) >= MAX_DEFINITIONS:
                    return list(found.values())
    return list(found.values())


def _enclosing_function(index: IndexView, path: str, line: int) -> tuple[int, int] | None:
    tags = index.tags(path)
    span = None
    for d in tags.defs if tags is not None else ():
        if d.start > line:
            break
        if d.start <= line <= d.end and d.kind not in VALUE_KINDS:
            span = (d.start, d.end)
    return span


def callers_of_changes(index: IndexView, changes: dict[str, list[tuple[int, int]]]) -> list[Caller]:
    """Code that uses the definitions holding the changed lines, outside those definitions.

    changes: repo-relative path -> changed 1-based line ranges. A calling definition up to
    2 x CALLER_WINDOW lines long comes whole, a longer one as the lines around the use.
    """
    out: list[Caller] = []
    taken: set[tuple[str, int, int]] = set()
    for changed in changed_definitions(index, changes):
        name = changed.name
        if len(name) < MIN_NAME:
            continue
        users = index.files_using(name)
        if sum(users.values()) <= 1 or len(users) > MAX_USING_FILES:
            continue  # only its own definition uses it, or everything does
        word = re.compile(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])")
        count = 0
        # library code before tests, then the files that use it most
        for path in sorted(users, key=lambda p: (is_test_file(p), -users[p], p)):
            if count >= MAX_CALLERS_PER_DEFINITION:
                break
            lines = index.lines(path)
            for n, text in enumerate(lines, 1):
                if name not in text or _NOT_A_USE.match(text):
                    continue
                if not word.search(_STRING.sub('""', text)):
                    continue  # only inside a string literal
                if path == changed.path and changed.start_line <= n <= changed.end_line:
                    continue  # the definition itself
                span = _enclosing_function(index, path, n) or (1, len(lines))
                if span[1] - span[0] <= 2 * CALLER_WINDOW:
                    start, end = span
                else:  # the lines around the use, inside its definition
                    start, end = max(span[0], n - CALLER_WINDOW), min(span[1], n + CALLER_WINDOW)
                if path == changed.path and start <= changed.end_line and changed.start_line <= end:
                    continue  # it would repeat the changed code
                if (path, start, end) in taken:
                    continue
                taken.add((path, start, end))
                out.append(Caller(path, start, end, name, changed.path))
                count += 1
                if count >= MAX_CALLERS_PER_DEFINITION:
                    break
    return out
