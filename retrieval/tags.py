"""What the index keeps about one file's content: its definitions, names used and imports.

A `FileTags` depends only on the file's bytes and language, so it is never edited in place:
a new version of a file gets a new `FileTags`. That makes the per-file data derived from it
for ranking (members of each class, term postings) safe to keep on it, in explicit fields
filled on first use.

Warm starts load every file's tags from the cache, and a query looks at a few dozen files:
so the term lists stay in their cached (marshal) form until first read. Definitions are
decoded with the load, which then freezes them for the cycle collector (index._no_gc):
objects made later, query by query, would make every full collection walk them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import NamedTuple


class DefTag(NamedTuple):
    """One definition as the index stores it (lines 1-based, inclusive)."""

    name: str
    kind: str  # function, method, class, interface, type, enum, constant, field, module, ...
    start: int  # first line, decorators and `export` included
    end: int  # last line
    sig_end: int  # last line of the header (the body starts after it)
    col: int  # 0-based byte column of the name on its line
    parent: int  # index of the enclosing definition in the same file, or -1


# Kinds whose children are members (methods, fields) rather than locals.
CONTAINER_KINDS = frozenset({"class", "interface", "module", "impl", "enum"})
# Kinds that are values, not code units (never an enclosing definition).
VALUE_KINDS = frozenset({"constant", "variable", "field"})


@dataclass(eq=False)
class FileTags:
    """Everything the index keeps about one file's content."""

    lang: str
    def_names: list[str] = field(default_factory=list)  # defs[i].name, decoded eagerly
    names: list[str] = field(default_factory=list)  # distinct referenced identifiers
    counts: list[int] = field(default_factory=list)  # occurrences of each name
    imports: list[str] = field(default_factory=list)  # raw import specs as written
    lines: int = 0
    errors: int = 0  # tree-sitter error nodes (the file still yields what parsed)
    raw_defs: tuple[DefTag, ...] = field(default=(), repr=False)  # see `defs`
    # per def: indices into names; (offsets, flat) uint32 bytes until first read
    raw_terms: list[list[int]] | tuple[bytes, bytes] = field(default_factory=list, repr=False)
    # derived on first use (see members_of, name_index and rank_lexical.postings)
    children: dict[int, list[int]] | None = field(default=None, repr=False)
    name_positions: dict[str, int] | None = field(default=None, repr=False)
    postings: tuple | None = field(default=None, repr=False)

    @property
    def defs(self) -> tuple[DefTag, ...]:
        """The definitions, sorted by start (an enclosing one before its members)."""
        return self.raw_defs

    @property
    def def_terms(self) -> list[list[int]]:
        """The names (indices into `names`) used in each definition's window."""
        terms = self.raw_terms
        if isinstance(terms, tuple):
            offsets, flat = array("I"), array("I")
            offsets.frombytes(terms[0])
            flat.frombytes(terms[1])
            terms = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
            self.raw_terms = terms
        return terms

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileTags):
            return NotImplemented
        return (
            self.lang == other.lang
            and self.defs == other.defs
            and self.names == other.names
            and self.counts == other.counts
            and self.def_terms == other.def_terms
            and self.imports == other.imports
            and self.lines == other.lines
            and self.errors == other.errors
        )

    __hash__ = None  # type: ignore[assignment]  (mutable: lazily decoded)


def pack_terms(terms: list[list[int]]) -> tuple[bytes, bytes]:
    """Per-definition term lists as (offsets, flat) arrays of uint32, for the cache."""
    offsets = array("I", [0])
    flat = array("I")
    for t in terms:
        flat.extend(t)
        offsets.append(len(flat))
    return offsets.tobytes(), flat.tobytes()


def members_of(tags: FileTags, i: int) -> list[int]:
    """Indices of the definitions directly inside definition i (a class's methods, ...)."""
    kids = tags.children
    if kids is None:
        kids = {}
        for j, d in enumerate(tags.defs):
            if d.parent >= 0:
                kids.setdefault(d.parent, []).append(j)
        tags.children = kids
    return kids.get(i, [])


def name_index(tags: FileTags) -> dict[str, int]:
    """Referenced name -> its position in tags.names."""
    got = tags.name_positions
    if got is None:
        got = tags.name_positions = {n: i for i, n in enumerate(tags.names)}
    return got
