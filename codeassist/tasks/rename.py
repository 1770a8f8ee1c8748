"""Rename a symbol: a function's local name within its scope by the syntax tree, any other
name at exactly the places the retrieval index knows, across the workspace.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from codeassist.tasks.edits import EditRefused, FileEdit, Span, TextEdit, apply_edits, split_lines
from codeassist.tasks.syntax_check import check_edit_syntax, grammar_for_path, parse


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
    if not new.strip():
        raise EditRefused("the new name is empty; type the name to rename to.")
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


# --- local names: the syntax tree knows their whole scope -------------------------------------

# Python scopes (a class body is one too, but nested functions do not see it).
_FUNCTIONS = frozenset({"function_definition", "lambda"})
_COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
_SCOPES = _FUNCTIONS | _COMPREHENSIONS | {"class_definition"}
_TARGET_PARTS = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "list_splat_pattern",
        "dictionary_splat_pattern",
    }
)
_PARAMETER_LISTS = frozenset({"parameters", "lambda_parameters"})


def local_occurrences(path: str, text: str, span: Span) -> list[Span] | None:
    """Every occurrence of the local variable or parameter at span, within its scope.

    None when the name at span is not local to a function (a module-level or global name, an
    attribute, an imported name, or a language whose scopes are not modelled here: Python's
    are), so that the repository index decides.
    """
    grammar = grammar_for_path(path, text)
    if grammar is None or grammar.name != "python" or span.start_line != span.end_line:
        return None
    lines = split_lines(text)
    if not 0 <= span.start_line < len(lines):
        return None
    line = lines[span.start_line]
    start = (span.start_line, len(line[: span.start_col].encode("utf-8")))
    end = (span.start_line, len(line[: span.end_col].encode("utf-8")))
    node = parse(text, grammar).root_node.descendant_for_point_range(start, end)
    if node is None or node.type != "identifier" or not _is_variable(node):
        return None
    name = node.text.decode("utf-8") if node.text else ""
    scope = _defining_scope(node, name)
    if scope is None:
        return None
    found = sorted({_span_of(n, lines) for n in _uses_in(scope, name)})
    here = _span_of(node, lines)
    return found if here in found else None


def plan_local_rename(
    path: str, document: Document, spans: list[Span], old: str, new: str
) -> FileEdit:
    """The edit renaming old to new at spans (from local_occurrences) in document."""
    grammar = grammar_for_path(path, document.text)
    check_new_name(old, new, grammar.name if grammar else None)
    lines = split_lines(document.text)
    edits = []
    for span in spans:
        line = lines[span.start_line] if span.start_line < len(lines) else ""
        if line[span.start_col : span.end_col] != old:
            raise EditRefused(
                f"refused: line {span.start_line + 1} no longer holds '{old}' where it was "
                f"found; nothing was renamed. Try again."
            )
        edits.append(TextEdit(span, new))
    after = apply_edits(document.text, edits)
    check_edit_syntax(path, document.text, after)
    return FileEdit(path, document.version, edits)


def _span_of(node: tree_sitter.Node, lines: list[str]) -> Span:
    row = node.start_point.row
    data = lines[row].encode("utf-8") if row < len(lines) else b""
    start = len(data[: node.start_point.column].decode("utf-8", "replace"))
    end = len(data[: node.end_point.column].decode("utf-8", "replace"))
    return Span(row, start, row, end)


def _field_is(parent: tree_sitter.Node, field: str, node: tree_sitter.Node) -> bool:
    child = parent.child_by_field_name(field)
    return child is not None and child.id == node.id


def _is_variable(node: tree_sitter.Node) -> bool:
    """Whether an identifier names a variable (not an attribute, keyword or import path)."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "attribute" and _field_is(parent, "attribute", node):
        return False
    if parent.type == "keyword_argument" and _field_is(parent, "name", node):
        return False
    if parent.type == "dotted_name":
        return _in_case_pattern(parent)
    return parent.type not in ("keyword_pattern", "aliased_import")


