"""Registers refactors: code action offers and resolve, rename, and the rewrite command."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from lsp.refactor import actions, rename
from lsp.session import CodeActionProvider


def register(server: Any) -> None:
    """Add codeAction/resolve, prepareRename/rename, codeassist.rewrite and the offers."""
    server.session.code_actions.append(CodeActionProvider(actions.KINDS, actions.refactor_actions))

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: Any, action: types.CodeAction) -> types.CodeAction:
        return await actions.resolve_action(ls.session, action)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(ls: Any, params: types.PrepareRenameParams):
        return rename.prepare_rename(ls.session, params)

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    async def text_document_rename(ls: Any, params: types.RenameParams) -> types.WorkspaceEdit:
        return await rename.rename(ls.session, params)

    @server.command(actions.COMMAND_REWRITE)
    async def rewrite(ls: Any, *args: Any) -> dict[str, Any]:
        return await actions.rewrite(ls.session, args)
