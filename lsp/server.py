"""The codeassist language server: one pygls server, features registered from their modules.

A feature module exposes `register(server)` and adds its handlers with `@server.feature`;
shared state (documents, roots, settings, indexes, model clients, messages) is `server.state`
(lsp/workspace.py). Add a feature by appending its register function to FEATURES.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from codeassist import __version__
from lsp import code_actions, completion, documents
from lsp.protocol import AnsweredInvalidParams, CodeassistProtocol
from lsp.workspace import WorkspaceState

logger = logging.getLogger(__name__)

FEATURES: list[Callable[[Any], None]] = [
    documents.register,  # lifecycle first: features subscribe to its events
    completion.register,
    code_actions.register,
]


class CodeassistServer(LanguageServer):
    """A pygls server with the shared state every feature uses."""

    def __init__(self) -> None:
        super().__init__(
            "codeassist",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=CodeassistProtocol,
        )
        self.state = WorkspaceState(self)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside a request: logged, and shown once per kind (never a storm)."""
        logger.error("server error (%s): %s", getattr(source, "__name__", source), error)
        self.state.status.log(f"codeassist: {error}", types.MessageType.Error)
        if source.__name__ != "FeatureRequestError" and not isinstance(
            error, AnsweredInvalidParams
        ):
            self.state.status.show_once(
                f"server-error:{type(error).__name__}",
                f"codeassist: {error} (details in the codeassist log)",
                types.MessageType.Error,
            )


def create_server() -> CodeassistServer:
    """A server with every feature registered."""
    server = CodeassistServer()
    for register in FEATURES:
        register(server)
    return server
