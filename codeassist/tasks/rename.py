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


@dataclass(frozen=True, order=True)
class Occurrence:
    """One place a local name is written."""

    span: Span
    shorthand: bool = False  # JS `{total}`: the key stays, the value is renamed


def local_occurrences(path: str, text: str, span: Span) -> list[Occurrence] | None:
    """Every occurrence of the local variable or parameter at span, within its scope.

    None when the name at span is not local to a function (a module-level or global name, an
    attribute, an imported name, or a language whose scopes are not modelled here: Python,
    JavaScript and TypeScript are), so that the repository index decides.
    """
    grammar = grammar_for_path(path, text)
    if grammar is None or span.start_line != span.end_line:
        return None
    if grammar.name != "python" and grammar.name not in _JS_LANGUAGES:
        return None
    lines = split_lines(text)
    if not 0 <= span.start_line < len(lines):
        return None
    line = lines[span.start_line]
    start = (span.start_line, len(line[: span.start_col].encode("utf-8")))
    end = (span.start_line, len(line[: span.end_col].encode("utf-8")))
    node = parse(text, grammar).root_node.descendant_for_point_range(start, end)
    if node is None:
        return None
    found = _python_uses(node) if grammar.name == "python" else _js_uses(node)
    if found is None:
        return None
    here = _span_of(node, lines)
    occurrences = sorted({Occurrence(_span_of(n, lines), n.type in _JS_SHORTHANDS) for n in found})
    return occurrences if any(o.span == here for o in occurrences) else None


def plan_local_rename(
    path: str, document: Document, occurrences: list[Occurrence], old: str, new: str
) -> FileEdit:
    """The edit renaming old to new at occurrences (from local_occurrences) in document."""
    grammar = grammar_for_path(path, document.text)
    check_new_name(old, new, grammar.name if grammar else None)
    lines = split_lines(document.text)
    edits = []
    for occurrence in occurrences:
        span = occurrence.span
        line = lines[span.start_line] if span.start_line < len(lines) else ""
        if line[span.start_col : span.end_col] != old:
            raise EditRefused(
                f"refused: line {span.start_line + 1} no longer holds '{old}' where it was "
                f"found; nothing was renamed. Try again."
            )
        edits.append(TextEdit(span, f"{old}: {new}" if occurrence.shorthand else new))
    after = apply_edits(document.text, edits)
    check_edit_syntax(path, document.text, after)
    return FileEdit(path, document.version, edits)


def _python_uses(node: tree_sitter.Node) -> list[tree_sitter.Node] | None:
    if node.type != "identifier" or not _is_variable(node):
        return None
    name = node.text.decode("utf-8") if node.text else ""
    scope = _defining_scope(node, name)
    return None if scope is None else _uses_in(scope, name)


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


# --- JavaScript / TypeScript: lexical scopes, let/const per block, var per function -------------

_JS_LANGUAGES = frozenset({"javascript", "typescript", "tsx"})
_JS_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
_JS_BLOCKS = frozenset(
    {"statement_block", "for_statement", "for_in_statement", "catch_clause", "switch_body"}
)
_JS_SHORTHANDS = frozenset(
    {"shorthand_property_identifier", "shorthand_property_identifier_pattern"}
)
_JS_NAMES = frozenset({"identifier"}) | _JS_SHORTHANDS
# Pattern nodes a declared name may sit in: `const {a, b: [c]} = ...`, `(x = 1, ...rest)`.
_JS_PATTERNS = frozenset(
    {
        "object_pattern",
        "array_pattern",
        "pair_pattern",
        "assignment_pattern",
        "rest_pattern",
        "required_parameter",
        "optional_parameter",
    }
)


def _js_uses(node: tree_sitter.Node) -> list[tree_sitter.Node] | None:
    if node.type not in _JS_NAMES:
        return None
    name = node.text or b""
    declared: dict[int, set[bytes]] = {}  # scope node id -> the names it declares
    scope = _js_resolve(node, name, declared)
    if scope is None or scope.type == "program":
        return None  # a module-level or undeclared (global) name: the index's business
    uses = []
    stack = [scope]
    while stack:
        current = stack.pop()
        if current.type in _JS_NAMES and current.text == name:
            resolved = _js_resolve(current, name, declared)
            if resolved is not None and resolved.id == scope.id:
                uses.append(current)
        stack.extend(current.children)
    return uses


def _js_resolve(
    node: tree_sitter.Node, name: bytes, declared: dict[int, set[bytes]]
) -> tree_sitter.Node | None:
    """The scope node whose declaration of name node refers to (None: undeclared)."""
    declares_here = _js_binding_scope(node)
    scope = node.parent
    while scope is not None:
        if declares_here is not None and declares_here.id == scope.id:
            return scope
        if _js_is_scope(scope):
            if scope.id not in declared:
                declared[scope.id] = _js_declared(scope)
            if name in declared[scope.id]:
                return scope
        scope = scope.parent
    return None


def _js_is_scope(node: tree_sitter.Node) -> bool:
    return node.type in _JS_FUNCTIONS or node.type in _JS_BLOCKS or node.type == "program"


def _js_declared(scope: tree_sitter.Node) -> set[bytes]:
    """Names declared with scope as their scope (let/const/class/function per block, var
    per function, parameters, catch and for-loop variables)."""
    names: set[bytes] = set()
    stack = list(scope.children)
    while stack:
        node = stack.pop()
        if node.type in _JS_NAMES:
            bound = _js_binding_scope(node)
            if bound is not None and bound.id == scope.id and node.text:
                names.add(node.text)
            continue
        stack.extend(node.children)
    return names


def _js_binding_scope(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The scope a declaring occurrence binds its name in; None for a reference."""
    target = node
    while target.parent is not None and target.parent.type in _JS_PATTERNS:
        parent = target.parent
        if parent.type == "pair_pattern" and not _field_is(parent, "value", target):
            return None  # the key of `{key: name}` names a property
        if parent.type == "assignment_pattern" and not _field_is(parent, "left", target):
            return None  # a default value is a reference
        target = parent
    parent = target.parent
    if parent is None:
        return None
    kind = parent.type
    if kind == "variable_declarator" and _field_is(parent, "name", target):
        declaration = parent.parent
        if declaration is not None and declaration.type == "variable_declaration":
            return _js_enclosing(declaration, functions_only=True)
        return _js_enclosing(parent, functions_only=False)
    if kind == "formal_parameters":
        return parent.parent
    if kind == "arrow_function" and _field_is(parent, "parameter", target):
        return parent
    if kind == "catch_clause" and _field_is(parent, "parameter", target):
        return parent
    if kind == "for_in_statement" and _field_is(parent, "left", target):
        keywords = {c.type for c in parent.children}
        if "var" in keywords:
            return _js_enclosing(parent, functions_only=True)
        return parent if keywords & {"let", "const"} else None
    if not _field_is(parent, "name", target):
        return None
    if kind in ("function_declaration", "generator_function_declaration", "class_declaration"):
        return _js_enclosing(parent, functions_only=False)
    if kind in ("function_expression", "function", "generator_function", "class"):
        return parent  # a named function expression sees its own name only
    return None


def _js_enclosing(node: tree_sitter.Node, *, functions_only: bool) -> tree_sitter.Node | None:
    scope = node.parent
    while scope is not None:
        if scope.type in _JS_FUNCTIONS or scope.type == "program":
            return scope
        if not functions_only and scope.type in _JS_BLOCKS:
            return scope
        scope = scope.parent
    return None
