"""Ranking signals: one function each, adding to a `Scores` with the weights in `Weights`.

- changed_code: the definitions enclosing review changes (whole bodies);
- names_near_cursor: definitions of identifiers near the cursor (closer weighs more),
  resolved through the current file's imports;
- receiver_members: members of the receiver's class before the cursor (`obj.` ->
  the class, its members and bases), or of an imported module (`mod.`);
- imported_definitions: what the current file imports;
- pagerank_neighbours: personalized PageRank over the file graph (an edge per name a file
  uses that another defines), seeded by the current file, open buffers, recent edits;
- lexical_matches: BM25 between the code near the cursor and each definition's text;
- test_files_last: definitions in test files count less unless the cursor is in a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.files import is_test_file
from retrieval.query import Query
from retrieval.rank_graph import personalized_pagerank
from retrieval.rank_lexical import bm25_scores
from retrieval.resolve import NameResolver, class_bases
from retrieval.scores import Scores
from retrieval.tags import CONTAINER_KINDS, members_of
from retrieval.view import IndexView

# receivers whose class is wanted: containers, and type aliases (TS `type X = {...}`)
_RECEIVER_KINDS = CONTAINER_KINDS | {"type"}


@dataclass(frozen=True)
class Weights:
    """Every weight the signals use, by name (each signal's test checks its own)."""

    # names_near_cursor
    name_max_defs: int = 40  # names defined more often than this are too vague
    name_specificity: float = 0.75  # weight / defs ** this
    name_member_share: float = 0.35  # a named class's members share this part of its weight
    # receiver_members
    receiver_specificity: float = 0.5
    receiver_member_share: float = 2.0  # divided by members ** receiver_member_exponent
    receiver_member_exponent: float = 0.25  # a big class's members still outrank the rest
    hint_member_exponent: float = 0.5  # ... but not those of classes merely typed nearby
    # while the cursor is after `x.`, the other signals count this much
    member_access_others: float = 1.0
    receiver_base_decay: float = 0.6  # a base class weighs this much of its subclass
    receiver_base_depth: int = 4  # TestCase -> TransactionTestCase -> SimpleTestCase -> ...
    module_member_share: float = 1.5  # `mod.`: divided by sqrt(top-level definitions)
    module_reexport_decay: float = 0.5
    # imported_definitions
    imported_name: float = 0.6  # plus imported_name_near x min(weight near the cursor, 3)
    imported_name_near: float = 0.4
    imported_file: float = 0.5  # divided by sqrt(imported files) and sqrt(top definitions)
    # pagerank_neighbours
    pagerank: float = 4.0
    pagerank_files: int = 40
    # test_files_last
    test_file_factor: float = 0.3  # tests rank below library code unless the cursor is in one
    # lexical_matches
    lexical: float = 0.8
    lexical_files: int = 32
    lexical_limit: int = 60


WEIGHTS = Weights()


def changed_code(q: Query, scores: Scores) -> None:
    """The definitions a review changes (q.focus), with their whole bodies."""
    for path, i, s in q.focus:
        scores.bump(path, i, s, "encloses a change", body=True)


def names_near_cursor(
    index: IndexView, q: Query, resolver: NameResolver, scores: Scores, w: Weights = WEIGHTS
) -> None:
    """Definitions of the identifiers near the cursor; a named class's members a little."""
    imported = resolver.imported_names
    for name, weight in q.names.items():
        defs = resolver.resolve(name)
        if not defs or len(defs) > w.name_max_defs:
            continue
        spec = 1.0 / len(defs) ** w.name_specificity
        via = "imported " if name in imported else ""
        for p, i in defs:
            tags = index.tags(p)
            scores.bump(p, i, weight * spec, f"{via}name {name!r} near the cursor")
            if tags.defs[i].kind in CONTAINER_KINDS:
                kids = members_of(tags, i)
                share = weight * spec * w.name_member_share / math.sqrt(max(len(kids), 1))
                for k in kids:
                    scores.bump(p, k, share, f"member of {name!r}")


def popularity(index: IndexView, names: list[str]) -> list[float]:
    """Multipliers (mean 1) favouring names many files use; `_private` names count less."""
    if not names:
        return []
    raw = [math.log(2 + index.doc_freq(n)) * (0.3 if n.startswith("_") else 1.0) for n in names]
    mean = sum(raw) / len(raw) or 1.0
    return [r / mean for r in raw]


def module_members(
    index: IndexView, f: str, weight: float, scores: Scores, w: Weights = WEIGHTS, depth: int = 0
) -> None:
    """`mod.` where mod is an imported module: its top-level definitions, and re-exports."""
    tags = index.tags(f)
    if tags is None:
        return
    top = [j for j, d in enumerate(tags.defs) if d.parent < 0]
    share = weight * w.module_member_share / math.sqrt(max(len(top), 1))
    for j, mult in zip(top, popularity(index, [tags.def_names[j] for j in top]), strict=False):
        scores.bump(f, j, share * mult, f"defined in module {f}")
    if depth == 0 and len(top) < 10:
        for g in index.imports_of(f).files[:20]:
            module_members(index, g, weight * w.module_reexport_decay, scores, w, depth=1)


def receiver_members(
    index: IndexView, q: Query, resolver: NameResolver, scores: Scores, w: Weights = WEIGHTS
) -> None:
    """Members of the receiver's class (`obj.`) and of its bases; or of a module (`mod.`)."""
    imported = resolver.imported_names
    seen: set[tuple[str, int]] = set()
    for name, weight in q.receivers.items():
        target = imported.get(name)
        if target is not None and target[0] is not None:
            f, orig = target
            if orig == "*" or not resolver.follow(f, orig):
                module_members(index, f, weight, scores, w)
                continue
        defs = resolver.resolve_local_first(name)
        if not defs or len(defs) > w.name_max_defs:
            continue
        spec = 1.0 / len(defs) ** w.receiver_specificity
        wanted = name in q.receiver_classes  # the cursor's receiver: outline the classes
        todo = [(p, i, weight * spec, 0) for p, i in defs]
        while todo:
            p, i, ww, depth = todo.pop()
            if (p, i) in seen:
                continue
            seen.add((p, i))
            tags = index.tags(p)
            d = tags.defs[i]
            if d.kind not in _RECEIVER_KINDS:
                continue
            scores.bump(p, i, ww, f"class of receiver {name!r}", outline=wanted)
            kids = members_of(tags, i)
            exponent = w.receiver_member_exponent if wanted else w.hint_member_exponent
            share = ww * w.receiver_member_share / max(len(kids), 1) ** exponent
            pops = popularity(index, [tags.def_names[k] for k in kids])
            for k, mult in zip(kids, pops, strict=False):
                scores.bump(p, k, share * mult, f"member of receiver class {d.name!r}")
            if depth < w.receiver_base_depth:
                for b in class_bases(index, p, i):
                    for bp, bi in index.defs_named(b)[:5]:
                        todo.append((bp, bi, ww * w.receiver_base_decay, depth + 1))


def imported_definitions(
    index: IndexView, q: Query, resolver: NameResolver, scores: Scores, w: Weights = WEIGHTS
) -> None:
    """What the current file imports: the imported names, then the imported files' tops."""
    if q.path is None:
        return
    imports = resolver.imports
    nfiles = max(len(imports.files), 1)
    for local, (f, orig) in imports.names.items():
        if f is None:
            continue
        for p, i in resolver.follow(f, orig):
            near = q.names.get(local, 0.0)
            s = w.imported_name + w.imported_name_near * min(near, 3.0)
            scores.bump(p, i, s, f"imported as {local!r}")
    for f in imports.files:
        tags = index.tags(f)
        if tags is None:
            continue
        top = [j for j, d in enumerate(tags.defs) if d.parent < 0]
        share = w.imported_file / math.sqrt(nfiles) / math.sqrt(max(len(top), 1))
        for j in top:
            scores.bump(f, j, share, f"defined in imported {f}")


def pagerank_neighbours(
    index: IndexView, q: Query, scores: Scores, w: Weights = WEIGHTS
) -> dict[str, float]:
    """Definitions the cursor's names mention, in files near the seeds in the file graph.

    Returns the PageRank of files (lexical_matches searches the best of them).
    """
    if not q.seed_files:
        return {}
    ranks = personalized_pagerank(index, q.seed_files)
    used_here = q.names
    for f, pr in sorted(ranks.items(), key=lambda kv: -kv[1])[: w.pagerank_files]:
        if f in scores.excluded:
            continue
        tags = index.tags(f)
        if tags is None:
            continue
        for j, name in enumerate(tags.def_names):
            if name in used_here:
                scores.bump(f, j, w.pagerank * pr, f"PageRank of {f} ({pr:.3f})")
    return ranks


def lexical_matches(
    index: IndexView,
    q: Query,
    resolver: NameResolver,
    ranks: dict[str, float],
    scores: Scores,
    w: Weights = WEIGHTS,
) -> None:
    """BM25 of each definition's text against the code near the cursor, in the files the
    other signals surfaced (best PageRank, imports, files of the best definitions)."""
    files: dict[str, None] = dict.fromkeys(
        f for f, _ in sorted(ranks.items(), key=lambda kv: -kv[1])[:20]
    )
    if q.path is not None:
        files.update(dict.fromkeys(resolver.imports.files[:20]))
    for r in scores.best(40):
        files[r.path] = None
    some = list(files)[: w.lexical_files]
    found = bm25_scores(index, q.terms, some, exclude=scores.excluded, limit=w.lexical_limit)
    for (p, i), s in found.items():
        scores.bump(p, i, w.lexical * s, "BM25 match with code near the cursor")


def test_files_last(q: Query, scores: Scores, w: Weights = WEIGHTS) -> None:
    """Tests rank below library code, unless the cursor is in a test itself."""
    if q.path is not None and is_test_file(q.path):
        return
    scores.scale(lambda path: not is_test_file(path), w.test_file_factor, "in a test file")
