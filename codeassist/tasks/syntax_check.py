"""Syntax checks with tree-sitter: an edit must not break a file that parsed cleanly."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import PurePath

import tree_sitter

from codeassist.tasks.edits import EditRefused
from retrieval import languages


@dataclass(frozen=True)
class Grammar:
    name: str  # e.g. "python"; also the Markdown fence tag used in prompts
    language: tree_sitter.Language


def grammar_for_path(path: str, text: str | None = None) -> Grammar | None:
    """The tree-sitter grammar for a file (extension, then shebang); None if we don't parse it."""
    head = text[:200].encode("utf-8", "replace") if text else None
    name = languages.language_for(path, head)
    if name is None:
        return None
    try:
        return Grammar(name, languages.grammar(name))
    except (ImportError, ValueError):
        return None


def parse(text: str, grammar: Grammar) -> tree_sitter.Tree:
    """The syntax tree of text (the last few are kept: code actions ask on every cursor move)."""
    return _parse(text, grammar.name, grammar.language)


@functools.lru_cache(maxsize=8)
def _parse(text: str, name: str, language: tree_sitter.Language) -> tree_sitter.Tree:
    return tree_sitter.Parser(language).parse(text.encode("utf-8"))


def error_lines(text: str, grammar: Grammar) -> list[int]:
    """0-based lines where the parse has ERROR or MISSING nodes (empty: the text parses)."""
    root = parse(text, grammar).root_node
    if not root.has_error:
        return []
    lines: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            lines.add(node.start_point.row)
            continue
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return sorted(lines)


def check_edit_syntax(path: str, before: str, after: str) -> None:
    """EditRefused when after has syntax errors and before had none (unknown languages pass)."""
    grammar = grammar_for_path(path, before)
    if grammar is None or error_lines(before, grammar):
        return
    broken = error_lines(after, grammar)
    if broken:
        where = ", ".join(str(line + 1) for line in broken[:5])
        raise EditRefused(
            f"refused: the suggested edit would introduce {grammar.name} syntax errors into "
            f"{PurePath(path).name} (line {where} after the edit); the file was left unchanged. "
            f"Try the action again or rephrase the instruction."
        )
