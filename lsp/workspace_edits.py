"""Task edits (code-point positions) <-> LSP types (the client's position encoding)."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types
from pygls import uris
from pygls.workspace import PositionCodec

from codeassist.tasks.edits import FileEdit, Span, TextEdit, split_lines


def _to_client_col(line: str, col: int, codec: PositionCodec) -> int:
    return codec.client_num_units(line[:col])


def _from_client_col(line: str, units: int, codec: PositionCodec) -> int:
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += codec.client_num_units(char)
    return len(line)


def to_span(text: str, rng: types.Range, codec: PositionCodec) -> Span:
    """A client range as a code-point span, clamped to the document."""
    lines = split_lines(text)

    def point(position: types.Position) -> tuple[int, int]:
        if position.line >= len(lines):
            return len(lines) - 1, len(lines[-1])
        line = max(0, position.line)
        return line, _from_client_col(lines[line], max(0, position.character), codec)

    start, end = point(rng.start), point(rng.end)
    if end < start:
        start, end = end, start
    return Span(start[0], start[1], end[0], end[1])


def to_range(text: str, span: Span, codec: PositionCodec) -> types.Range:
    lines = split_lines(text)

    def position(line: int, col: int) -> types.Position:
        source = lines[line] if line < len(lines) else ""
        return types.Position(line=line, character=_to_client_col(source, col, codec))

    return types.Range(
        start=position(span.start_line, span.start_col), end=position(span.end_line, span.end_col)
    )


def to_text_edit(text: str, edit: TextEdit, codec: PositionCodec) -> types.TextEdit:
    return types.TextEdit(range=to_range(text, edit.span, codec), new_text=edit.new_text)


CONFIRM = "codeassist.confirm"


def workspace_edit(
    file_edits: list[FileEdit],
    text_of: Callable[[str], str],
    codec: PositionCodec,
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
                to_text_edit(text, e, codec) for e in file_edit.edits
            ]
        return types.WorkspaceEdit(changes=changes)
    document_edits: list = []
    for file_edit in file_edits:
        text = text_of(file_edit.path)
        identifier = types.OptionalVersionedTextDocumentIdentifier(
            uri=uris.from_fs_path(file_edit.path) or file_edit.path, version=file_edit.version
        )
        edits: list = [to_text_edit(text, e, codec) for e in file_edit.edits]
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
