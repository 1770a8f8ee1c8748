"""Data that crosses the package boundary: definitions, references, packed context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Definition:
    """A named definition: its full span, header (signature) lines and enclosing scope."""

    path: str  # repo-relative, '/'-separated
    name: str
    kind: str  # function, method, class, interface, type, enum, constant, field, module, ...
    start_line: int  # 1-based, inclusive (decorators and `export` included)
    end_line: int  # 1-based, inclusive
    signature_end_line: int  # last line of the header (the body starts after it)
    col: int  # 0-based byte column of the name on its line
    scope: str | None  # the enclosing definition's name (class of a method), or None


class Reference(NamedTuple):
    """One use of a name: unpacks as (path, line, col, end); col/end are 0-based characters."""

    path: str
    line: int
    col: int
    end: int


@dataclass
class ContextItem:
    """One piece of code put in the prompt, labelled with where it comes from."""

    path: str  # repo-relative
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    tokens: int  # count_tokens(text)
    kind: str  # "definition", "signature", "outline", "caller" or "file"
    score: float
    text: str
    reason: str = ""  # why it was chosen (filled when explain=True)
    # the line ranges `text` shows when it is not lines start..end verbatim (an outline:
    # headers and signatures, each elided body replaced by one marker line); None otherwise
    shown: list[tuple[int, int]] | None = None


@dataclass
class PackedContext:
    """What fits in the budget: `used` is the sum of the items' tokens, never above `budget`."""

    budget: int
    used: int
    items: list[ContextItem] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)  # "path:start-end" of ranked items left out


@dataclass
class IndexSummary:
    """What one (re)index did."""

    files: int = 0  # files indexed
    parsed: int = 0  # parsed now (cache misses)
    cache_hits: int = 0  # tags reused from the cache
    unchanged: int = 0  # not even read: size/mtime/inode as remembered
    definitions: int = 0
    parse_errors: int = 0  # files with syntax errors (indexed as far as they parsed)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    seconds: float = 0.0
    cache_rebuilt: bool = False
