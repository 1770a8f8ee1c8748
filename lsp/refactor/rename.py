"""textDocument/prepareRename and textDocument/rename: the user's name, no model call.

A name local to a function is renamed within its scope by the syntax tree; any other name at
the places the repository index knows (codeassist.tasks.rename).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.workspace import TextDocument

from codeassist.tasks import refactor
from lsp import buffers
from lsp.errors import refused
from lsp.positions import to_range, to_span
from lsp.refactor.compute import compute_refactor
from lsp.workspace_edits import to_workspace_edit


def _rename_offer(
    session: Any, uri: str, position: types.Position
) -> tuple[TextDocument, str, refactor.Offer | None]:
    document = buffers.open_document(session, uri)
    if session.confinement(uri) is not None:
        return document, "", None
    text = buffers.source(document)
    point = to_span(text, types.Range(start=position, end=position), session.position_encoding)
    offers = refactor.offers(str(uris.to_fs_path(uri)), text, point)
    return document, text, next((o for o in offers if o.action is refactor.Action.RENAME), None)


def prepare_rename(
    session: Any, params: types.PrepareRenameParams
) -> types.PrepareRenamePlaceholder | None:
    _, text, offer = _rename_offer(session, params.text_document.uri, params.position)
    if offer is None:
        return None
    return types.PrepareRenamePlaceholder(
        range=to_range(text, offer.span, session.position_encoding), placeholder=offer.symbol
    )


async def rename(session: Any, params: types.RenameParams) -> types.WorkspaceEdit:
    """The edits renaming the symbol at the cursor to params.new_name."""
    if not params.new_name.strip():
        raise refused("the new name is empty; type the name to rename to.")
    uri = params.text_document.uri
    document, text, offer = _rename_offer(session, uri, params.position)
    if offer is None:
        reason = session.confinement(uri)
        if reason is not None:
            raise refused(f"{uri}: {reason}; rename works on workspace files.")
        raise refused("there is no symbol at the cursor to rename.")
    version = document.version
    request = refactor.RefactorRequest(
        str(uris.to_fs_path(uri)),
        text,
        version,
        refactor.Action.RENAME,
        offer.span,
        new_name=params.new_name,
        root=str(session.root_for(uri)),
    )
    result = await compute_refactor(session, request)
    buffers.check_version(session, uri, version)
    return to_workspace_edit(session, result.edits)
