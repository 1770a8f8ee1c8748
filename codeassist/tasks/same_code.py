"""Checks that "add docstrings" and "add type annotations" changed nothing else (Python).

Both sides are parsed with `ast`; docstrings (or annotations) are removed from both and the
rest must be identical. Code that does not parse on its own (a fragment) is not checked here;
the syntax check of the whole file still applies.
"""

from __future__ import annotations

import ast
import textwrap

from codeassist.tasks.edits import EditRefused

_TYPING_MODULES = {"typing", "collections.abc", "__future__", "typing_extensions"}


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return None


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


_DOCUMENTED = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


def _without_docstrings(tree: ast.Module) -> str:
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:]
    return ast.dump(tree)


class _Unannotate(ast.NodeTransformer):
    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:  # noqa: N802
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AsyncFunctionDef:  # noqa: N802
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt | None:  # noqa: N802
        if node.value is None:
            return None  # `name: Type` alone only declares a type
        return ast.Assign(targets=[node.target], value=node.value)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.stmt | None:  # noqa: N802
        return None if node.module in _TYPING_MODULES else node

    def visit_Import(self, node: ast.Import) -> ast.stmt | None:  # noqa: N802
        return None if all(a.name in _TYPING_MODULES for a in node.names) else node


def _without_annotations(tree: ast.Module) -> str:
    return ast.dump(_Unannotate().visit(tree))


def check_only_docstrings_added(before: str, after: str) -> None:
    """EditRefused when after differs from before by more than docstrings."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return
    if _without_docstrings(old) != _without_docstrings(new):
        raise EditRefused(
            "refused: the model changed code while adding docstrings (only docstrings may be "
            "added); nothing was changed. Try the action again."
        )


def check_only_annotations_added(before: str, after: str) -> None:
    """EditRefused when after differs from before by more than type annotations."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return
    if _without_annotations(old) != _without_annotations(new):
        raise EditRefused(
            "refused: the model changed code while adding type annotations (only annotations "
            "and typing imports may be added); nothing was changed. Try the action again."
        )
