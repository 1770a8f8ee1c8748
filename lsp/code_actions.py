"""textDocument/codeAction: every feature's actions for the selection, in one list.

Features add a CodeActionProvider to `session.code_actions` when they register (refactor,
review); this module asks each one and filters by the kinds the client asked for (`only`).
Register it after the features that provide actions (FEATURES in lsp/server.py).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)


def wanted(kind: str, only: list[str] | None) -> bool:
    """Whether an action of kind is among the kinds the client asked for."""
    return not only or any(kind == w or kind.startswith(w + ".") for w in only)


def list_actions(session: Any, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = session.document(uri)
    if document is None:
        return []
    actions: list[types.CodeAction] = []
    for provider in session.code_actions:
        actions.extend(provider.actions(session, params, document))
    return [a for a in actions if wanted(a.kind or "", params.context.only)]


def register(server: Any) -> None:
    """Add textDocument/codeAction over the providers registered so far."""
    kinds = list(dict.fromkeys(k for p in server.session.code_actions for k in p.kinds))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=kinds, resolve_provider=True),
    )
    def code_action(ls: Any, params: types.CodeActionParams) -> list[types.CodeAction]:
        return list_actions(ls.session, params)
