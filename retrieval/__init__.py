"""Repository indexing and context packing: tree-sitter tags, ranking, token budgets.

Knows code, not models: the token counter is a plain callable. Imports nothing from
`codeassist` or `lsp`.
"""

from retrieval.context import (
    RepoIndex,
    callers_of_changes,
    context_for_changes,
    context_for_position,
)
from retrieval.index import PathError, TagIndex
from retrieval.model import (
    ContextItem,
    Definition,
    IndexSummary,
    PackedContext,
    Reference,
)
from retrieval.tokens import estimate_tokens

__all__ = [
    "ContextItem",
    "Definition",
    "IndexSummary",
    "PackedContext",
    "PathError",
    "Reference",
    "RepoIndex",
    "TagIndex",
    "callers_of_changes",
    "context_for_changes",
    "context_for_position",
    "estimate_tokens",
]
