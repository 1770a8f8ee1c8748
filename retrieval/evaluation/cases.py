"""Retrieval eval cases from a Python repository, found with the standard `ast` module.

Independent of the retriever on purpose (no tree-sitter, no shared resolver): a case is a
use of a name defined in ANOTHER file of the repository, with the buffer cut where that name
starts on its line. Definitions in the same file are never cases. Two groups, reported apart:

- imported name: a call of an imported function or class, `module.func(`, `Class.method(`;
- member access: `x.method(` where `method` is a method of a class in another file, and
  either no other function or method in the repository has that name, or `x` was built from
  the class in the same function (`x = Class(...)`). The buffer ends at `x.`.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import collections
import datetime
import io
import json
import logging
import pathlib
import queue
import random
import re
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """Where the needed definition is."""

    path: str
    name: str
    start_line: int  # first line of the definition (decorators included)
    header_line: int  # the `def`/`class` line
    end_line: int


@dataclass
class Case:
    """Ask for context at (line, col) of `path` whose text is `buffer`; expect `target`."""

    path: str
    line: int  # 1-based
    col: int  # 0-based character column where the symbol starts
    buffer: str  # the file cut at (line, col)
    symbol: str
    kind: str  # "call", "module attribute", "method" (imported name); "member access"
    target: Target

    @property
    def group(self) -> str:
        """The case group pass rates are reported by: "member access" or "imported name"."""
        return group_of(self.kind)


MEMBER_ACCESS = "member access"
IMPORTED_NAME = "imported name"
GROUPS = (IMPORTED_NAME, MEMBER_ACCESS)


def group_of(kind: str) -> str:
    """'member access' for uses of a method through an object; 'imported name' otherwise."""
    return MEMBER_ACCESS if kind in (MEMBER_ACCESS, "instance method") else IMPORTED_NAME


@dataclass
class _Module:
    path: str
    defs: dict[str, Target] = field(default_factory=dict)  # top-level functions/classes
    methods: dict[str, dict[str, Target]] = field(default_factory=dict)  # class -> name -> t
    bases: dict[str, list[str]] = field(default_factory=dict)  # class -> base names (local)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (mod, name)
    imported: set[str] = field(default_factory=set)  # every name an import binds
    tree: ast.Module | None = None


def _python_files(root: Path) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "*.py"], cwd=root, capture_output=True, check=True
        ).stdout.decode("utf-8", "replace")
        return sorted(p for p in out.split("\0") if p.endswith(".py"))
    except (OSError, subprocess.CalledProcessError):
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))


def _module_name(path: str, paths: set[str]) -> str:
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    # the package root: the highest directory that still has an __init__.py
    start = len(parts) - 1
    while start > 0 and "/".join(parts[:start]) + "/__init__.py" in paths:
        start -= 1
    if "/".join(parts[: start + 1]) + "/__init__.py" not in paths and start < len(parts) - 1:
        start += 1
    return ".".join(parts[start:])


def _target(path: str, node: ast.AST) -> Target:
    decos = getattr(node, "decorator_list", [])
    start = min([node.lineno] + [d.lineno for d in decos])
    return Target(path, node.name, start, node.lineno, node.end_lineno or node.lineno)


def _load(root: Path, path: str, modname: str) -> _Module | None:
    try:
        src = (root / path).read_text("utf-8")
        tree = ast.parse(src)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    m = _Module(path, tree=tree)
    pkg = modname if path.endswith("__init__.py") else modname.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            m.defs[node.name] = _target(path, node)
        elif isinstance(node, ast.ClassDef):
            m.defs[node.name] = _target(path, node)
            m.methods[node.name] = {
                b.name: _target(path, b)
                for b in node.body
                if isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            m.bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".") if pkg else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            for a in node.names:
                if a.name != "*":
                    m.imports[a.asname or a.name] = (base, a.name)
                    m.imported.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                m.imported.add(a.asname or a.name.split(".")[0])
                if a.asname:
                    m.imports[a.asname] = (a.name, None)
    return m


class _Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        files = _python_files(root)
        pset = set(files)
        self.modules: dict[str, _Module] = {}
        self.by_path: dict[str, _Module] = {}
        for p in files:
            name = _module_name(p, pset)
            m = _load(root, p, name)
            if m is not None:
                self.modules.setdefault(name, m)
                self.by_path[p] = m

    def resolve(self, mod: str, name: str | None, depth: int = 0) -> Target | str | None:
        """A definition (Target), a module name (str), or None; follows re-exports."""
        if name is None:
            return mod if mod in self.modules else None
        sub = f"{mod}.{name}" if mod else name
        m = self.modules.get(mod)
        if m is not None:
            if name in m.defs:
                return m.defs[name]
            if name in m.imports and depth < 4:
                return self.resolve(*m.imports[name], depth + 1)
        if sub in self.modules:
            return sub
        return None

    def method(self, cls: Target, name: str, depth: int = 0) -> Target | None:
        m = self.by_path.get(cls.path)
        if m is None or cls.name not in m.methods:
            return None
        if name in m.methods[cls.name]:
            return m.methods[cls.name][name]
        if depth < 3:
            for b in m.bases.get(cls.name, []):
                t = m.defs.get(b)
                if t is None and b in m.imports:
                    r = self.resolve(*m.imports[b])
                    t = r if isinstance(r, Target) else None
                if isinstance(t, Target):
                    found = self.method(t, name, depth + 1)
                    if found is not None:
                        return found
        return None


def _cut(src_lines: list[str], line: int, col: int) -> str:
    return "\n".join(src_lines[: line - 1] + [src_lines[line - 1][:col]])


def _unique_methods(repo: _Repo) -> dict[str, Target]:
    """Method name -> its definition, for names that one method alone in the repository has.

    Any other function or method of the same name (nested, module level, another class), or
    a class attribute assigned that name, makes it ambiguous: only the receiver's type could
    tell them apart.
    """
    count: dict[str, int] = {}
    methods: dict[str, Target] = {}
    for path, m in repo.by_path.items():
        for node in ast.walk(m.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                count[node.name] = count.get(node.name, 0) + 1
            elif isinstance(node, ast.ClassDef):
                for b in node.body:
                    if isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef):
                        methods[b.name] = _target(path, b)
                    elif isinstance(b, ast.Assign):  # `get = other_method`: a definition too
                        for t in b.targets:
                            if isinstance(t, ast.Name):
                                count[t.id] = count.get(t.id, 0) + 1
    return {
        name: t
        for name, t in methods.items()
        if count.get(name) == 1 and not (name.startswith("__") and name.endswith("__"))
    }


# Methods of builtin and common standard-library objects: `items.extend(` is a list's and
# `fp.read(` a file's even when one class of the repository has a method of that name.
_FOREIGN_TYPES = (
    list, dict, set, frozenset, str, bytes, bytearray, int, float, complex, tuple, type,
    BaseException, io.TextIOWrapper, io.BufferedReader, io.BytesIO, threading.Event,
    threading.Thread, threading.Lock, re.Match, re.Pattern, logging.Logger, socket.socket,
    collections.OrderedDict, collections.deque, pathlib.Path, subprocess.Popen,
    datetime.datetime, argparse.ArgumentParser, queue.Queue,
)  # fmt: skip
_BUILTIN_MEMBERS = frozenset(name for t in _FOREIGN_TYPES for name in dir(t))
_BUILTIN_NAMES = frozenset(dir(builtins))


def _root_name(expr: ast.AST) -> str | None:
    """The name a receiver chain starts from (`a` of `a.b().c[0]`); None for literals."""
    while isinstance(expr, ast.Attribute | ast.Call | ast.Subscript):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _assigned_values(scope: ast.AST) -> dict[str, list[ast.AST]]:
    """Name -> the expressions assigned to it in scope (`=`, annotated `=`, `with ... as`)."""
    out: dict[str, list[ast.AST]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out.setdefault(t.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and node.value and isinstance(node.target, ast.Name):
            out.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            out.setdefault(node.optional_vars.id, []).append(node.context_expr)
    return out


def _foreign(name: str | None, m: _Module, local: dict, values: dict[str, list[ast.AST]]) -> bool:
    """Whether a receiver rooted at `name` may be an object from outside the repository.

    Outside: literals, builtins, names imported from elsewhere (or repository modules: those
    are module attributes, not member access), and variables assigned from any of those.
    """
    if name in ("self", "cls"):
        return False
    if name is None:
        return True
    if name in m.imported:
        return not isinstance(local.get(name), Target)
    assigned = values.get(name, [])
    if not assigned and name in _BUILTIN_NAMES:
        return True
    for value in assigned:
        root = _root_name(value)
        if root is None or (root in m.imported and not isinstance(local.get(root), Target)):
            return True
        if root in _BUILTIN_NAMES and root not in m.defs and root not in values:
            return True
    return False


def _functions(tree: ast.Module) -> list[tuple[ast.AST, ast.ClassDef | None]]:
    """Module-level functions and the methods of module-level classes (with their class)."""
    funcs: list[tuple[ast.AST, ast.ClassDef | None]] = [
        (fn, None) for fn in tree.body if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            funcs += [
                (fn, cls)
                for fn in cls.body
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
    return funcs


def _self_attributes(cls: ast.ClassDef) -> dict[str, list[ast.AST]]:
    """`self.NAME = value` anywhere in the class's methods: NAME -> values."""
    out: dict[str, list[ast.AST]] = {}
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                ):
                    out.setdefault(t.attr, []).append(node.value)
    return out


