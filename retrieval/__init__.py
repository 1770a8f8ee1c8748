"""Repository indexing and context packing: tree-sitter tags, ranking, token budgets.

Knows code, not models: the token counter is a plain callable. Imports nothing from
`codeassist` or `lsp`.
"""

from retrieval.index import PathError, RepoIndex
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
    "estimate_tokens",
]
