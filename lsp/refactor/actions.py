"""Refactor code actions: listed without the model, computed on resolve, never for a stale version.

A listed action carries {uri, version, action, span}; resolve checks all four against the
document before the model runs, so a changed document or forged data is refused by name.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.workspace import TextDocument

from codeassist.tasks import refactor
from codeassist.tasks.edits import Span, split_lines, whole_lines
from lsp import buffers
from lsp.errors import refused
from lsp.positions import to_range, to_span
from lsp.protocol import structure_argument
from lsp.refactor.compute import compute_refactor
from lsp.workspace_edits import to_workspace_edit

COMMAND_REWRITE = "codeassist.rewrite"
KINDS = (
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorExtract,
    types.CodeActionKind.RefactorRewrite,
)
_KIND_OF = {
    refactor.Action.EXTRACT_FUNCTION: types.CodeActionKind.RefactorExtract,
    refactor.Action.RENAME: types.CodeActionKind.Refactor,
}


def refactor_actions(
    session: Any, params: types.CodeActionParams, document: TextDocument
) -> list[types.CodeAction]:
    """Refactor offers for the selection or cursor (tree-sitter only: no model call)."""
    uri = params.text_document.uri
    if session.confinement(uri) is not None:
        return []  # secrets and files outside the workspace never reach a prompt
    path = str(uris.to_fs_path(uri))
    text = buffers.source(document)
    encoding = session.position_encoding
    actions: list[types.CodeAction] = []
    for offer in refactor.offers(path, text, to_span(text, params.range, encoding)):
        kind = _KIND_OF.get(offer.action, types.CodeActionKind.RefactorRewrite)
        if offer.action is refactor.Action.REWRITE:
            # Needs an instruction typed by the user: the editor plug-ins ask for it and call
            # codeassist.rewrite with [uri, range, instruction].
            arguments = [uri, to_range(text, offer.span, encoding)]
            command = types.Command(title=offer.title, command=COMMAND_REWRITE, arguments=arguments)
            actions.append(types.CodeAction(title=offer.title, kind=kind, command=command))
            continue
        span = offer.span
        data = {
            "uri": uri,
            "version": document.version,
            "action": offer.action.value,
            "span": [span.start_line, span.start_col, span.end_line, span.end_col],
        }
        actions.append(types.CodeAction(title=offer.title, kind=kind, data=data))
    return actions


def _request_from_data(session: Any, data: dict[str, Any]) -> refactor.RefactorRequest:
    """The refactor a listed action stands for, checked against the current document."""
    uri, version = data.get("uri"), data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise refused(
            f"the code action's data has no document version (got {version!r}); "
            f"ask for the code actions again."
        )
    document = buffers.check_version(session, uri, version)
    if session.confinement(uri) is not None:
        raise refused(f"{uri}: {session.confinement(uri)}; refactors work on workspace files.")
    try:
        action = refactor.Action(data.get("action"))
    except ValueError:
        known = ", ".join(a.value for a in refactor.Action if a is not refactor.Action.REWRITE)
        raise refused(
            f"the code action's data names an unknown action {data.get('action')!r} "
            f"(known: {known}); ask for the code actions again."
        ) from None
    raw = data.get("span")
    if not (
        isinstance(raw, list)
        and len(raw) == 4
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in raw)
    ):
        raise refused(
            f"the code action's span must be [start line, start column, end line, end column] "
            f"of non-negative integers, got {raw!r}; ask for the code actions again."
        )
    span = Span(*raw)
    path = str(uris.to_fs_path(uri))
    text = buffers.source(document)
    lines = split_lines(text)
    if (
        span.end_line >= len(lines)
        or (span.start_line, span.start_col) > (span.end_line, span.end_col)
        or span.start_col > len(lines[span.start_line])
        or span.end_col > len(lines[span.end_line])
    ):
        raise refused(
            f"the code action's span {raw} does not fit the document ({len(lines)} lines at "
            f"version {version}): its data was not what the server listed; ask for the code "
            f"actions again."
        )
    if not any(o.action is action and o.span == span for o in refactor.offers(path, text, span)):
        raise refused(
            f"'{refactor.TITLES[action]}' does not apply to the span {raw} of version {version}: "
            f"the code action's data is not what the server listed; ask for the code actions "
            f"again."
        )
    return refactor.RefactorRequest(
        path, text, version, action, span, root=str(session.root_for(uri))
    )


async def resolve_action(session: Any, action: types.CodeAction) -> types.CodeAction:
    """Run the model for the picked refactor and attach a versioned, syntax-checked edit."""
    data = action.data if isinstance(action.data, dict) else None
    if data is None or "action" not in data:
        return action  # review actions and quick fixes are complete when listed
    request = _request_from_data(session, data)
    result = await compute_refactor(session, request)
    buffers.check_version(session, data["uri"], request.version)  # typed while the model ran
    # A name the model chose is shown for confirmation before it lands in every file.
    confirm = result.title if request.action is refactor.Action.RENAME else None
    action.edit = to_workspace_edit(session, result.edits, confirm)
    if result.new_name:
        action.title = result.title
    return action


async def rewrite(session: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """codeassist.rewrite [uri, range, instruction]: rewrite, then workspace/applyEdit."""
    if len(args) < 2 or not isinstance(args[0], str):
        raise refused(f"{COMMAND_REWRITE} needs [uri, range, instruction].")
    instruction = args[2] if len(args) > 2 and isinstance(args[2], str) else ""
    if not instruction.strip():
        raise refused(
            "'Rewrite with instruction' needs an instruction: the codeassist editor plug-ins ask "
            f"for it; other clients pass it as the third argument of {COMMAND_REWRITE}."
        )
    uri = args[0]
    document = buffers.open_document(session, uri)
    reason = session.confinement(uri)
    if reason is not None:
        raise refused(f"{uri}: {reason}; refactors work on workspace files.")
    version = document.version
    text = buffers.source(document)
    rng = structure_argument(session.server, args[1], types.Range, "the range to rewrite")
    span = whole_lines(text, to_span(text, rng, session.position_encoding))
    request = refactor.RefactorRequest(
        str(uris.to_fs_path(uri)),
        text,
        version,
        refactor.Action.REWRITE,
        span,
        instruction=instruction,
        root=str(session.root_for(uri)),
    )
    result = await compute_refactor(session, request)
    buffers.check_version(session, uri, version)
    answer = await session.server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=to_workspace_edit(session, result.edits), label=result.title
        )
    )
    return {"applied": bool(answer.applied), "failureReason": answer.failure_reason}
