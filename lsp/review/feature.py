"""Registers review: the three commands, its code actions, and diagnostics that follow edits."""

from __future__ import annotations

from typing import Any

from lsp.protocol import command_work_done_token
from lsp.review import actions, commands, publishing
from lsp.session import CodeActionProvider


def register(server: Any) -> None:
    """Add the review commands and code actions; keep diagnostics anchored as documents change."""
    session = server.session

    @server.command(actions.COMMAND_REVIEW_FILE)
    async def review_file(ls: Any, *args: Any) -> dict[str, Any]:
        return await commands.review_file(ls.session, args, command_work_done_token())

    @server.command(actions.COMMAND_REVIEW_SELECTION)
    async def review_selection(ls: Any, *args: Any) -> dict[str, Any]:
        return await commands.review_selection(ls.session, args, command_work_done_token())

    @server.command(actions.COMMAND_REVIEW_CHANGES)
    async def review_changes(ls: Any, *args: Any) -> dict[str, Any]:
        return await commands.review_changes(ls.session, args, command_work_done_token())

    session.code_actions.append(CodeActionProvider(actions.KINDS, actions.review_actions))
    for event in ("open", "change", "close"):
        session.on(event, lambda uri: publishing.text_changed(session, uri))
