"""Receiver types: which class `x` holds when the cursor is right after `x.` (or `x.y.`).

Pure inference over the buffer's text plus a `TypeOracle` that answers what the repository
declares (return types, attribute types, module-level instances, classes' members). Rules,
each tried in order of strength and each named in its guesses (`TypeGuess.rule`):

- `self.` / `this.` / `cls.`: the enclosing class (its members and bases are in the
  repository);
- annotations: parameters (`def f(x: T)`, `(x: T)`, Go `x *T`, Go method receivers),
  variables (`x: T = ...`, `let x: T`, `var x T`);
- assignments: constructor calls (`x = T(...)`, `new T(...)`, Go `T{...}` / `&T{...}`) and
  the declared return types of called functions and methods (`x = make()`, `x = a.b()`);
- `with T(...) as x:`;
- attributes: `self.attr` / `this.attr` typed by `self.attr = T(...)`, `attr: T`, a
  constructor parameter property, or a property's return type, in the class or its bases;
- module-level instances: `x = T(...)` at the top of this file or of the file `x` is
  imported from;
- test fixtures: a test's parameter named like a pytest fixture gets what the fixture
  returns (declared, or built in its `return`/`yield`);
- members used: the repository's classes that define the members used on `x` earlier in
  the buffer (`x.open(); x.read_rows(` -> classes with both);
- fluent chains: `x.filter(...).` with nothing else known -> the classes defining `filter`;
- an attribute of an unknown owner (`A.objects.`): what the repository's classes declare
  attributes of that name to be (`objects = Manager()`);
- the name: a variable named like a class (`basket` -> Basket, or `request` ->
  HttpRequest, a class whose name ends like it), weakest.

Chains are followed a link at a time (`self.client.session.` -> type of client, then of its
`session`; `make().` -> return type of make).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Protocol

# weights of the evidence (the signal multiplies these into the receiver's class score)
STRONG = 3.0  # a declaration or construction says so
MEDIUM = 2.0  # what the repository declares elsewhere (returns, attributes, instances)
WEAK = 1.2  # the members used on x fit the class
NAME_LIKE = 0.8  # only the variable's name suggests it

MAX_CHAIN = 4
MAX_SCOPE_CHARS = 20_000  # text before the cursor searched for assignments
MAX_MEMBER_CLASSES = 6  # "members used" names too many classes: not evidence

_ID = r"[A-Za-z_$][\w$]*"
_SELF = {"self", "this", "cls"}
_BUILTIN_TYPES = frozenset(
    [
        "str",
        "int",
        "float",
        "bool",
        "bytes",
        "dict",
        "list",
        "set",
        "tuple",
        "object",
        "None",
        "Any",
        "any",
        "string",
        "number",
        "boolean",
        "void",
        "unknown",
        "never",
        "Optional",
        "Union",
        "List",
        "Dict",
        "Set",
        "Tuple",
        "Type",
        "Callable",
        "Iterable",
        "Iterator",
        "Sequence",
        "Mapping",
        "Awaitable",
        "Coroutine",
        "Generator",
        "Promise",
        "Array",
        "Record",
        "Partial",
        "Readonly",
        "error",
        "interface",
        "func",
        "map",
        "chan",
        "byte",
        "rune",
        "int64",
        "int32",
        "uint",
        "uint64",
        "float64",
        "Self",
    ]
)
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_KEYWORDS = frozenset(keyword.kwlist) | {"self", "this", "new", "typeof", "await"}


@dataclass(frozen=True)
class TypeGuess:
    """A class the receiver may hold, how strongly, and which rule said so."""

    name: str
    weight: float
    rule: str


class TypeOracle(Protocol):
    """What the repository declares, as inference needs it (retrieval/receiver_index.py)."""

    def is_class(self, name: str) -> bool:
        """The repository defines a class, interface, struct or type alias `name`."""
        ...

    def return_types(self, function: str, owner: str | None) -> list[str]:
        """Declared return types of functions/methods `function` (of class owner if given)."""
        ...

    def attribute_types(self, owner: str, attribute: str) -> list[str]:
        """Types of `owner.attribute` (assignments, annotations, properties; bases too)."""
        ...

    def instance_types(self, name: str) -> list[str]:
        """Types of a module-level `name = T(...)` the current file imports."""
        ...

    def classes_with_members(self, members: list[str]) -> list[str]:
        """Classes defining the most of `members` (none when no class defines any)."""
        ...

    def fixture_types(self, name: str) -> list[str]:
        """What a test fixture called `name` provides (pytest: the parameter's name)."""
        ...

    def classes_named_like(self, word: str) -> list[str]:
        """Classes whose name ends with the CamelCase `word` (`Request` -> HttpRequest)."""
        ...

    def attribute_types_anywhere(self, attribute: str) -> list[str]:
        """Types the repository's classes give attributes of that name, most common first."""
        ...


@dataclass(frozen=True)
class Link:
    """One link of a receiver chain: a name, called or not."""

    name: str
    call: bool = False


@dataclass(frozen=True)
class Scope:
    """Where the cursor is: its language, the text before it, the enclosing definitions."""

    lang: str
    before: str  # the buffer up to the cursor
    function_start: int  # offset in `before` where the enclosing function starts (0: none)
    class_name: str | None  # the enclosing class, if any


def family(lang: str) -> str:
    """'python', 'go', or 'js' (TypeScript, JavaScript and C-like syntax)."""
    if lang in ("python", "ruby"):
        return "python"
    if lang == "go":
        return "go"
    return "js"


def receiver_chain(prefix: str) -> list[Link] | None:
    """The receiver before a trailing `.` of `prefix` (the line up to the cursor), or None.

    'x = self.client.get(a, b).' -> [self, client, get()]; calls' arguments are skipped.
    """
    text = prefix.rstrip()
    if not text.endswith("."):
        m = re.search(r"\.\s*" + _ID + r"$", text)  # cursor inside a member name: `x.ge`
        if not m:
            return None
        text = text[: m.start() + 1]
    i = len(text) - 1  # at the dot
    links: list[Link] = []
    while True:
        j = i - 1
        while j >= 0 and text[j] == " ":
            j -= 1
        call = False
        if j >= 0 and text[j] in ")]":
            close, open_ = text[j], "(" if text[j] == ")" else "["
            depth = 0
            while j >= 0:
                if text[j] == close:
                    depth += 1
                elif text[j] == open_:
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j < 0:
                return None
            call = close == ")"
            j -= 1
            if close == "]":  # x[0].: an element; its type is not the container's
                return None
        end = j + 1
        while j >= 0 and (text[j].isalnum() or text[j] in "_$"):
            j -= 1
        name = text[j + 1 : end]
        if not name or name[0].isdigit():
            return None
        links.append(Link(name, call))
        if j >= 0 and text[j] == "." and len(links) < MAX_CHAIN + 1:
            i = j
            continue
        if j >= 0 and text[j] in "'\"`":
            return None  # a string literal's method
        break
    links.reverse()
    return links if len(links) <= MAX_CHAIN else None


_WRAPPERS = ("Optional[", "Type[", "type[", "Awaitable[", "Promise<", "ClassVar[", "Final[")


def clean_type(text: str) -> str | None:
    """The class a type expression names: 'Optional[pkg.Client]' -> Client; '*T' -> T."""
    t = text.strip()
    for _ in range(3):
        t = t.strip().strip("'\"")
        parts = [p.strip() for p in t.split("|")]
        t = next((p for p in parts if p and p != "None" and p != "null"), "")
        for wrapper in _WRAPPERS:
            if t.startswith(wrapper):
                t = t[len(wrapper) :]
        t = t.lstrip("*&[]").removeprefix("readonly ").strip()
    m = re.match(r"[A-Za-z_$][\w$.]*", t)
    if not m:
        return None
    name = m.group(0).rsplit(".", 1)[-1]
    if name in _BUILTIN_TYPES or name in _KEYWORDS or not name:
        return None
    return name


def class_names_like(var: str) -> list[str]:
    """'subscriber' -> Subscriber; 'query_set' -> QuerySet; 'innerSub' -> InnerSub, Sub."""
    parts = [p for p in _CAMEL.findall(var.strip("_$")) if p]
    if not parts:
        return []
    whole = "".join(p[:1].upper() + p[1:] for p in parts)
    last = parts[-1][:1].upper() + parts[-1][1:]
    return list(dict.fromkeys([whole, last]))


# ---- declarations in the text before the cursor ------------------------------------------


def _annotation_patterns(fam: str, name: str) -> list[re.Pattern]:
    n = re.escape(name)
    if fam == "python":
        # a parameter (after `(` or `,`) or a statement `x: T = ...`; never `if x: ...`
        return [
            re.compile(
                rf"(?:^[ \t]*|[(,][ \t\n]*){n}[ \t]*:[ \t]*([^=,)\n]+?)[ \t]*(?:[=,)\n]|$)", re.M
            )
        ]
    if fam == "go":
        return [
            re.compile(rf"\(\s*{n}\s+(\*?[\w.]+)\s*\)\s*\w+\s*\("),  # method receiver
            re.compile(rf"(?<![\w.]){n}\s+(\*?[\w.]+)\s*[,)]"),  # parameter
            re.compile(rf"\bvar\s+{n}\s+(\*?[\w.]+)"),
        ]
    return [re.compile(rf"(?<![\w.$]){n}\??\s*:\s*([A-Za-z_$][\w$.]*)")]


def _assignment_pattern(fam: str, name: str) -> re.Pattern:
    n = re.escape(name)
    if fam == "go":
        return re.compile(rf"(?<![\w.]){n}\s*(?:,\s*\w+\s*)?:?=\s*([^\n;]+)")
    if fam == "python":
        return re.compile(rf"(?<![\w.]){n}\s*(?::[^=\n]+)?=(?!=)\s*([^\n]+)")
    return re.compile(rf"(?<![\w.$]){n}\s*(?::[^=\n]+)?=(?![=>])\s*([^\n;]+)")


def _with_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\bwith\s+(?:.*,\s*)?(.+?)\s+as\s+{re.escape(name)}\b")


def _last_matches(pattern: re.Pattern, text: str) -> list[str]:
    """The captured texts, the last (closest to the cursor) first."""
    return [m.group(1) for m in pattern.finditer(text)][::-1]


# ---- the inference ------------------------------------------------------------------------


class ReceiverInference:
    """Types of receiver chains at one cursor (one object per query)."""

    def __init__(self, scope: Scope, oracle: TypeOracle) -> None:
        self.scope = scope
        self.oracle = oracle
        self.fam = family(scope.lang)
        before = scope.before[-MAX_SCOPE_CHARS:]
        self.local = scope.before[scope.function_start :][-MAX_SCOPE_CHARS:]
        self.module = before
        self._expr_depth = 0

    # expressions --------------------------------------------------------------------------

    def expression_types(self, expr: str) -> list[tuple[str, str]]:
        """Types of the value of an expression (the right side of an assignment)."""
        e = expr.strip().rstrip(";").strip()
        for word in ("await ", "yield ", "return "):
            e = e.removeprefix(word)
        e = e.strip("( ")
        new = e.startswith("new ")
        e = e.removeprefix("new ").lstrip("&*")
        m = re.match(r"((?:[A-Za-z_$][\w$]*\s*(?:\([^()]*\)|\{[^{}]*\}|\[[^\]]*\])?\s*\.\s*)*)"
                     r"([A-Za-z_$][\w$]*)\s*([({]?)", e)  # fmt: skip
        if not m or self._expr_depth > 3:
            return []
        last, opener = m.group(2), m.group(3)
        head = [p for p in re.split(r"\s*\.\s*", m.group(1).strip()) if p]
        if not head:
            if opener in ("(", "{") and (new or self.oracle.is_class(last)):
                return [(last, "constructor")]
            if opener == "(":
                return [(t, "return type") for t in self.oracle.return_types(last, None)]
            if opener == "":
                self._expr_depth += 1
                try:
                    return [(t, "assigned from " + last) for t, _ in self.name_types(last)]
                finally:
                    self._expr_depth -= 1
            return []
        links = [
            Link(re.sub(r"\s*[\(\{\[].*$", "", p), p.rstrip().endswith((")", "}"))) for p in head
        ]
        links.append(Link(last, opener == "("))
        self._expr_depth += 1
        try:
            if opener in ("(", "{") and (new or self.oracle.is_class(last)):
                return [(last, "constructor")]  # pkg.Client(...) / new ns.Client()
            found = [(t, "via " + ".".join(x.name for x in links)) for t in self.chain_types(links)]
            if not found and opener == "(":  # `pkg.make()`: a module's function
                found = [(t, "return type") for t in self.oracle.return_types(last, None)]
            return found
        finally:
            self._expr_depth -= 1

    def name_types(self, name: str) -> list[tuple[str, str]]:
        """Types of a plain name at the cursor: (type, rule), strongest first."""
        out: list[tuple[str, str]] = []
        if name in _SELF:
            if self.scope.class_name:
                out.append((self.scope.class_name, "enclosing class"))
            return out
        for text in (self.local, self.module):
            for pattern in _annotation_patterns(self.fam, name):
                for found in _last_matches(pattern, text)[:2]:
                    t = clean_type(found)
                    if t:
                        out.append((t, "annotation"))
            if out:
                return out
            if self.fam == "python":
                for found in _last_matches(_with_pattern(name), text)[:1]:
                    out += [(t, "with ... as") for t, _ in self.expression_types(found)]
            for found in _last_matches(_assignment_pattern(self.fam, name), text)[:2]:
                out += self.expression_types(found)
            if out:
                return out
        out += [(t, "module-level instance") for t in self.oracle.instance_types(name)]
        if not out and self.fam == "python":
            out += [(t, "test fixture") for t in self.oracle.fixture_types(name)]
        if self.oracle.is_class(name):
            out.append((name, "class"))  # Class.method( / a static member
        return out

    def chain_types(self, links: list[Link]) -> list[str]:
        """Types at the end of a chain, following attributes and calls a link at a time."""
        first = links[0]
        if first.call:
            if self.oracle.is_class(first.name):
                types = [first.name]
            else:
                types = self.oracle.return_types(first.name, None)
        else:
            types = [t for t, _ in self.name_types(first.name)]
        for link in links[1:]:
            if not types:
                return []
            nxt: list[str] = []
            for owner in types[:3]:
                if link.call:
                    found = self.oracle.return_types(link.name, owner)
                else:
                    found = self.oracle.attribute_types(owner, link.name)
                nxt += [t for t in found if t not in nxt]
            types = nxt
        return list(dict.fromkeys(types))

    # the receiver -------------------------------------------------------------------------

    def members_used(self, receiver: str) -> list[str]:
        """Members used on `receiver` (its text, e.g. 'self.form') earlier in the buffer; for
        an attribute (`A.objects`), on any receiver ending in that attribute (`B.objects`)."""
        if "." in receiver:
            last = re.escape(receiver.rsplit(".", 1)[1])
            head = r"(?<![\w$])(?:" + _ID + r"\s*\.\s*)+" + last
        else:
            head = r"(?<![\w.$])" + re.escape(receiver)
        pattern = re.compile(head + r"\s*\.\s*(" + _ID + ")")
        return list(dict.fromkeys(pattern.findall(self.module)))

    def guesses(self, links: list[Link]) -> list[TypeGuess]:
        """Classes the receiver chain may hold, strongest first."""
        out: dict[str, TypeGuess] = {}

        def add(name: str, weight: float, rule: str) -> None:
            got = out.get(name)
            if got is None or got.weight < weight:
                out[name] = TypeGuess(name, weight, rule)

        if len(links) == 1 and not links[0].call:
            for i, (t, rule) in enumerate(self.name_types(links[0].name)):
                weak = rule in ("class", "module-level instance")
                add(t, (MEDIUM if weak else STRONG) / (1 + 0.5 * min(i, 2)), rule)
        else:
            for i, t in enumerate(self.chain_types(links)):
                add(t, MEDIUM / (1 + 0.5 * min(i, 2)), "declared along the chain")
        receiver = ".".join(x.name + ("()" if x.call else "") for x in links)
        if not any(x.call for x in links):
            used = self.members_used(receiver)
            if used:
                classes = self.oracle.classes_with_members(used)
                if 0 < len(classes) <= MAX_MEMBER_CLASSES:
                    for c in classes:
                        add(c, WEAK, f"defines {', '.join(used[:3])} used on {receiver}")
        last = links[-1]
        if not out and last.call and len(links) > 1:
            # a fluent chain (`qs.filter(...).`): such methods tend to return their own class
            classes = self.oracle.classes_with_members([last.name])
            if 0 < len(classes) <= MAX_MEMBER_CLASSES:
                for c in classes:
                    add(c, WEAK, f"defines {last.name}(), the last call")
        if not out and len(links) > 1 and not last.call:
            # `A.objects.`: what classes declaring an attribute of that name put there
            for t in self.oracle.attribute_types_anywhere(last.name):
                add(t, WEAK, f"what classes declare as {last.name!r}")
        if not out and last.name not in _SELF and not last.call:
            for c in class_names_like(last.name):
                if c != last.name:
                    add(c, NAME_LIKE, f"named like {last.name!r}")
            words = class_names_like(last.name)
            for c in self.oracle.classes_named_like(words[-1]) if words else ():
                add(c, NAME_LIKE * 0.8, f"a ...{words[-1]} class, like {last.name!r}")
        return sorted(out.values(), key=lambda g: -g.weight)
