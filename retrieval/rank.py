"""Ranking: which definitions matter for a query (a cursor position or a set of changes).

Signals, each visible in an item's reason with --explain:
- names near the cursor (closer lines weigh more) that the repository defines, resolved
  through the current file's imports when it imports them;
- members of the receiver before the cursor (`obj.`, `self.` -> the class and its bases);
- the definitions in the files the current file imports;
- personalized PageRank over the file graph (an edge per name a file uses that another
  file defines), seeded by the current file, open buffers and recently edited files;
- BM25 between the code near the cursor and each definition's own text.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retrieval.parse import definition_terms
from retrieval.rank_graph import file_neighbors, personalized_pagerank
from retrieval.rank_lexical import _name_index, bm25_scores

if TYPE_CHECKING:
    from retrieval.index import RepoIndex

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


@dataclass
class Ranked:
    """A ranked definition."""

    path: str
    index: int  # into the file's defs
    score: float
    reasons: list[str] = field(default_factory=list)
    body: bool = False  # the whole span is wanted even at a small budget


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
    index: RepoIndex,
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
                    if d[2] <= line <= d[3] and d[1] == "class":
                        cls_idx = i
            if cls_idx is not None:
                d = tags.defs[cls_idx]
                header = "\n".join(lines[d[2] - 1 : d[4]])
                bases = [n for n in _IDENT.findall(header.split(d[0], 1)[-1]) if n not in _STOP]
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
    for r in list(index._recent)[-8:]:
        if r != path:
            q.seed_files[r] = q.seed_files.get(r, 0.0) + 0.2
    q.exclude[path] = [(1, 1 << 30)]
    return q


def changes_query(index: RepoIndex, changes: dict[str, list[tuple[int, int]]]) -> Query:
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
                if d[2] <= end and d[3] >= start and d[1] not in ("constant", "field"):
                    best = j
            if best >= 0:
                q.focus.append((path, best, 100.0))
                d = tags.defs[best]
                if d[6] >= 0:
                    q.focus.append((path, d[6], 50.0))
    q.terms = dict(q.names)
    return q


def _members(tags, i: int) -> list[int]:
    kids = tags.__dict__.get("_children")
    if kids is None:
        kids = defaultdict(list)
        for j, d in enumerate(tags.defs):
            if d[6] >= 0:
                kids[d[6]].append(j)
        tags.__dict__["_children"] = kids
    return kids.get(i, [])


def _popularity(index: RepoIndex, names: list[str]) -> list[float]:
    """Multipliers (mean 1) favouring names many files use; `_private` names count less."""
    if not names:
        return []
    df = index.maps().df
    raw = [math.log(2 + df.get(n, 0)) * (0.3 if n.startswith("_") else 1.0) for n in names]
    mean = sum(raw) / len(raw) or 1.0
    return [r / mean for r in raw]


def _module_members(index: RepoIndex, f: str, w: float, bump, depth: int) -> None:
    """`mod.` where mod is an imported module: its top-level definitions, and re-exports."""
    tags = index.tags(f)
    if tags is None:
        return
    top = [j for j, d in enumerate(tags.defs) if d[6] < 0]
    share = w * 1.5 / math.sqrt(max(len(top), 1))
    for j, mult in zip(top, _popularity(index, [tags.defs[j][0] for j in top]), strict=False):
        bump(f, j, share * mult, f"defined in module {f}")
    if depth == 0 and len(top) < 10:
        for g in index.imports_of(f).files[:20]:
            _module_members(index, g, w * 0.5, bump, depth=1)


def _callers(index: RepoIndex, q: Query, bump) -> None:
    """Functions that use the changed definitions' names (their callers), in any file."""
    maps = index.maps()
    for path, i, _s in q.focus:
        tags = index.tags(path)
        name, kind = tags.defs[i][0], tags.defs[i][1]
        if kind not in ("function", "method", "class") or len(name) < 3:
            continue
        users = maps.refs.get(name, {})
        if not users or len(users) > 60:
            continue  # a name used everywhere says little about who calls this one
        w = 3.0 / math.sqrt(len(users))
        for f in users:
            ft = index.tags(f)
            if ft is None:
                continue
            k = _name_index(ft).get(name)
            if k is None:
                continue
            for j, terms in enumerate(definition_terms(ft)):
                d = ft.defs[j]
                if (f, j) != (path, i) and d[1] in ("function", "method") and k in terms:
                    bump(f, j, w, f"uses {name!r} (a caller)")


