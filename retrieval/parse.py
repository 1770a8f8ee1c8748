"""Parse one file's bytes into its tags: definitions, referenced names, imports (pure)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import accumulate, chain, count
from operator import add

from tree_sitter import Node, Parser, Query, QueryCursor, Tree

from retrieval.languages import grammar
from retrieval.queries import DEFINITIONS, REFERENCE_KINDS
from retrieval.tags import DefTag, FileTags

_IDENT = re.compile(rb"[A-Za-z_$][A-Za-z0-9_$]*")
_KEYWORDS: dict[str, frozenset[bytes]] = {
    "python": frozenset(
        b"False None True and as assert async await break class continue def del elif else "
        b"except finally for from global if import in is lambda nonlocal not or pass raise "
        b"return try while with yield self cls".split()
    ),
    "javascript": frozenset(
        b"break case catch class const continue debugger default delete do else export extends "
        b"finally for function if import in instanceof let new return super switch this throw "
        b"try typeof var void while with yield async await of null true false undefined".split()
    ),
    "go": frozenset(
        b"break case chan const continue default defer else fallthrough for func go goto if "
        b"import interface map package range return select struct switch type var nil true "
        b"false".split()
    ),
    "rust": frozenset(
        b"as break const continue crate else enum extern false fn for if impl in let loop "
        b"match mod move mut pub ref return self Self static struct super trait true type "
        b"unsafe use where while async await dyn".split()
    ),
    "java": frozenset(
        b"abstract boolean break byte case catch char class const continue default do double "
        b"else enum extends final finally float for if implements import instanceof int "
        b"interface long native new package private protected public return short static "
        b"super switch this throw throws try void volatile while null true false".split()
    ),
    "c": frozenset(
        b"auto break case char const continue default do double else enum extern float for "
        b"goto if include define ifdef ifndef endif int long register return short signed "
        b"sizeof static struct switch typedef union unsigned void volatile while NULL".split()
    ),
    "ruby": frozenset(
        b"alias and begin break case class def defined do else elsif end ensure false for if "
        b"in module next nil not or redo rescue retry return self super then true undef "
        b"unless until when while yield require require_relative".split()
    ),
}
_KEYWORDS["typescript"] = _KEYWORDS["javascript"] | frozenset(
    b"interface type enum implements private public protected readonly abstract declare "
    b"namespace keyof string number boolean any unknown never".split()
)
_KEYWORDS["tsx"] = _KEYWORDS["typescript"]
_KEYWORDS["cpp"] = _KEYWORDS["c"] | frozenset(
    b"class namespace template typename public private protected virtual override this new "
    b"delete using nullptr true false bool operator friend inline constexpr auto".split()
)


def _line_offsets(data: bytes) -> list[int]:
    """Byte offset of the start of each line, plus len(data) at the end."""
    # line i starts after the i lines before it and their newlines (all in C)
    lengths = map(len, data.split(b"\n")[:-1])
    return [0, *map(add, accumulate(lengths), count(1)), len(data)]


# Wrappers whose span belongs to the definition they wrap (decorators, `export`, templates).
_WRAPPERS = {"decorated_definition", "export_statement", "template_declaration"}
# Definitions whose children are members (methods, fields) rather than locals.
_CLASS_KINDS = {"class", "interface", "impl"}
# When one name is captured by several patterns, the more specific kind wins.
_KIND_RANK = {"constant": 1, "variable": 1, "field": 2}


_DEFINITION_CAPTURE = re.compile(r"@(definition\.\w+)")


@dataclass(frozen=True)
class _Compiled:
    parser: Parser
    defs: Query
    refs: Query
    definition_capture: tuple[str | None, ...]  # per pattern of defs: its @definition.KIND


@cache
def _compiled(lang: str) -> _Compiled:
    g = grammar(lang)
    kinds = [k for k in REFERENCE_KINDS if g.id_for_node_kind(k, True)]
    refs = Query(g, "[" + " ".join(f"({k})" for k in kinds) + "] @ref")
    source = DEFINITIONS[lang]
    defs = Query(g, source)
    captures = []
    for i in range(defs.pattern_count):
        text = source.encode()[defs.start_byte_for_pattern(i) : defs.end_byte_for_pattern(i)]
        found = _DEFINITION_CAPTURE.findall(text.decode())
        assert len(set(found)) <= 1, f"{lang}: pattern {i} has several definition captures"
        captures.append(found[0] if found else None)
    return _Compiled(Parser(g), defs, refs, tuple(captures))


def _signature_end(node: Node) -> int:
    """The last row of a definition's header (up to where its body starts)."""
    body = node.child_by_field_name("body")
    if body is None:
        if node.type in _WRAPPERS:
            inner = node.child_by_field_name("definition") or node.child_by_field_name(
                "declaration"
            )
            if inner is None and node.named_child_count:
                inner = node.named_children[-1]
            if inner is not None:
                return _signature_end(inner)
        # assignments and fields: the first line is the header unless it is short
        return min(node.end_point[0], node.start_point[0] + 2)
    if body.start_point[0] > node.start_point[0] and node.type in (
        "function_definition",
        "class_definition",
    ):
        prev = body.prev_sibling
        if prev is not None:
            return prev.end_point[0]
    return body.start_point[0]


