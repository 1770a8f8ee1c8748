"""Which definitions a name means, as seen from one file: through its imports and re-exports."""

from __future__ import annotations

import re

from retrieval.imports import ResolvedImports
from retrieval.view import DefRef, IndexView

MAX_REEXPORT_DEPTH = 4
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# words in class headers that are not base classes
_NOT_BASES = frozenset(
    [
        "class",
        "struct",
        "interface",
        "extends",
        "implements",
        "public",
        "private",
        "protected",
        "abstract",
        "export",
        "default",
        "final",
        "sealed",
        "metaclass",
        "object",
        "type",
        "Generic",
        "Protocol",
        "ABC",
        "where",
        "pub",
        "impl",
        "for",
    ]
)


def class_bases(index: IndexView, path: str, i: int) -> list[str]:
    """Names in a class's header after its own name (its bases, and some noise)."""
    d = index.tags(path).defs[i]
    header = " ".join(index.lines(path)[d.start - 1 : d.sig_end])
    after = header.split(d.name, 1)[-1]
    return [b for b in dict.fromkeys(_IDENT.findall(after)) if b not in _NOT_BASES and b != d.name]


class NameResolver:
    """Resolves names used in `path` (None: no current file) to their definitions.

    Remembers what it followed for the length of one ranking; not kept between queries.
    """

    def __init__(self, index: IndexView, path: str | None) -> None:
        self.index = index
        self.path = path
        self.imports = index.imports_of(path) if path else ResolvedImports()
        self._followed: dict[tuple[str, str], list[DefRef]] = {}

    @property
    def imported_names(self) -> dict[str, tuple[str | None, str]]:
        """Local name -> (file or None, original name) for what the current file imports."""
        return self.imports.names

    def follow(self, file: str, name: str, depth: int = 0) -> list[DefRef]:
        """Definitions of `name` as seen from `file`: its own, or re-exported from its imports."""
        key = (file, name)
        got = self._followed.get(key)
        if got is not None:
            return got
        self._followed[key] = []  # cycles end here
        hits = [(p, i) for p, i in self.index.defs_named(name) if p == file]
        if not hits and depth < MAX_REEXPORT_DEPTH and name != "*":
            imp = self.index.imports_of(file)
            again = imp.names.get(name)
            if again is not None and again[0] is not None and again[0] != file:
                hits = self.follow(again[0], again[1], depth + 1)
            if not hits:  # `from .x import *` and the like
                defining = self.index.def_files(name)
                for g in imp.files:
                    if g in defining:
                        hits = self.follow(g, name, depth + 1)
                        if hits:
                            break
        self._followed[key] = hits
        return hits

    def resolve(self, name: str) -> list[DefRef]:
        """The definitions `name` means here: the imported one when the file imports it,
        else every definition of that name in the repository."""
        target = self.imports.names.get(name)
        if target is not None and target[0] is not None:
            hits = self.follow(target[0], target[1])
            if hits:
                return hits
        return self.index.defs_named(name)

    def resolve_local_first(self, name: str) -> list[DefRef]:
        """resolve(name), but the current file's own definitions when it has some."""
        if self.path is not None and self.path in self.index.def_files(name):
            return [(p, i) for p, i in self.index.defs_named(name) if p == self.path]
        return self.resolve(name)
