"""The repository's answers to receiver-type questions (receiver.TypeOracle over the index).

Reads definitions' header lines and class bodies through `IndexView`; remembers answers for
the length of one query.
"""

from __future__ import annotations

import re

from retrieval.caches import add_type_names
from retrieval.files import is_test_file
from retrieval.receiver import _ID, ReceiverInference, Scope, clean_type, family
from retrieval.resolve import NameResolver, class_bases
from retrieval.tags import CONTAINER_KINDS, VALUE_KINDS
from retrieval.view import DefRef, IndexView

TYPE_KINDS = CONTAINER_KINDS | {"type"}
FUNCTION_KINDS = frozenset({"function", "method"})
MAX_DEFS = 12  # names defined more often than this answer nothing
MAX_CLASS_LINES = 3000  # class bodies searched for attribute assignments
MAX_BASE_DEPTH = 2
MAX_ATTRIBUTE_DEFS = 100  # attributes of that name, tests included, looked at
MAX_NAMED_LIKE = 6  # more classes named like a variable than this: no evidence
MAX_BODY_LINES = 200  # function bodies searched for what they return
MAX_NESTING = 2  # return types inferred from bodies that call functions...
_RETURN = re.compile(r"^\s*(?:return|yield)\s+(.+?)\s*;?\s*$", re.M)

_PY_RETURN = re.compile(r"->\s*(.+?)\s*:\s*$", re.S)
_JS_RETURN = re.compile(r"\)\s*:\s*([A-Za-z_$][\w$.]*(?:<[^{]*?>)?)\s*(?:\{|=>|;|$)", re.S)
_GO_RETURN = re.compile(r"\)\s*\(?\s*(\*?[A-Za-z_][\w.]*)[^)]*\)?\s*\{?\s*$", re.S)