def parse_source(data: bytes, lang: str) -> FileTags:
    """Parse `data` as `lang`; never raises on bad code (error nodes are counted and skipped)."""
    return tags_from_tree(_compiled(lang).parser.parse(data), data, lang)


@dataclass
class ParsedText:
    """A buffer's bytes and its syntax tree, kept so the next version re-parses incrementally."""

    data: bytes
    tree: Tree
    lang: str


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix (binary search over slice compares, C speed)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _point(data: bytes, offset: int) -> tuple[int, int]:
    """(row, byte column) of a byte offset."""
    row = data.count(b"\n", 0, offset)
    return row, offset - (data.rfind(b"\n", 0, offset) + 1)


def parse_incremental(
    data: bytes, lang: str, previous: ParsedText | None = None
) -> tuple[FileTags, ParsedText]:
    """parse_source, reusing `previous` (the last version of the same buffer) when given.

    The one edited region (common prefix and suffix stripped) is applied to the old tree with
    Tree.edit, and tree-sitter re-parses only what that edit touched; the tags are the same
    as a full parse's.
    """
    parser = _compiled(lang).parser
    if previous is None or previous.lang != lang:
        tree = parser.parse(data)
    elif previous.data == data:
        tree = previous.tree
    else:
        old = previous.data
        start = _common_prefix(old, data)
        room = min(len(old), len(data)) - start
        # common suffix, not overlapping the prefix: a prefix of the reversed tails
        tail = _common_prefix(old[start:][::-1], data[start:][::-1])
        tail = min(tail, room)
        old_end, new_end = len(old) - tail, len(data) - tail
        tree = previous.tree.copy()
        tree.edit(
            start_byte=start,
            old_end_byte=old_end,
            new_end_byte=new_end,
            start_point=_point(old, start),
            old_end_point=_point(old, old_end),
            new_end_point=_point(data, new_end),
        )
        tree = parser.parse(data, tree)
    return tags_from_tree(tree, data, lang), ParsedText(data, tree, lang)


def tags_from_tree(tree: Tree, data: bytes, lang: str) -> FileTags:
    """The tags of `data`, given its syntax tree."""
    c = _compiled(lang)
    root = tree.root_node
    tags = FileTags(lang=lang, lines=data.count(b"\n") + 1)
    tags.errors = 1 if root.has_error else 0
    defs = _definitions(c, root)
    tags.raw_defs = tuple(defs)
    tags.def_names = [d.name for d in defs]
    _names_and_terms(tags, data, defs)
    tags.imports = _imports(root, data, lang)
    return tags


