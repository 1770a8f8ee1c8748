"""Queries: what a ranking starts from, built from a cursor position or a set of changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retrieval.receiver import ReceiverInference, Scope, clean_type, receiver_chain
from retrieval.receiver_index import IndexTypeOracle
from retrieval.resolve import NameResolver
from retrieval.tags import FileTags
from retrieval.view import IndexView

# weights of the names a cursor query starts from
NAME_AT_CURSOR = 3.0  # names on the cursor's line before it
NAME_BEFORE = 1.0  # a line above: this / (1 + distance / 6), for LINES_BEFORE lines
NAME_AFTER = 0.4  # a line below: this / (1 + distance / 3), for LINES_AFTER lines
LINES_BEFORE = 80
LINES_AFTER = 12
RAW_RECEIVER = 3.0  # the receiver's own name: a module (`mod.`) or a class (`Class.`)
TYPED_NEARBY = 0.5  # classes of variables typed near the cursor: in play, less so
SEED_OPEN = 0.3  # PageRank seeds: open buffers (the current file weighs 1)
SEED_RECENT = 0.2  # ... and the files edited last

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
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
    receiver_rules: dict[str, str] = field(default_factory=dict)  # receiver class -> why
    # the classes the receiver before the cursor may hold: wanted as outlines
    receiver_classes: set[str] = field(default_factory=set)


def _scope(tags: FileTags, lines: list[str], line: int, before: str) -> Scope:
    """The cursor's language, the text before it, and its enclosing function and class."""
    function_line = 0
    class_name = None
    for d in tags.defs:
        if d.start > line:
            break
        if d.start <= line <= d.end:
            if d.kind in ("function", "method"):
                function_line = d.start
            elif d.kind in ("class", "impl", "interface"):
                class_name = d.name
    if tags.lang == "go" and function_line:
        # a Go method's receiver `func (s *Server) Name(` is its class
        m = re.match(r"\s*func\s*\(\s*\w+\s+\*?(\w+)", lines[function_line - 1])
        if m:
            class_name = m.group(1)

    def offset(n: int) -> int:
        return sum(len(x) + 1 for x in lines[: max(n - 1, 0)]) if n else 0

    return Scope(tags.lang, before, offset(function_line), class_name)


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
    _add_names(q.names, prefix, NAME_AT_CURSOR)
    for dist in range(1, LINES_BEFORE):
        i = line - 1 - dist
        if i < 0:
            break
        _add_names(q.names, lines[i], NAME_BEFORE / (1.0 + dist / 6.0))
    for dist in range(1, LINES_AFTER):
        i = line - 1 + dist
        if i >= len(lines):
            break
        _add_names(q.names, lines[i], NAME_AFTER / (1.0 + dist / 3.0))
    q.terms = dict(q.names)
    before = "\n".join(lines[: line - 1]) + "\n" + prefix

    # receivers: `x.`, `x.y.`, `self.`: the classes they may hold
    near_types = _variable_types(before[-4000:])
    tags = index.tags(path)
    chain = receiver_chain(prefix)
    if chain and tags is not None:
        scope = _scope(tags, lines, line, before)
        oracle = IndexTypeOracle(index, NameResolver(index, path), tags.lang)
        for guess in ReceiverInference(scope, oracle).guesses(chain):
            q.receivers[guess.name] = q.receivers.get(guess.name, 0.0) + guess.weight
            q.receiver_rules[guess.name] = guess.rule
            q.receiver_classes.add(guess.name)
        last = chain[-1].name
        if last not in _SELF:  # `mod.` (a module's members) or `Class.` (its own)
            q.receivers[last] = q.receivers.get(last, 0.0) + RAW_RECEIVER
    # parameters and variables typed near the cursor also hint at classes in play
    for name, w in sorted(q.names.items(), key=lambda kv: -kv[1])[:8]:
        for found in near_types.get(name, [])[-3:]:
            t = clean_type(found)
            if t is not None and t[0].isupper():
                q.receivers[t] = q.receivers.get(t, 0.0) + TYPED_NEARBY * min(w, 2.0)

    q.seed_files[path] = 1.0
    for p in open_buffers:
        try:
            r = index.relpath(p)
        except ValueError:
            continue
        if r != path:
            q.seed_files[r] = q.seed_files.get(r, 0.0) + SEED_OPEN
    for r in index.recent_paths()[-8:]:
        if r != path:
            q.seed_files[r] = q.seed_files.get(r, 0.0) + SEED_RECENT
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
