"""Retrieval eval cases from a Python repository, found with the standard `ast` module.

Independent of the retriever on purpose (no tree-sitter, no shared resolver): a case is a
use of a name defined in ANOTHER file of the repository (a call of an imported function, a
method of an imported class or of an instance of one, `module.func`), with the buffer cut
where that name starts on its line. Definitions in the same file are never cases.
"""

from __future__ import annotations

import ast
import json
import random
import subprocess
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
    kind: str  # "call", "module attribute", "method", "instance method"
    target: Target


@dataclass
class _Module:
    path: str
    defs: dict[str, Target] = field(default_factory=dict)  # top-level functions/classes
    methods: dict[str, dict[str, Target]] = field(default_factory=dict)  # class -> name -> t
    bases: dict[str, list[str]] = field(default_factory=dict)  # class -> base names (local)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (mod, name)
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
        elif isinstance(node, ast.Import):
            for a in node.names:
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


def build_cases(root: Path, n: int, seed: int = 0, per_file: int = 3) -> list[Case]:
    """Up to `n` cases spread over the repository's files (deterministic for a seed)."""
    repo = _Repo(root)
    found: dict[str, list[tuple]] = {}
    texts: dict[str, list[str]] = {}
    for path, m in repo.by_path.items():
        try:
            lines = (root / path).read_text("utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        local: dict[str, Target | str] = {}
        for name, (mod, orig) in m.imports.items():
            r = repo.resolve(mod, orig)
            if r is not None:
                local[name] = r
        if not local:
            continue
        cases: list[tuple] = []
        funcs = [fn for fn in m.tree.body if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)]
        for cls in m.tree.body:
            if isinstance(cls, ast.ClassDef):
                funcs += [
                    fn for fn in cls.body if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
        for fn in funcs:
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
                elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                    recv = f.value.id
                    line, col = f.end_lineno, f.end_col_offset - len(f.attr)
                    r = local.get(recv)
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
                        kind = "instance method"
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
        if cases:
            found[path] = cases
            texts[path] = lines
    rng = random.Random(seed)
    out: list[tuple] = []
    files = sorted(found)
    rng.shuffle(files)
    for p in files:
        picks = found[p]
        rng.shuffle(picks)
        out.extend(picks[:per_file])
    rng.shuffle(out)
    return [
        Case(p, line, col, _cut(texts[p], line, col), sym, kind, t)
        for p, line, col, sym, kind, t in out[:n]
    ]


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