def _definitions(c: _Compiled, root: Node) -> list[DefTag]:
    """The definitions the language's query captures, sorted by start, with their parents."""
    found: list = []
    seen: dict[int, int] = {}  # name start byte -> index in found
    capture_of = c.definition_capture
    for pattern, caps in QueryCursor(c.defs).matches(root):
        name_nodes = caps.get("name")
        if not name_nodes:
            continue
        key = capture_of[pattern]
        nodes = caps.get(key) if key else None
        if not nodes:
            continue
        node = nodes[0]
        kind = key[11:]
        nn = name_nodes[0]
        name_start = nn.start_byte
        prev = seen.get(name_start)
        if prev is not None:
            if _KIND_RANK.get(kind, 9) <= _KIND_RANK.get(found[prev][4], 9):
                continue
            found[prev] = None  # replaced by the more specific capture below
        seen[name_start] = len(found)
        span = node
        up = span.parent
        while up is not None and up.type in _WRAPPERS:
            span = up
            up = span.parent
        start_row = span.start_point[0]
        end_row, end_col = span.end_point
        found.append(
            (
                span.start_byte,
                -span.end_byte,
                start_row + 1,
                nn.text.decode("utf-8", "replace"),
                kind,
                end_row + 1 if end_col or end_row == start_row else end_row,
                _signature_end(node) + 1,
                nn.start_point[1],
            )
        )
    found = sorted(f for f in found if f is not None)
    defs: list[DefTag] = []
    stack: list[tuple[int, int]] = []  # (end_byte, index)
    for i, (start_b, neg_end, start_line, name, kind, end_line, sig_end, col) in enumerate(found):
        while stack and stack[-1][0] <= start_b:
            stack.pop()
        parent = stack[-1][1] if stack else -1
        if kind == "function" and parent >= 0 and defs[parent].kind in _CLASS_KINDS:
            kind = "method"
        sig_end = max(start_line, min(sig_end, end_line))
        defs.append(DefTag(name, kind, start_line, end_line, sig_end, col, parent))
        stack.append((-neg_end, i))
    return defs