def rank_definitions(index: RepoIndex, q: Query, *, explain: bool = False) -> list[Ranked]:
    """Definitions ranked for query `q`, best first (files in q.exclude left out)."""
    maps = index.maps()
    scores: dict[tuple[str, int], Ranked] = {}
    excluded = set(q.exclude)

    def bump(path: str, i: int, s: float, why: str, body: bool = False) -> None:
        if path in excluded or s <= 0:
            return
        r = scores.get((path, i))
        if r is None:
            r = scores[(path, i)] = Ranked(path, i, 0.0)
        r.score += s
        r.body = r.body or body
        if explain:
            r.reasons.append(f"{why} (+{s:.2f})")

    for path, i, s in q.focus:
        bump(path, i, s, "encloses a change", body=True)
    if q.focus:
        _callers(index, q, bump)

    imports = index.imports_of(q.path) if q.path else None
    imported_names = imports.names if imports else {}

    followed: dict[tuple[str, str], list[tuple[str, int]]] = {}

    def follow(f: str, orig: str, depth: int = 0) -> list[tuple[str, int]]:
        """Definitions of `orig` as seen from file f: its own, or re-exported from its imports."""
        key = (f, orig)
        got = followed.get(key)
        if got is not None:
            return got
        followed[key] = []  # cycles end here
        hits = [(p, i) for p, i in maps.defs.get(orig, ()) if p == f]
        if not hits and depth < 4 and orig != "*":
            imp = index.imports_of(f)
            again = imp.names.get(orig)
            if again is not None and again[0] is not None and again[0] != f:
                hits = follow(again[0], again[1], depth + 1)
            if not hits:  # `from .x import *` and the like
                cand = {p for p, _ in maps.defs.get(orig, ())}
                for g in imp.files:
                    if g in cand:
                        hits = follow(g, orig, depth + 1)
                        if hits:
                            break
        followed[key] = hits
        return hits

    def resolve(name: str) -> list[tuple[str, int]]:
        target = imported_names.get(name)
        if target is not None and target[0] is not None:
            hits = follow(target[0], target[1])
            if hits:
                return hits
        return maps.defs.get(name, [])

    # 1. names near the cursor that the repository defines
    for name, w in q.names.items():
        defs = resolve(name)
        if not defs or len(defs) > 40:
            continue
        spec = 1.0 / len(defs) ** 0.75
        via = "imported " if name in imported_names else ""
        for p, i in defs:
            tags = index.tags(p)
            kind = tags.defs[i][1]
            bump(p, i, w * spec, f"{via}name {name!r} near the cursor")
            if kind in ("class", "interface", "module", "enum", "impl"):
                kids = _members(tags, i)
                share = w * spec * 0.35 / math.sqrt(max(len(kids), 1))
                for k in kids:
                    bump(p, k, share, f"member of {name!r}")

    # 2. members of the receiver (`obj.`), its class and bases; or of an imported module
    seen_cls: set[tuple[str, int]] = set()
    for name, w in q.receivers.items():
        target = imported_names.get(name)
        if target is not None and target[0] is not None:
            f, orig = target
            if orig == "*" or not follow(f, orig):
                _module_members(index, f, w, bump, depth=0)
                continue
        defs = resolve(name)
        if not defs or len(defs) > 40:
            continue
        spec = 1.0 / len(defs) ** 0.5
        todo = [(p, i, w * spec, 0) for p, i in defs]
        while todo:
            p, i, ww, depth = todo.pop()
            if (p, i) in seen_cls:
                continue
            seen_cls.add((p, i))
            tags = index.tags(p)
            d = tags.defs[i]
            if d[1] not in ("class", "interface", "module", "enum", "impl", "type"):
                continue
            bump(p, i, ww, f"class of receiver {name!r}")
            kids = _members(tags, i)
            share = ww * 2.0 / math.sqrt(max(len(kids), 1))
            pops = _popularity(index, [tags.defs[k][0] for k in kids])
            for k, mult in zip(kids, pops, strict=False):
                bump(p, k, share * mult, f"member of receiver class {d[0]!r}")
            if depth < 2:
                # base classes: names in the header after the class name
                lines = index.lines(p)
                header = " ".join(lines[d[2] - 1 : d[4]])
                after = header.split(d[0], 1)[-1]
                for b in set(_IDENT.findall(after)):
                    if b in _STOP or b == d[0]:
                        continue
                    for bp, bi in maps.defs.get(b, [])[:5]:
                        todo.append((bp, bi, ww * 0.6, depth + 1))

    # 3. what the current file imports
    if imports is not None:
        nfiles = max(len(imports.files), 1)
        for local, (f, orig) in imported_names.items():
            if f is None:
                continue
            for p, i in follow(f, orig):
                near = q.names.get(local, 0.0)
                bump(p, i, 0.6 + 0.4 * min(near, 3.0), f"imported as {local!r}")
        for f in imports.files:
            tags = index.tags(f)
            if tags is None:
                continue
            top = [j for j, d in enumerate(tags.defs) if d[6] < 0]
            share = 0.5 / math.sqrt(nfiles) / math.sqrt(max(len(top), 1))
            for j in top:
                bump(f, j, share, f"defined in imported {f}")

    # 4. personalized PageRank over the file graph
    ranks: dict[str, float] = {}
    if q.seed_files:
        ranks = personalized_pagerank(index, q.seed_files)
        used_here = q.names
        for f, pr in sorted(ranks.items(), key=lambda kv: -kv[1])[:40]:
            if f in excluded:
                continue
            tags = index.tags(f)
            if tags is None:
                continue
            for j, d in enumerate(tags.defs):
                if d[0] in used_here:
                    bump(f, j, 4.0 * pr, f"PageRank of {f} ({pr:.3f})")

    # 5. lexical similarity of each definition's text to the code around the cursor, in the
    # files the other signals surfaced
    files: dict[str, None] = dict.fromkeys(
        f for f, _ in sorted(ranks.items(), key=lambda kv: -kv[1])[:20]
    )
    if imports is not None:
        files.update(dict.fromkeys(imports.files[:20]))
    for r in sorted(scores.values(), key=lambda r: -r.score)[:40]:
        files[r.path] = None
    some_files = list(files)[:32]
    for (p, i), s in bm25_scores(index, q.terms, some_files, exclude=excluded, limit=60).items():
        bump(p, i, 0.8 * s, "BM25 match with code near the cursor")

    out = sorted(scores.values(), key=lambda r: -r.score)
    follow = None  # noqa: F841 (the recursive closure is a cycle holding the index: break it)
    return out


__all__ = [
    "Query",
    "Ranked",
    "changes_query",
    "file_neighbors",
    "position_query",
    "rank_definitions",
]