def _self_attribute(expr: ast.AST) -> str | None:
    """NAME for a receiver chain that starts `self.NAME`, else None."""
    while isinstance(expr, ast.Attribute | ast.Call | ast.Subscript):
        inner = expr.func if isinstance(expr, ast.Call) else expr.value
        if isinstance(expr, ast.Attribute) and isinstance(inner, ast.Name) and inner.id == "self":
            return expr.attr
        expr = inner
    return None


def _file_cases(
    repo: _Repo, path: str, m: _Module, lines: list[str], unique: dict[str, Target]
) -> list[tuple]:
    """(path, line, col, symbol, kind, target) for every usable call in one file."""
    local: dict[str, Target | str] = {}
    for name, (mod, orig) in m.imports.items():
        r = repo.resolve(mod, orig)
        if r is not None:
            local[name] = r
    cases: list[tuple] = []
    module_values = _assigned_values(m.tree)
    for fn, cls in _functions(m.tree):
        values = {**module_values, **_assigned_values(fn)}
        attributes = _self_attributes(cls) if cls is not None else {}
        cls_target = m.defs.get(cls.name) if cls is not None else None
        instances: dict[str, Target] = {}
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
            ):
                t = local.get(node.value.func.id)
                if isinstance(t, Target) and t.path != path:
                    instances[node.targets[0].id] = t
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            case = None
            if isinstance(f, ast.Name) and isinstance(local.get(f.id), Target):
                t = local[f.id]
                case = (f.lineno, f.col_offset, f.id, "call", t)
            elif isinstance(f, ast.Attribute):
                line, col = f.end_lineno, f.end_col_offset - len(f.attr)
                recv = f.value.id if isinstance(f.value, ast.Name) else None
                r = local.get(recv) if recv else None
                t = None
                kind = ""
                if isinstance(r, str):
                    t = repo.resolve(r, f.attr)
                    kind = "module attribute"
                elif isinstance(r, Target):
                    t = repo.method(r, f.attr)
                    kind = "method"
                elif recv in instances:
                    t = repo.method(instances[recv], f.attr)
                    kind = MEMBER_ACCESS
                elif recv == "self" and cls_target is not None:
                    t = repo.method(cls_target, f.attr)  # the class's own or a base's
                    kind = MEMBER_ACCESS
                elif (
                    f.attr in unique
                    and f.attr not in _BUILTIN_MEMBERS
                    and not _foreign(_root_name(f.value), m, local, values)
                    and not any(
                        _foreign(_root_name(v), m, local, values)
                        for v in attributes.get(_self_attribute(f.value) or "", ())
                    )
                ):
                    t = unique[f.attr]
                    kind = MEMBER_ACCESS
                if isinstance(t, Target):
                    case = (line, col, f.attr, kind, t)
            if case is None:
                continue
            line, col, sym, kind, t = case
            if t.path == path or line > len(lines):
                continue
            if lines[line - 1][col : col + len(sym)] != sym:
                continue  # multi-line or unusual layout: skip rather than guess
            cases.append((path, line, col, sym, kind, t))
    return cases


