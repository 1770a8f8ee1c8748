"""Session and document lifecycle: settings, workspace folders, open/change/save/close.

pygls keeps the documents (incremental sync); these handlers keep `server.session` in step
and tell features through `session.on(event, callback)`.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from lsp.uris import uri_path

logger = logging.getLogger(__name__)

REINDEX_COMMAND = "codeassist.reindex"  # the editor plug-ins' "reindex" palette command


def register(server: Any) -> None:
    """Add the lifecycle handlers (one per LSP method: features subscribe via session.on)."""
    session = server.session

    @server.feature(types.INITIALIZE)
    def initialize(ls, params: types.InitializeParams) -> None:
        if params.initialization_options is not None:
            session.set_options(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls, params: types.InitializedParams) -> None:
        session.hold_daemon()
        for root in session.folders():
            session.index_for(root)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls, params: types.DidChangeConfigurationParams) -> None:
        options = params.settings
        if not options and _can_pull_configuration(ls):
            try:
                answers = await ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="codeassist")])
                )
            except Exception as error:  # the client could not answer: keep what we have
                logger.info("workspace/configuration failed: %s", error)
                return
            options = answers[0] if answers else None
        if options is not None:
            session.set_options(options)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls, params: types.DidChangeWorkspaceFoldersParams) -> None:
        session.folders_changed()
        for folder in params.event.added:
            root = uri_path(folder.uri)
            if root is not None:
                session.index_for(root)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        if session.confinement(params.text_document.uri) is None:  # never index outside
            session.index_for(session.root_for(params.text_document.uri))
        session.emit("open", params.text_document.uri)
        session.prefetch(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        session.emit("change", params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: types.DidSaveTextDocumentParams) -> None:
        session.emit("save", params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        session.emit("close", params.text_document.uri)

    @server.command(REINDEX_COMMAND)
    async def reindex(ls, *args: Any) -> dict[str, Any]:
        return {"reindexed": await session.reindex()}

    @server.feature(types.SHUTDOWN)
    def shutdown(ls, params: Any) -> None:
        session.shutdown()


def _can_pull_configuration(ls: Any) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace and workspace.configuration)
