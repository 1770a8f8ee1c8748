"""What a refactor acts on: the identifier at the cursor, the definition around a line."""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from codeassist.tasks.edits import Span, split_lines
from codeassist.tasks.syntax_check import Grammar, parse

FUNCTION_TYPES = frozenset(
    {
        "function_definition",
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "method_declaration",
        "constructor_declaration",
        "function_item",
        "method",
        "singleton_method",
    }
)
CLASS_TYPES = frozenset(
    {
        "class_definition",
        "class_declaration",
        "interface_declaration",
        "class_specifier",
        "struct_specifier",
        "impl_item",
        "class",
        "module",
    }
)
# Languages where a function cannot live outside a class: extracted functions go beside the method.
_METHODS_ONLY = frozenset({"java"})


@dataclass(frozen=True)
class Symbol:
    name: str
    span: Span


@dataclass(frozen=True)
class Definition:
    kind: str  # "function" or "class"
    name: str
    span: Span  # whole lines, decorators included


def _char_col(lines: list[str], row: int, byte_col: int) -> int:
    line = lines[row] if row < len(lines) else ""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def _byte_col(lines: list[str], row: int, col: int) -> int:
    line = lines[row] if row < len(lines) else ""
    return len(line[:col].encode("utf-8"))


def _is_identifier(node: tree_sitter.Node) -> bool:
    return node.type.endswith("identifier") or node.type == "constant"


def identifier_at(text: str, grammar: Grammar, line: int, col: int) -> Symbol | None:
    """The identifier under (or just before) the cursor, if any."""
    lines = split_lines(text)
    if not 0 <= line < len(lines):
        return None
    root = parse(text, grammar).root_node
    for candidate in (col, col - 1):
        if candidate < 0:
            continue
        point = (line, _byte_col(lines, line, candidate))
        node = root.descendant_for_point_range(point, point)
        if node is not None and _is_identifier(node) and node.start_point.row == line:
            start = _char_col(lines, line, node.start_point.column)
            end = _char_col(lines, node.end_point.row, node.end_point.column)
            name = lines[line][start:end]
            return Symbol(name, Span(line, start, line, end))
    return None


def _definition(node: tree_sitter.Node, lines: list[str]) -> Definition:
    outer = node.parent if node.parent and node.parent.type == "decorated_definition" else node
    end_row = outer.end_point.row
    if outer.end_point.column == 0 and end_row > outer.start_point.row:
        end_row -= 1
    name_node = node.child_by_field_name("name")
    name = name_node.text.decode("utf-8", "replace") if name_node and name_node.text else ""
    kind = "function" if node.type in FUNCTION_TYPES else "class"
    return Definition(kind, name, Span(outer.start_point.row, 0, end_row, len(lines[end_row])))


def enclosing_definitions(text: str, grammar: Grammar, span: Span) -> list[Definition]:
    """Functions and classes that contain span, innermost first."""
    lines = split_lines(text)
    root = parse(text, grammar).root_node
    start = (span.start_line, _byte_col(lines, span.start_line, span.start_col))
    end = (span.end_line, _byte_col(lines, span.end_line, span.end_col))
    node = root.descendant_for_point_range(start, end)
    found = []
    while (
        node is not None and node.parent is not None
    ):  # the root (Python's "module") is no definition
        if node.type in FUNCTION_TYPES or node.type in CLASS_TYPES:
            found.append(_definition(node, lines))
        node = node.parent
    return found


def new_function_line(text: str, grammar: Grammar, span: Span) -> tuple[int, str]:
    """(line, indentation) where a function extracted from span goes: before its definition.

    Top level before the outermost definition around span (a module-level helper); in
    languages without free functions, beside the innermost enclosing method.
    """
    around = enclosing_definitions(text, grammar, span)
    if not around:
        return span.start_line, ""
    if grammar.name in _METHODS_ONLY:
        methods = [d for d in around if d.kind == "function"]
        target = methods[0] if methods else around[0]
    else:
        target = around[-1]
    line = split_lines(text)[target.span.start_line]
    return target.span.start_line, line[: len(line) - len(line.lstrip(" \t"))]
