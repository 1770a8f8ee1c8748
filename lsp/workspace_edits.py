"""Task edits (code-point positions) -> LSP WorkspaceEdits in the client's position encoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls import uris

from codeassist.tasks.edits import FileEdit, TextEdit
from lsp import buffers
from lsp.positions import to_range

CONFIRM = "codeassist.confirm"


def to_text_edit(text: str, edit: TextEdit, encoding: str) -> types.TextEdit:
    return types.TextEdit(range=to_range(text, edit.span, encoding), new_text=edit.new_text)


def workspace_edit(
    file_edits: list[FileEdit],
    text_of: Callable[[str], str],
    encoding: str,
    document_changes: bool = True,
    confirm: str | None = None,
) -> types.WorkspaceEdit:
    """A WorkspaceEdit; with document_changes, versioned TextDocumentEdits (null: file on disk).

    text_of(path) gives the text the edit positions refer to (for encoding conversion).
    confirm: a label; the edits are annotated as needing the user's confirmation (clients
    with change annotation support show a preview first). Needs document_changes.
    """
    if not document_changes:
        changes = {}
        for file_edit in file_edits:
            text = text_of(file_edit.path)
            changes[uris.from_fs_path(file_edit.path) or file_edit.path] = [
                to_text_edit(text, e, encoding) for e in file_edit.edits
            ]
        return types.WorkspaceEdit(changes=changes)
    document_edits: list = []
    for file_edit in file_edits:
        text = text_of(file_edit.path)
        identifier = types.OptionalVersionedTextDocumentIdentifier(
            uri=uris.from_fs_path(file_edit.path) or file_edit.path, version=file_edit.version
        )
        edits: list = [to_text_edit(text, e, encoding) for e in file_edit.edits]
        if confirm:
            edits = [
                types.AnnotatedTextEdit(annotation_id=CONFIRM, range=e.range, new_text=e.new_text)
                for e in edits
            ]
        document_edits.append(types.TextDocumentEdit(text_document=identifier, edits=edits))
    if not confirm:
        return types.WorkspaceEdit(document_changes=document_edits)
    annotation = types.ChangeAnnotation(label=confirm, needs_confirmation=True)
    return types.WorkspaceEdit(
        document_changes=document_edits, change_annotations={CONFIRM: annotation}
    )


def to_workspace_edit(
    session: Any, edits: list[FileEdit], confirm: str | None = None
) -> types.WorkspaceEdit:
    """Versioned edits where the client takes them; confirm asks for a preview where it can."""
    workspace = session.server.client_capabilities.workspace
    edit_caps = workspace.workspace_edit if workspace else None
    versioned = bool(edit_caps and edit_caps.document_changes)
    annotations = bool(versioned and edit_caps and edit_caps.change_annotation_support)
    read = buffers.reader(session)
    return workspace_edit(
        edits,
        lambda path: read(path).text,
        session.position_encoding,
        document_changes=versioned,
        confirm=confirm if annotations else None,
    )
