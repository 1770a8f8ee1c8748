"""Queries: what a ranking starts from, built from a cursor position or a set of changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retrieval.view import IndexView

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_RECEIVER = re.compile(r"([A-Za-z_$][\w$]*)\s*(?:\(\s*\))?\s*(?:\.|->|::)\s*([A-Za-z_$][\w$]*)?$")
_SELF = {"self", "this", "cls", "super", "Self"}
_STOP = {
    "self",
    "this",
    "cls",
    "return",
    "None",
    "True",
    "False",
    "if",
    "else",
    "def",
    "for",
    "in",
    "not",
    "and",
    "or",
    "is",
    "import",
    "from",
    "const",
    "let",
    "var",
    "new",
    "function",
    "class",
    "elif",
    "while",
    "with",
    "as",
    "try",
    "except",
    "raise",
    "pass",
    "lambda",
    "yield",
    "await",
    "async",
    "null",
    "undefined",
    "true",
    "false",
    "fn",
    "pub",
    "mut",
    "int",
    "str",
    "bool",
    "float",
    "dict",
    "list",
    "len",
    "isinstance",
    "super",
    "string",
    "number",
    "void",
    "any",
    "type",
    "object",
    "get",
    "set",
    "args",
    "kwargs",
}


@dataclass
class Query:
    """What a ranking starts from."""

    path: str | None  # the current file
    names: dict[str, float] = field(default_factory=dict)  # identifier -> weight
    receivers: dict[str, float] = field(default_factory=dict)  # whose members are wanted
    seed_files: dict[str, float] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)  # BM25 query
    focus: list[tuple[str, int, float]] = field(default_factory=list)  # (path, def index, score)
    exclude: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # already in prompt


def _add_names(out: dict[str, float], text: str, weight: float) -> None:
    for m in _IDENT.findall(text):
        if m not in _STOP and len(m) > 1:
            out[m] = out.get(m, 0.0) + weight


_ASSIGN_ANY = re.compile(
    r"\b([A-Za-z_$][\w$]*)\s*(?::\s*([A-Za-z_][\w.]*)[^=\n]*)?=\s*(?:new\s+|await\s+)?"
    r"([A-Za-z_][\w.]*)"
)
_PARAM_ANY = re.compile(r"\b([A-Za-z_$][\w$]*)\s*:\s*(?:Optional\[)?([A-Za-z_][\w.]*)")


def _variable_types(text: str) -> dict[str, list[str]]:
    """Classes variables probably hold: `x: T`, `x = T(...)`, `x = new T`, `def f(x: T)`."""
    out: dict[str, list[str]] = {}
    for m in _ASSIGN_ANY.finditer(text):
        t = m.group(2) or m.group(3)
        out.setdefault(m.group(1), []).append(t.rsplit(".", 1)[-1])
    for m in _PARAM_ANY.finditer(text):
        out.setdefault(m.group(1), []).append(m.group(2).rsplit(".", 1)[-1])
    return out


_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _class_names_like(var: str) -> list[str]:
    """'subscriber' -> Subscriber; 'query_set' -> QuerySet; 'innerSub' -> InnerSub, Sub."""
    parts = [p for p in _CAMEL.findall(var.strip("_$")) if p]
    if not parts:
        return []
    whole = "".join(p[:1].upper() + p[1:] for p in parts)
    last = parts[-1][:1].upper() + parts[-1][1:]
    return list(dict.fromkeys([whole, last]))


def position_query(
    index: IndexView,
    path: str,
    lines: list[str],
    line: int,
    col: int,
    open_buffers: dict[str, str],
) -> Query:
    """The query for a cursor at (line, col): names around it, its receiver, seed files."""
    q = Query(path=path)
    cur = lines[line - 1] if line - 1 < len(lines) else ""
    prefix = cur[:col]
    _add_names(q.names, prefix, 3.0)
    for dist in range(1, 80):
        i = line - 1 - dist
        if i < 0:
            break
        _add_names(q.names, lines[i], 1.0 / (1.0 + dist / 6.0))
    for dist in range(1, 12):
        i = line - 1 + dist
        if i >= len(lines):
            break
        _add_names(q.names, lines[i], 0.4 / (1.0 + dist / 3.0))
    q.terms = dict(q.names)
    before = "\n".join(lines[: line - 1]) + "\n" + prefix

    # receivers: `x.`, `x.y.`, `self.`
    near_types = _variable_types(before[-4000:])
    m = _RECEIVER.search(prefix)
    types = _variable_types(before) if m and len(before) > 4000 else near_types
    tags = index.tags(path)
    if m:
        recv = m.group(1)
        if recv in _SELF and tags is not None:
            encl = index.enclosing_definition(path, line)
            cls_idx = None
            if encl is not None:
                for i, d in enumerate(tags.defs):
                    if d.start <= line <= d.end and d.kind == "class":
                        cls_idx = i
            if cls_idx is not None:
                d = tags.defs[cls_idx]
                header = "\n".join(lines[d.start - 1 : d.sig_end])
                bases = [n for n in _IDENT.findall(header.split(d.name, 1)[-1]) if n not in _STOP]
                for b in bases:
                    q.receivers[b] = q.receivers.get(b, 0.0) + 3.0
        else:
            q.receivers[recv] = q.receivers.get(recv, 0.0) + 3.0
            for t in types.get(recv, [])[-3:]:
                q.receivers[t] = q.receivers.get(t, 0.0) + 3.0
            # untyped: a variable named like a class often holds one (subscriber: Subscriber)
            for t in _class_names_like(recv):
                if t != recv:
                    q.receivers[t] = q.receivers.get(t, 0.0) + 1.5
    # parameters and variables typed near the cursor also hint at classes in play
    for name, w in sorted(q.names.items(), key=lambda kv: -kv[1])[:8]:
        for t in near_types.get(name, [])[-3:]:
            q.receivers[t] = q.receivers.get(t, 0.0) + 0.5 * min(w, 2.0)

    q.seed_files[path] = 1.0
    for p in open_buffers:
        try:
            r = index.relpath(p)
        except ValueError:
            continue
        if r != path:
            q.seed_files[r] = q.seed_files.get(r, 0.0) + 0.3
    for r in index.recent_paths()[-8:]:
        if r != path:
            q.seed_files[r] = q.seed_files.get(r, 0.0) + 0.2
    q.exclude[path] = [(1, 1 << 30)]
    return q


def changes_query(index: IndexView, changes: dict[str, list[tuple[int, int]]]) -> Query:
    """The query for a review: the changed lines, the definitions around them, their names."""
    q = Query(path=None)
    for path, ranges in changes.items():
        lines = index.lines(path)
        tags = index.tags(path)
        q.seed_files[path] = q.seed_files.get(path, 0.0) + 1.0
        for start, end in ranges:
            for i in range(max(start - 3, 1), min(end + 3, len(lines)) + 1):
                _add_names(q.names, lines[i - 1], 1.0 if start <= i <= end else 0.3)
            if tags is None:
                continue
            best = -1
            for j, d in enumerate(tags.defs):
                if d.start <= end and d.end >= start and d.kind not in ("constant", "field"):
                    best = j
            if best >= 0:
                q.focus.append((path, best, 100.0))
                parent = tags.defs[best].parent
                if parent >= 0:
                    q.focus.append((path, parent, 50.0))
    q.terms = dict(q.names)
    return q