class IndexTypeOracle:
    """receiver.TypeOracle answered from the index, as seen from the file `path`."""

    def __init__(self, index: IndexView, resolver: NameResolver, lang: str) -> None:
        self.index = index
        self.resolver = resolver
        self.lang = lang
        self.fam = family(lang)
        self._classes: dict[str, list[DefRef]] = {}
        self._returns: dict[DefRef, list[str]] = {}
        self._depth = 0

    # helpers ------------------------------------------------------------------------------

    def _header(self, ref: DefRef) -> str:
        path, i = ref
        d = self.index.tags(path).defs[i]
        return "\n".join(self.index.lines(path)[d.start - 1 : d.sig_end])

    def classes(self, name: str) -> list[DefRef]:
        """Definitions of class (struct, interface, type) `name`, the imported one first."""
        got = self._classes.get(name)
        if got is None:
            refs = self.resolver.resolve_local_first(name)
            got = []
            if len(refs) <= MAX_DEFS:
                for p, i in refs:
                    tags = self.index.tags(p)
                    if tags is not None and tags.defs[i].kind in TYPE_KINDS:
                        got.append((p, i))
            self._classes[name] = got
        return got

    def _lineage(self, owner: str) -> list[DefRef]:
        """Class `owner` and its bases (breadth first, a few levels)."""
        out: list[DefRef] = []
        todo = [(ref, 0) for ref in self.classes(owner)]
        while todo:
            ref, depth = todo.pop(0)
            if ref in out:
                continue
            out.append(ref)
            if depth < MAX_BASE_DEPTH:
                for base in class_bases(self.index, *ref):
                    todo += [(b, depth + 1) for b in self.classes(base)[:3]]
        return out

    def _member(self, owner: DefRef, name: str) -> list[DefRef]:
        path, i = owner
        tags = self.index.tags(path)
        return [
            (path, j)
            for j, d in enumerate(tags.defs)
            if d.parent == i and tags.def_names[j] == name
        ]

    def _declared_return(self, ref: DefRef) -> str | None:
        header = self._header(ref)
        if self.fam == "python":
            m = _PY_RETURN.search(header)
        elif self.fam == "go":
            m = _GO_RETURN.search(header.split("{", 1)[0] + " {")
        else:
            m = _JS_RETURN.search(header)
        return clean_type(m.group(1)) if m else None

    def _returned(self, ref: DefRef) -> list[str]:
        """What a function returns: its declared type, else what its `return`s build."""
        got = self._returns.get(ref)
        if got is not None:
            return got
        declared = self._declared_return(ref)
        if declared or self._depth >= MAX_NESTING:
            got = [declared] if declared else []
        else:
            self._returns[ref] = []  # recursion ends here
            path, i = ref
            tags = self.index.tags(path)
            d = tags.defs[i]
            body = "\n".join(
                self.index.lines(path)[d.start - 1 : min(d.end, d.start + MAX_BODY_LINES)]
            )
            owner = tags.def_names[d.parent] if d.parent >= 0 else None
            inference = ReceiverInference(Scope(tags.lang, body, 0, owner), self)
            got = []
            self._depth += 1
            try:
                for value in _RETURN.findall(body)[:6]:
                    got += [t for t, _ in inference.expression_types(value) if t not in got]
            finally:
                self._depth -= 1
        self._returns[ref] = got
        return got

    def fixture_types(self, name: str) -> list[str]:
        """What a pytest fixture `name` (a parameter of a test) provides."""
        refs = self.index.defs_named(name)
        if len(refs) > 40:
            return []
        out: list[str] = []
        for ref in refs:
            d = self.index.tags(ref[0]).defs[ref[1]]
            if d.kind == "function" and "fixture" in self._header(ref):
                out += [t for t in self._returned(ref) if t not in out]
        return out

    def _constructed(self, value: str, context: str) -> list[str]:
        """Types of an assigned value: `T(...)`, `new T(...)`, `T{...}`, `f(...)`, a param."""
        v = value.strip().removeprefix("await ").removeprefix("new ").lstrip("&*")
        m = re.match(r"((?:" + _ID + r"\.)*)(" + _ID + r")\s*([({]?)", v)
        if not m:
            return []
        name, opener = m.group(2), m.group(3)
        if opener and self.is_class(name):
            return [name]
        if opener == "(" and not m.group(1):
            return self.return_types(name, None)
        if not opener and not m.group(1):  # `self.x = x`: the parameter's annotation
            ann = re.search(rf"(?<![\w.]){re.escape(name)}\??\s*:\s*([^=,)\n]+)", context)
            t = clean_type(ann.group(1)) if ann else None
            return [t] if t else []
        return []

    # the oracle ---------------------------------------------------------------------------

    def is_class(self, name: str) -> bool:
        """The repository defines a class, interface, struct or type alias `name`."""
        return bool(name) and bool(self.classes(name))

    def return_types(self, function: str, owner: str | None) -> list[str]:
        """Declared return types of `function` (a method of owner or its bases if given)."""
        refs: list[DefRef] = []
        if owner is not None:
            for cls in self._lineage(owner):
                refs = self._member(cls, function)
                if refs:
                    break
        if not refs:
            all_refs = self.resolver.resolve(function)
            if len(all_refs) > MAX_DEFS:
                return []
            refs = [r for r in all_refs if self.index.tags(r[0]).defs[r[1]].kind in FUNCTION_KINDS]
        out: list[str] = []
        for ref in refs[:6]:
            out += [t for t in self._returned(ref) if t not in out]
        return out

    def attribute_types(self, owner: str, attribute: str) -> list[str]:
        """Types of owner.attribute: a member's declaration, or assignments in the class."""
        out: list[str] = []
        for cls in self._lineage(owner):
            path, i = cls
            tags = self.index.tags(path)
            lines = self.index.lines(path)
            for ref in self._member(cls, attribute):
                d = tags.defs[ref[1]]
                if d.kind in FUNCTION_KINDS:  # a property (or a getter)
                    t = self._declared_return(ref)
                    if t:
                        out.append(t)
                    continue
                line = lines[d.start - 1] if d.start <= len(lines) else ""
                ann = re.search(rf"{re.escape(attribute)}\??\s*:\s*([^=;\n]+)", line)
                if ann and clean_type(ann.group(1)):
                    out.append(clean_type(ann.group(1)))
                    continue
                if self.fam == "go":
                    m = re.search(rf"\b{re.escape(attribute)}\s+(\*?[\w.]+)", line)
                    t = clean_type(m.group(1)) if m else None
                    if t:
                        out.append(t)
                    continue
                eq = re.search(rf"{re.escape(attribute)}\s*=\s*(.+)", line)
                if eq:
                    out += self._constructed(eq.group(1), line)
            if out:
                break
            cd = tags.defs[i]
            body = "\n".join(lines[cd.start - 1 : min(cd.end, cd.start + MAX_CLASS_LINES)])
            attr = re.escape(attribute)
            for m in re.finditer(rf"(?:self|this)\.{attr}\s*(?::[^=\n]+)?=(?!=)\s*([^\n;]+)", body):
                out += [t for t in self._constructed(m.group(1), body) if t not in out]
            prop = re.search(
                rf"(?:private|public|protected|readonly)\s+(?:readonly\s+)?{attr}\??\s*:\s*"
                r"([A-Za-z_$][\w$.]*)",
                body,
            )  # a TypeScript constructor parameter property
            if prop and clean_type(prop.group(1)):
                out.append(clean_type(prop.group(1)))
            if out:
                break
        return list(dict.fromkeys(out))

    def instance_types(self, name: str) -> list[str]:
        """Types of a module-level `name = T(...)` in the file `name` is imported from."""
        target = self.resolver.imported_names.get(name)
        if target is None or target[0] is None:
            return []
        out: list[str] = []
        for path, i in self.resolver.follow(target[0], target[1]):
            d = self.index.tags(path).defs[i]
            if d.kind not in ("constant", "variable"):
                continue
            line = self.index.lines(path)[d.start - 1]
            m = re.search(r"=\s*(.+)", line)
            if m:
                out += self._constructed(m.group(1), line)
        return out

    def attribute_types_anywhere(self, attribute: str) -> list[str]:
        """Types library classes give an attribute of that name (`objects = Manager()`),
        most common first."""
        refs = self.index.defs_named(attribute)
        if len(refs) > MAX_ATTRIBUTE_DEFS:
            return []
        counts: dict[str, int] = {}
        for path, j in refs:
            if is_test_file(path):
                continue
            tags = self.index.tags(path)
            d = tags.defs[j]
            if (
                d.parent < 0
                or d.kind not in VALUE_KINDS
                or tags.defs[d.parent].kind not in TYPE_KINDS
            ):
                continue
            line = self.index.lines(path)[d.start - 1]
            m = re.search(rf"{re.escape(attribute)}\s*(?::[^=]+)?=\s*(.+)", line)
            for t in self._constructed(m.group(1), line) if m else ():
                counts[t] = counts.get(t, 0) + 1
        return sorted(counts, key=lambda t: -counts[t])[:MAX_NAMED_LIKE]

    def classes_named_like(self, word: str) -> list[str]:
        """Classes whose name ends with the CamelCase word (`Request` -> HttpRequest, ...)."""
        table = self.index.caches.type_suffixes
        if table is None:
            table = {}
            add_type_names(table, self.index.defined_names())
            self.index.caches.type_suffixes = table
        names = []
        for name in sorted(table.get(word, ())):
            refs = self.classes(name) if name != word else []
            if any(not is_test_file(p) for p, _ in refs):  # library classes, not test doubles
                names.append(name)
        return names if len(names) <= MAX_NAMED_LIKE else []

    def classes_with_members(self, members: list[str]) -> list[str]:
        """Classes that define the most of `members` (at least one)."""
        counts: dict[str, int] = {}
        for member in members[:12]:
            refs = self.index.defs_named(member)
            if len(refs) > 40:
                continue  # `get`, `save`: says nothing
            owners = set()
            for path, j in refs:
                tags = self.index.tags(path)
                parent = tags.defs[j].parent
                if parent >= 0 and tags.defs[parent].kind in TYPE_KINDS:
                    owners.add(tags.def_names[parent])
            for o in owners:
                counts[o] = counts.get(o, 0) + 1
        if not counts:
            return []
        best = max(counts.values())
        return sorted(c for c, n in counts.items() if n == best)