def _sample(found: dict[str, list[tuple]], n: int, seed: int, per_file: int) -> list[tuple]:
    """Up to n cases, at most per_file from each file, spread over the files."""
    rng = random.Random(seed)
    out: list[tuple] = []
    files = sorted(found)
    rng.shuffle(files)
    for p in files:
        picks = sorted(found[p])
        rng.shuffle(picks)
        out.extend(picks[:per_file])
    rng.shuffle(out)
    return out[:n]


def build_cases(
    root: Path, n: int, seed: int = 0, per_file: int = 3, groups: tuple[str, ...] = GROUPS
) -> list[Case]:
    """Up to `n` cases of each group in `groups`, spread over the repository's files.

    Deterministic for a seed.
    """
    repo = _Repo(root)
    unique = _unique_methods(repo) if MEMBER_ACCESS in groups else {}
    found: dict[str, dict[str, list[tuple]]] = {g: {} for g in groups}
    texts: dict[str, list[str]] = {}
    for path, m in repo.by_path.items():
        try:
            lines = (root / path).read_text("utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        for case in _file_cases(repo, path, m, lines, unique):
            group = group_of(case[4])
            if group in found:
                found[group].setdefault(path, []).append(case)
                texts[path] = lines
    out = []
    for group in groups:
        for p, line, col, sym, kind, t in _sample(found[group], n, seed, per_file):
            out.append(Case(p, line, col, _cut(texts[p], line, col), sym, kind, t))
    return out


TS_SCRIPT = Path(__file__).with_name("ts_cases.js")


def build_ts_cases(root: Path, n: int, typescript_js: Path, seed: int = 0) -> list[Case]:
    """Cases from a TypeScript/JavaScript repository, resolved by the TypeScript compiler.

    Needs `node` and a `typescript.js` (e.g. from `npm pack typescript`).
    """
    out = subprocess.run(
        ["node", str(TS_SCRIPT), str(root), str(typescript_js), str(n), str(seed)],
        capture_output=True,
        text=True,
        check=True,
    )
    cases = []
    texts: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        c = json.loads(line)
        if c["path"] not in texts:
            texts[c["path"]] = (root / c["path"]).read_text("utf-8").split("\n")
        t = c["target"]
        target = Target(t["path"], t["name"], t["start_line"], t["header_line"], t["end_line"])
        buf = _cut(texts[c["path"]], c["line"], c["col"])
        cases.append(Case(c["path"], c["line"], c["col"], buf, c["symbol"], c["kind"], target))
    return cases
