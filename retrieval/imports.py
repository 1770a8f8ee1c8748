"""Static import resolution: which repository files (and names) a file's imports point at."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

_PY_FROM = re.compile(r"^\s*from\s+(\.*)([\w.]*)\s+import\s+(.+)$", re.S)
_PY_IMPORT = re.compile(r"^\s*import\s+(.+)$", re.S)
_SKIP_WORDS = frozenset({"use", "import", "static", "crate", "self", "super", "pub", "as"})
_JS_EXT = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts")
_JS_INDEX = ("/index.ts", "/index.tsx", "/index.js", "/index.jsx", "/index.mjs")


@dataclass
class ResolvedImports:
    """Files a file imports, and imported local names -> (file or None, original name)."""

    files: list[str] = field(default_factory=list)
    names: dict[str, tuple[str | None, str]] = field(default_factory=dict)


class ModuleTable:
    """Looks up repository files by module path suffix (for languages without a resolver)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths: set[str] = set()
        self.by_stem: dict[str, list[str]] = {}
        for p in paths:
            self.add(p)

    def add(self, path: str) -> None:
        """Register a file under every tail of its module path (`a/b/c`, `b/c`, `c`)."""
        if path in self.paths:
            return
        self.paths.add(path)
        stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
        stem = stem.removesuffix(".d")
        if stem.endswith(("/__init__", "/mod", "/index")):
            stem = stem.rsplit("/", 1)[0]
        parts = stem.split("/")
        for i in range(len(parts)):
            self.by_stem.setdefault("/".join(parts[i:]), []).append(path)

    def by_module(self, dotted_path: str, near: str, rooted: bool = False) -> str | None:
        """The file for a module path like `a/b/c` (closest to `near` when several match).

        rooted: the path is absolute from a source root (a Python `import a.b`), so the file
        fewest folders below some root wins (`src/flask/` over `tests/x/flask.py`).
        """
        cands = self.by_stem.get(dotted_path)
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        if rooted:
            return min(cands, key=lambda c: (c.count("/"), -_common(c, near), len(c)))
        return max(cands, key=lambda c: (_common(c, near), -len(c)))


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


def _split_names(text: str) -> list[tuple[str, str]]:
    """'a as b, c' -> [(local, original)]."""
    text = text.replace("(", " ").replace(")", " ").replace("\\", " ")
    out = []
    for part in text.split(","):
        bits = part.split()
        if not bits or bits[0].startswith("#"):
            continue
        if len(bits) >= 3 and bits[1] == "as":
            out.append((bits[2], bits[0]))
        else:
            out.append((bits[0], bits[0]))
    return out


def resolve_imports(path: str, lang: str, specs: list[str], table: ModuleTable) -> ResolvedImports:
    """Resolve one file's import specs against the repository's files."""
    out = ResolvedImports()
    here = posixpath.dirname(path)

    def add(f: str | None) -> None:
        if f and f != path and f not in out.files:
            out.files.append(f)

    for spec in specs:
        if lang == "python":
            m = _PY_FROM.match(spec)
            if m:
                dots, mod, names = m.groups()
                if dots:
                    base = here
                    for _ in range(len(dots) - 1):
                        base = posixpath.dirname(base)
                    modpath = posixpath.join(base, mod.replace(".", "/")) if mod else base
                    target = modpath if modpath in table.by_stem else None
                else:
                    modpath = mod.replace(".", "/")
                    target = modpath
                f = table.by_module(target, path, rooted=not dots) if target else None
                add(f)
                for local, orig in _split_names(names):
                    if orig == "*":
                        continue
                    sub = table.by_module(f"{modpath}/{orig}", path, rooted=not dots)
                    if sub:  # a submodule: "*" stands for the module itself
                        add(sub)
                        out.names[local] = (sub, "*")
                    else:
                        out.names[local] = (f, orig)
                continue
            m = _PY_IMPORT.match(spec)
            if m:
                for local, orig in _split_names(m.group(1)):
                    f = table.by_module(orig.replace(".", "/"), path, rooted=True)
                    add(f)
                    if local != orig:  # `import a.b as c`: c is module a.b
                        out.names[local] = (f, "*")
        elif lang in ("javascript", "typescript", "tsx"):
            spec, _tab, names = spec.partition("\t")
            f = None
            if spec.startswith("."):
                base = posixpath.normpath(posixpath.join(here, spec))
                stripped = re.sub(r"\.(m?js|cjs|jsx)$", "", base)
                for cand in [base + e for e in _JS_EXT + _JS_INDEX] + [
                    stripped + e for e in _JS_EXT
                ]:
                    if cand in table.paths:
                        f = cand
                        break
            else:
                f = table.by_module(spec, path)
            add(f)
            for item in names.split(","):
                if item:
                    local, _eq, orig = item.partition("=")
                    out.names[local] = (f, orig or local)
        elif lang == "ruby":
            base = posixpath.normpath(posixpath.join(here, spec)) if spec.startswith(".") else spec
            add(table.by_module(base.removesuffix(".rb"), path))
        else:
            # Go/Rust/Java/C/C++: match the module path's tail against file paths
            m = re.search(r"""["<]([^">]+)[">]""", spec)
            if m:  # C include or Go import path
                target = m.group(1)
                target = target.rsplit(".", 1)[0] if lang in ("c", "cpp") else target
                f = table.by_module(target, path)
                if f is None and lang == "go":
                    # a Go import names a directory (package): take every file in it
                    tail = target.rsplit("/", 1)[-1]
                    for p in sorted(table.paths):
                        if posixpath.basename(posixpath.dirname(p)) == tail:
                            add(p)
                add(f)
                continue
            words = re.findall(r"[A-Za-z_]\w*", spec)
            words = [w for w in words if w not in _SKIP_WORDS]
            for i in range(len(words), 0, -1):
                f = table.by_module("/".join(words[:i]), path)
                if f:
                    add(f)
                    for w in words[i:]:
                        out.names[w] = (f, w)
                    break
    return out
