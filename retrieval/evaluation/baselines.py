"""Baselines the retriever must beat at the same budget: none, the import set, BM25 windows.

Each returns the spans it would put in the prompt: (path, start_line, end_line), 1-based.
"""

from __future__ import annotations

import ast
import contextlib
import math
import posixpath
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Span = tuple[str, int, int]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\brequire\s*\(\s*|\bimport\s*\(\s*)['"]([^'"\n]+)['"]""")
WINDOW = 40
STRIDE = 20


def no_retrieval(*_args) -> list[Span]:
    """Nothing but the current file (which never holds the needed definition)."""
    return []


def _pack(
    candidates: list[tuple[str, int, int, str]], budget: int, count: Callable[[str], int]
) -> list[Span]:
    """First-fit in the given order: (path, start, end, text) -> spans within budget."""
    used = 0
    out: list[Span] = []
    for path, start, end, text in candidates:
        n = count(text)
        if used + n <= budget:
            used += n
            out.append((path, start, end))
    return out


class ImportSet:
    """Whole files named by the current buffer's imports, resolved statically, in order."""

    def __init__(self, root: Path, paths: list[str]) -> None:
        self.root = root
        self.modules: dict[str, str] = {}
        self.all_paths = set(paths)
        for p in paths:
            if not p.endswith(".py"):
                continue
            parts = p[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            for i in range(len(parts)):
                self.modules.setdefault(".".join(parts[i:]), p)
        self._text: dict[str, str] = {}

    def text(self, path: str) -> str:
        if path not in self._text:
            try:
                self._text[path] = (self.root / path).read_text("utf-8", "replace")
            except OSError:
                self._text[path] = ""
        return self._text[path]

    def files(self, path: str, buffer: str) -> list[str]:
        if not path.endswith(".py"):
            return self._js_files(path, buffer)
        pkg = path.rsplit("/", 1)[0].replace("/", ".") if "/" in path else ""
        found: list[str] = []
        for stmt in _import_statements(buffer):
            mods: list[str] = []
            if isinstance(stmt, ast.ImportFrom):
                base = stmt.module or ""
                if stmt.level:
                    parts = pkg.split(".") if pkg else []
                    if stmt.level > 1:
                        parts = parts[: len(parts) - (stmt.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                mods.append(base)
                mods += [f"{base}.{a.name}" for a in stmt.names]
            else:
                mods += [a.name for a in stmt.names]
            for mod in mods:
                # the longest suffix of the dotted name that names a file
                parts = mod.split(".")
                for i in range(len(parts)):
                    f = self.modules.get(".".join(parts[i:]))
                    if f:
                        if f != path and f not in found:
                            found.append(f)
                        break
        return found

    def _js_files(self, path: str, buffer: str) -> list[str]:
        """Relative `import ... from './x'` / `require('./x')` resolved with the usual suffixes."""
        here = posixpath.dirname(path)
        found: list[str] = []
        for spec in _JS_IMPORT.findall(buffer):
            if not spec.startswith("."):
                continue
            base = posixpath.normpath(posixpath.join(here, spec))
            for suffix in ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", "/index.ts", "/index.js"):
                if base + suffix in self.all_paths:
                    if base + suffix not in found:
                        found.append(base + suffix)
                    break
        return found

    def __call__(self, path: str, buffer: str, budget: int, count: Callable[[str], int]):
        cands = []
        for f in self.files(path, buffer):
            text = self.text(f)
            cands.append((f, 1, text.count("\n") + 1, text))
        return _pack(cands, budget, count)


def _import_statements(buffer: str) -> list[ast.stmt]:
    """Import statements of a (possibly cut, unparsable) Python buffer."""
    lines = buffer.split("\n")
    out: list[ast.stmt] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.lstrip()
        if s.startswith(("import ", "from ")):
            chunk = s
            j = i
            while "(" in chunk and ")" not in chunk and j + 1 < len(lines):
                j += 1
                chunk += "\n" + lines[j]
            with contextlib.suppress(SyntaxError):
                out += [
                    n for n in ast.parse(chunk).body if isinstance(n, ast.Import | ast.ImportFrom)
                ]
            i = j + 1
        else:
            i += 1
    return out


class Bm25Windows:
    """BM25 over fixed windows (40 lines, stride 20) of every indexed file."""

    def __init__(self, root: Path, paths: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.windows: list[tuple[str, int, int, str]] = []
        self.tfs: list[Counter] = []
        self.df: Counter = Counter()
        for p in paths:
            try:
                lines = (root / p).read_text("utf-8", "replace").split("\n")
            except OSError:
                continue
            for start in range(0, max(len(lines) - WINDOW + STRIDE, 1), STRIDE):
                chunk = lines[start : start + WINDOW]
                text = "\n".join(chunk)
                tf = Counter(_WORD.findall(text))
                self.windows.append((p, start + 1, start + len(chunk), text))
                self.tfs.append(tf)
                self.df.update(tf.keys())
        self.lens = [sum(t.values()) for t in self.tfs]
        self.n = len(self.windows)
        self.avg = sum(self.lens) / max(self.n, 1)
        self.k1, self.b = k1, b
        self.post: dict[str, list[int]] = {}
        for i, tf in enumerate(self.tfs):
            for w in tf:
                self.post.setdefault(w, []).append(i)

    def __call__(self, path: str, buffer: str, budget: int, count: Callable[[str], int]):
        query = Counter(_WORD.findall("\n".join(buffer.split("\n")[-WINDOW:])))
        scores: dict[int, float] = {}
        for w in query:
            df = self.df.get(w, 0)
            if not df:
                continue
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            for i in self.post[w]:
                tf = self.tfs[i][w]
                dl = self.lens[i]
                s = (
                    idf
                    * tf
                    * (self.k1 + 1)
                    / (tf + self.k1 * (1 - self.b + self.b * dl / self.avg))
                )
                scores[i] = scores.get(i, 0.0) + s
        best = sorted(scores, key=lambda i: -scores[i])[:400]
        cands = [self.windows[i] for i in best if self.windows[i][0] != path]
        return _pack(cands, budget, count)