def _names_and_terms(tags: FileTags, data: bytes, defs: list[DefTag]) -> None:
    """Referenced names with their counts, and the names used in each definition's window.

    A regex over the bytes is ~8x cheaper than capturing every identifier node, and names in
    strings/comments are signal for ranking, not noise. Exact positions (for rename) come from
    `reference_positions`, which parses on demand.

    One pass: the file is cut into segments at every window's first and last line, so the
    words of each segment count once for the file and serve every window that covers it
    (lines are never inside a word, so cutting at line starts changes no match).
    """
    windows: list[tuple[int, int]] = []
    if defs:
        offsets = _line_offsets(data)
        last = len(offsets) - 1
        following = [*defs[1:], None]
        for i, (d, after) in enumerate(zip(defs, following, strict=True)):
            # a definition's window: its own lines up to its first member, at most 60 lines
            stop = d.start + 60
            if d.end < stop:
                stop = d.end
            if after is not None and after.parent == i:
                member = after.start - 1
                if member < d.sig_end:
                    member = d.sig_end
                if member < stop:
                    stop = member
            windows.append((offsets[d.start - 1], offsets[stop if stop < last else last]))
    cuts = sorted({0, len(data)}.union(*windows))
    findall = _IDENT.findall
    segments = [findall(data, a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
    counts = Counter(chain.from_iterable(segments))
    keywords = _KEYWORDS.get(tags.lang, ())
    present = frozenset(kw for kw in keywords if counts.pop(kw, None) is not None)
    if counts:
        # identifiers are ASCII (the pattern says so): one decode for all of them
        tags.names = b"\n".join(counts).decode("ascii").split("\n")
        tags.counts = list(counts.values())
    if not windows:
        return
    index_of = dict(zip(counts, range(len(counts)), strict=True))
    position = {cut: k for k, cut in enumerate(cuts)}
    terms: list[list[int]] = tags.raw_terms  # type: ignore[assignment]
    for a, b in windows:
        first = position[a]
        end = position[b] if b > a else first
        if end - first == 1:
            used = set(segments[first])
        else:
            used = set()
            for k in range(first, end):
                used.update(segments[k])
        used -= present
        terms.append(sorted(map(index_of.__getitem__, used)))


_IMPORT_NODES: dict[str, frozenset[str]] = {
    "python": frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
    "javascript": frozenset({"import_statement", "export_statement"}),
    "go": frozenset({"import_declaration"}),
    "rust": frozenset({"use_declaration"}),
    "java": frozenset({"import_declaration"}),
    "c": frozenset({"preproc_include"}),
    "ruby": frozenset(),
}
_IMPORT_NODES["typescript"] = _IMPORT_NODES["tsx"] = _IMPORT_NODES["javascript"]
_IMPORT_NODES["cpp"] = _IMPORT_NODES["c"]
# blocks at the top of a file that often hold imports (`if TYPE_CHECKING:`, `try:`, `#ifdef`)
_IMPORT_BLOCKS = frozenset(
    {
        "ERROR",
        "if_statement",
        "try_statement",
        "block",
        "else_clause",
        "except_clause",
        "preproc_ifdef",
        "preproc_if",
        "preproc_else",
        "declaration_list",
    }
)
_REQUIRE = re.compile(rb"""\b(?:require|require_relative|import)\s*\(?\s*['"]([^'"\n]+)['"]""")
# an indented import, matched at the start of a line that holds the word `import`
_PY_NESTED_IMPORT = re.compile(
    rb"[ \t]+((?:from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]+))|import[ \t]+[^\n]+)"
)
_FROM = re.compile(rb"""\bfrom\s*['"]([^'"\n]+)['"]""")
# `import a, { b as c, type d } from "x"` / `export { e } from "x"`: the names clause too
_JS_NAMED = re.compile(
    rb"""\b(?:import|export)\s+(?:type\s+)?([\w$*{}\s,]+?)\s*from\s*['"]([^'"\n]+)['"]"""
)


def _js_names(clause: str) -> str:
    """'a, { b as c, type d }' -> 'a,c=b,d' (local=original where they differ)."""
    out = []
    for part in clause.replace("{", ",").replace("}", ",").split(","):
        bits = part.split()
        if bits and bits[0] == "type":
            bits = bits[1:]
        if not bits or bits[0] == "*":
            if len(bits) == 3 and bits[1] == "as":
                out.append(bits[2] + "=*")
            continue
        if len(bits) == 3 and bits[1] == "as":
            out.append(bits[2] + "=" + bits[0])
        else:
            out.append(bits[0])
    return ",".join(out)


def _imports(root: Node, data: bytes, lang: str) -> list[str]:
    """Import specs: Python/Go/Rust/Java/C statements; JS/TS "module\tnames"; Ruby paths."""
    if lang in ("javascript", "typescript", "tsx", "ruby"):
        found = [m.decode("utf-8", "replace") for m in _REQUIRE.findall(data)]
        if lang != "ruby":
            named = {}
            for clause, spec in _JS_NAMED.findall(data):
                key = spec.decode("utf-8", "replace")
                names = _js_names(clause.decode("utf-8", "replace"))
                named[key] = f"{named[key]},{names}" if key in named else names
            found += [m.decode("utf-8", "replace") for m in _FROM.findall(data)]
            found = [f"{f}\t{named[f]}" if f in named else f for f in dict.fromkeys(found)]
        return list(dict.fromkeys(found))
    kinds = _IMPORT_NODES.get(lang, frozenset())
    out: list[str] = []
    if lang == "python":
        out += _nested_python_imports(data)
    todo = [(root, 0)]
    while todo:
        node, depth = todo.pop()
        for child in node.children:
            t = child.type
            if t in kinds:
                text = data[child.start_byte : child.end_byte].decode("utf-8", "replace")
                out.append(text.strip())
            elif depth < 3 and t in _IMPORT_BLOCKS:
                todo.append((child, depth + 1))
    return out


def _nested_python_imports(data: bytes) -> list[str]:
    """Imports inside functions and blocks (common for cycles and optional dependencies).

    Only lines holding the word `import` can start one, so the pattern is tried at those
    lines' starts (in order, none inside an earlier match's parentheses): the matches of a
    multi-line scan of every line, found without visiting the others.
    """
    out = []
    taken = 0  # where the last match ended
    at = data.find(b"import")
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        if start >= taken:
            m = _PY_NESTED_IMPORT.match(data, start)
            if m is not None:
                out.append(m.group(1).decode("utf-8", "replace").strip())
                taken = m.end()
        line_end = data.find(b"\n", at)
        if line_end < 0:
            break
        at = data.find(b"import", line_end)
    return out


def reference_positions(data: bytes, lang: str, name: str) -> list[tuple[int, int, int]]:
    """Where identifier `name` occurs as code (not in strings/comments): (line, col, end_col).

    Lines are 1-based; columns are 0-based character (code point) offsets.
    """
    c = _compiled(lang)
    target = name.encode("utf-8")
    if target not in data:
        return []
    root = c.parser.parse(data).root_node
    out: list[tuple[int, int, int]] = []
    offsets = None
    for node in QueryCursor(c.refs).captures(root).get("ref", ()):
        if data[node.start_byte : node.end_byte] != target:
            continue
        row, col = node.start_point
        if offsets is None:
            offsets = _line_offsets(data)
        prefix = data[offsets[row] : offsets[row] + col]
        char_col = len(prefix.decode("utf-8", "replace"))
        out.append((row + 1, char_col, char_col + len(name)))
    out.sort()
    return out