def _is_import(node: tree_sitter.Node) -> bool:
    """Whether an identifier is part of an import statement (a module path or an alias)."""
    parent = node.parent
    if parent is not None and parent.type == "aliased_import":
        return True
    grand = parent.parent if parent is not None and parent.type == "dotted_name" else None
    return grand is not None and grand.type in (
        "import_statement",
        "import_from_statement",
        "aliased_import",
    )


def _in_case_pattern(node: tree_sitter.Node) -> bool:
    """A one-name dotted_name inside a case pattern is a capture (a binding)."""
    if node.named_child_count != 1:
        return False
    while node.parent is not None:
        node = node.parent
        if node.type == "case_pattern":
            return True
        if node.type in ("case_clause", "block"):
            return False
    return False


def _is_binding(node: tree_sitter.Node) -> bool:
    """Whether this identifier binds its name in the scope it is in."""
    target = node
    while target.parent is not None and target.parent.type in _TARGET_PARTS:
        target = target.parent
    parent = target.parent
    if parent is None:
        return False
    kind = parent.type
    if kind in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return _field_is(parent, "left", target)
    if kind in ("function_definition", "class_definition", "named_expression"):
        return _field_is(parent, "name", target)
    if kind in ("default_parameter", "typed_default_parameter"):
        return _field_is(parent, "name", target)
    if kind == "typed_parameter":
        first = parent.named_children[0] if parent.named_children else None
        return first is not None and first.id == target.id
    if kind == "dotted_name":
        return _in_case_pattern(parent)
    return kind in _PARAMETER_LISTS or kind in ("as_pattern_target", "delete_statement")


def _scope_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The innermost scope an identifier is in (None: the module).

    A function's or class's own name belongs to the scope around it.
    """
    child, parent = node, node.parent
    while parent is not None:
        if parent.type in _SCOPES and not _field_is(parent, "name", child):
            return parent
        child, parent = parent, parent.parent
    return None


def _declared(scope: tree_sitter.Node, name: str) -> str | None:
    """How scope holds name: "local", "global", "nonlocal", "import", or None (free)."""
    found: str | None = None
    for node in _own_identifiers(scope, name):
        kind = node.parent.type if node.parent is not None else ""
        if kind in ("global_statement", "nonlocal_statement"):
            return kind.split("_")[0]
        if _is_import(node):
            found = "import"
        elif found is None and _is_binding(node):
            found = "local"
    return found


def _own_identifiers(scope: tree_sitter.Node, name: str):
    """Identifiers named name in scope itself, not in the scopes nested in it."""
    stack = list(scope.children)
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            if node.text == name.encode("utf-8"):
                yield node
            continue
        if node.type in _SCOPES:
            inner_name = node.child_by_field_name("name")
            if inner_name is not None and inner_name.text == name.encode("utf-8"):
                yield inner_name  # def NAME / class NAME binds in this scope
            continue
        stack.extend(node.children)


def _defining_scope(node: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    """The function (or comprehension) scope whose local the name at node is; None if none."""
    scope = _scope_of(node)
    first = True
    while scope is not None:
        if scope.type == "class_definition" and not first:
            scope = _scope_of(scope)  # nested functions do not see a class body's names
            continue
        held = _declared(scope, name)
        if held in ("global", "import"):
            return None
        if held == "local":
            return None if scope.type == "class_definition" else scope
        first = False
        scope = _scope_of(scope)
    return None


def _uses_in(scope: tree_sitter.Node, name: str) -> list[tree_sitter.Node]:
    """The identifiers in scope (and the nested scopes that do not rebind it) naming name."""
    uses = []
    stack = list(scope.children)
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            if node.text == name.encode("utf-8") and _is_variable(node):
                uses.append(node)
            continue
        if node.type in _SCOPES:
            inner_name = node.child_by_field_name("name")
            if inner_name is not None and inner_name.text == name.encode("utf-8"):
                uses.append(inner_name)
            if _declared(node, name) is None or _declared(node, name) == "nonlocal":
                stack.extend(c for c in node.children if c != inner_name)
            continue
        stack.extend(node.children)
    return uses
