"""Rename a symbol at exactly the places the retrieval index knows, across the workspace."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from codeassist.tasks.edits import EditRefused, FileEdit, Span, TextEdit, apply_edits, split_lines
from codeassist.tasks.syntax_check import check_edit_syntax


@dataclass(frozen=True, order=True)
class Location:
    """Where a name occurs: absolute path, 0-based line and column (code points)."""

    path: str
    line: int
    col: int


@dataclass(frozen=True)
class Document:
    """A file's current text, and its editor version when it is open (None: the file on disk)."""

    text: str
    version: int | None


_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_KEYWORDS: dict[str, frozenset[str]] = {
    "python": frozenset(keyword.kwlist),
    "javascript": frozenset(
        [
            "break",
            "case",
            "catch",
            "class",
            "const",
            "continue",
            "debugger",
            "default",
            "delete",
            "do",
            "else",
            "export",
            "extends",
            "false",
            "finally",
            "for",
            "function",
            "if",
            "import",
            "in",
            "instanceof",
            "let",
            "new",
            "null",
            "return",
            "super",
            "switch",
            "this",
            "throw",
            "true",
            "try",
            "typeof",
            "var",
            "void",
            "while",
            "with",
            "yield",
            "await",
        ]
    ),
    "go": frozenset(
        [
            "break",
            "case",
            "chan",
            "const",
            "continue",
            "default",
            "defer",
            "else",
            "fallthrough",
            "for",
            "func",
            "go",
            "goto",
            "if",
            "import",
            "interface",
            "map",
            "package",
            "range",
            "return",
            "select",
            "struct",
            "switch",
            "type",
            "var",
        ]
    ),
    "rust": frozenset(
        [
            "as",
            "break",
            "const",
            "continue",
            "crate",
            "else",
            "enum",
            "extern",
            "false",
            "fn",
            "for",
            "if",
            "impl",
            "in",
            "let",
            "loop",
            "match",
            "mod",
            "move",
            "mut",
            "pub",
            "ref",
            "return",
            "self",
            "Self",
            "static",
            "struct",
            "super",
            "trait",
            "true",
            "type",
            "unsafe",
            "use",
            "where",
            "while",
            "async",
            "await",
            "dyn",
        ]
    ),
}
_KEYWORDS["typescript"] = _KEYWORDS["tsx"] = _KEYWORDS["javascript"] | frozenset(
    ["interface", "type", "enum", "implements", "declare", "namespace"]
)


def check_new_name(old: str, new: str, language: str | None) -> None:
    """EditRefused unless new is a valid, different identifier that is not a keyword."""
    if new == old:
        raise EditRefused(f"the new name is the same as the old one ('{old}'); nothing to rename.")
    allow_dollar = language in ("javascript", "typescript", "tsx")
    if not _IDENTIFIER.match(new) or ("$" in new and not allow_dollar):
        raise EditRefused(f"'{new}' is not a valid identifier; choose a name like 'new_name'.")
    if new in _KEYWORDS.get(language or "", frozenset()):
        raise EditRefused(f"'{new}' is a reserved word; choose another name.")


def plan_rename(
    old: str,
    new: str,
    locations: Iterable[Location],
    read: Callable[[str], Document],
    language: str | None = None,
) -> list[FileEdit]:
    """One FileEdit per file, replacing old by new at every location and nowhere else.

    Every location must still hold old in the current text (open buffers included); if one
    doesn't, the index is out of date for that file and the whole rename is refused.
    """
    check_new_name(old, new, language)
    by_path: dict[str, list[Location]] = {}
    for location in sorted(set(locations)):
        by_path.setdefault(location.path, []).append(location)
    if not by_path:
        raise EditRefused(f"the index knows no occurrences of '{old}'; nothing was renamed.")
    plans = []
    for path, places in by_path.items():
        document = read(path)
        lines = split_lines(document.text)
        edits = []
        for place in places:
            line = lines[place.line] if 0 <= place.line < len(lines) else ""
            if line[place.col : place.col + len(old)] != old:
                raise EditRefused(
                    f"refused: {Path(path).name}:{place.line + 1} no longer holds '{old}' where "
                    f"the index expects it (the file changed since it was indexed); nothing was "
                    f"renamed. Save the file and try again."
                )
            span = Span(place.line, place.col, place.line, place.col + len(old))
            edits.append(TextEdit(span, new))
        check_edit_syntax(path, document.text, apply_edits(document.text, edits))
        plans.append(FileEdit(path, document.version, edits))
    return plans
