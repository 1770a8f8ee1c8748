"""Refactor code actions: listed cheaply, computed on resolve, never for a stale version.

`register(server)` adds textDocument/codeAction (+ codeAction/resolve), textDocument/rename
(+ prepareRename), the command `codeassist.rewrite`, and the review commands and diagnostics
(lsp/diagnostics.py). Logic lives in codeassist.tasks; this file translates and schedules:
index work on `server.state.index_executor`, model calls on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcContentModified, JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from codeassist.errors import UserError
from codeassist.tasks import refactor
from codeassist.tasks.edits import EditRefused, FileEdit, Span, whole_lines
from codeassist.tasks.rename import Document
from lsp import diagnostics
from lsp.workspace_edits import to_range, to_span, workspace_edit

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed
COMMAND_REWRITE = "codeassist.rewrite"
COMMANDS = [
    COMMAND_REWRITE,
    diagnostics.COMMAND_REVIEW_FILE,
    diagnostics.COMMAND_REVIEW_SELECTION,
    diagnostics.COMMAND_REVIEW_CHANGES,
]
_KINDS = {
    refactor.Action.EXTRACT_FUNCTION: types.CodeActionKind.RefactorExtract,
    refactor.Action.RENAME: types.CodeActionKind.Refactor,
}


def refused(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=REQUEST_FAILED)


def _path(uri: str) -> str:
    path = uris.to_fs_path(uri) if uri.startswith("file:") else None
    if path is None:
        raise refused(f"{uri} is not a file on disk; refactors work on files.")
    return path


def open_document(server: LanguageServer, uri: str) -> TextDocument:
    document = server.workspace.text_documents.get(uri)
    if document is None:
        raise refused(f"{uri} is not open in the editor; open it and try again.")
    return document


def check_version(server: LanguageServer, uri: str, version: int | None) -> TextDocument:
    """The open document, or ContentModified when it is no longer at version."""
    document = open_document(server, uri)
    if version is not None and document.version != version:
        raise JsonRpcContentModified(
            message=(
                f"refused: {Path(_path(uri)).name} changed (now version {document.version}, the "
                f"action was computed for {version}); nothing was edited. Ask for it again."
            )
        )
    return document


def read_for(server: LanguageServer) -> Callable[[str], Document]:
    """Current text of a file: the open buffer (with its version) or the file on disk."""

    def read(path: str) -> Document:
        document = server.workspace.text_documents.get(uris.from_fs_path(path) or path)
        if document is not None:
            return Document(document.source, document.version)
        return refactor.read_from_disk(path)

    return read


def to_workspace_edit(
    server: LanguageServer, edits: list[FileEdit], confirm: str | None = None
) -> types.WorkspaceEdit:
    """Versioned edits where the client takes them; confirm asks for a preview where it can."""
    workspace = server.client_capabilities.workspace
    edit_caps = workspace.workspace_edit if workspace else None
    versioned = bool(edit_caps and edit_caps.document_changes)
    annotations = bool(versioned and edit_caps and edit_caps.change_annotation_support)
    read = read_for(server)
    return workspace_edit(
        edits,
        lambda path: read(path).text,
        server.workspace.position_codec,
        document_changes=versioned,
        confirm=confirm if annotations else None,
    )


def _warn(server: LanguageServer, message: str) -> JsonRpcException:
    """Tell the user why nothing happened, and fail the request with the same words."""
    server.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Warning, message=f"codeassist: {message}")
    )
    return refused(message)


def _kind_of(action: refactor.Action) -> str:
    return _KINDS.get(action, types.CodeActionKind.RefactorRewrite)


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == w or kind.startswith(w + ".") for w in only)


def list_actions(server: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Refactor offers (no model call), review actions and quick fixes for our diagnostics."""
    uri = params.text_document.uri
    document = server.workspace.text_documents.get(uri)
    if document is None or not uri.startswith("file:"):
        return []
    path = _path(uri)
    text = document.source
    codec = server.workspace.position_codec
    actions: list[types.CodeAction] = []
    for offer in refactor.offers(path, text, to_span(text, params.range, codec)):
        kind = _kind_of(offer.action)
        if offer.action is refactor.Action.REWRITE:
            # Needs an instruction typed by the user: the editor plug-ins ask for it and call
            # codeassist.rewrite with [uri, range, instruction].
            arguments = [uri, to_range(text, offer.span, codec)]
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
    actions.extend(diagnostics.actions_for(server, params, document))
    return [a for a in actions if _wanted(a.kind or "", params.context.only)]


async def _on_index_thread(server: LanguageServer, root: Path, index: Any, job: Callable):
    """job(index) on the index thread, after the editor's changed buffers reach the index."""
    state = server.state
    updates = state.take_buffer_updates(root)

    def run() -> Any:
        for path, text in updates:
            index.update_buffer(path, text)
        return job(index)

    return await asyncio.get_running_loop().run_in_executor(state.index_executor, run)


async def run_in_thread(function: Callable[[threading.Event], Any]) -> Any:
    """function(cancel) in a worker thread; a cancelled request sets cancel to stop the model."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(function, cancel)
    except asyncio.CancelledError:
        cancel.set()
        raise


async def compute_refactor(
    server: LanguageServer, request: refactor.RefactorRequest
) -> refactor.RefactorResult:
    """The checked edits of a refactor: context from the index, then the model (or the index)."""
    state = server.state
    root = Path(request.root)
    settings = state.settings_for(root)
    try:
        if request.action is refactor.Action.RENAME:
            return await _compute_rename(server, request, settings)
        context: list[Any] = []
        index = state.index_for(root)
        if index is not None:
            items, notes = await _on_index_thread(
                server,
                root,
                index,
                lambda ix: refactor.gather_context(
                    request, ix, settings.refactor.budget_tokens, refactor.default_counter()
                ),
            )
            context = items
            for note in notes:
                state.status.log(f"codeassist refactor: {note}")
        client = state.client_for(settings)
        return await run_in_thread(
            lambda cancel: refactor.run_refactor(
                request,
                client=client,
                settings=settings.refactor,
                context=context,
                read=read_for(server),
                cancel=cancel,
            )
        )
    except UserError as error:  # EditRefused, ModelUnavailable, bad settings
        raise _warn(server, str(error)) from None


async def _compute_rename(
    server: LanguageServer, request: refactor.RefactorRequest, settings: Any
) -> refactor.RefactorResult:
    state = server.state
    root = Path(request.root)
    index = await state.wait_for_index(root)
    if index is None:
        raise EditRefused(
            f"renaming needs the repository index of {root}, which could not be built; run "
            f"`codeassist index` there to see why."
        )
    new_name = request.new_name
    if not new_name:
        grammar = refactor.grammar_for_path(request.path, request.text)
        client = state.client_for(settings)
        new_name = await run_in_thread(
            lambda cancel: refactor.suggest_name(
                request, grammar, client, settings.refactor, cancel
            )
        )
    old = refactor.text_in(request.text, request.span)
    read = read_for(server)
    locations = await _on_index_thread(
        server, root, index, lambda ix: refactor.index_locations(ix, str(root), old, read)
    )
    return await asyncio.to_thread(refactor.plan_symbol_rename, request, new_name, locations, read)


async def resolve_action(server: LanguageServer, action: types.CodeAction) -> types.CodeAction:
    """Run the model for the picked refactor and attach a versioned, syntax-checked edit."""
    data = action.data if isinstance(action.data, dict) else None
    if data is None or "action" not in data:
        return action  # review actions and quick fixes are complete when listed
    uri, version = data.get("uri", ""), data.get("version")
    document = check_version(server, uri, version)
    path = _path(uri)
    try:
        kind = refactor.Action(data["action"])
        span = Span(*data["span"])
    except (ValueError, TypeError, KeyError) as error:
        raise refused(f"malformed code action data ({error}); ask for the action again.") from None
    request = refactor.RefactorRequest(
        path,
        document.source,
        document.version,
        kind,
        span,
        root=str(server.state.root_for(uri)),
    )
    result = await compute_refactor(server, request)
    check_version(server, uri, version)  # the user typed while the model ran
    # A name the model chose is shown for confirmation before it lands in every file.
    confirm = result.title if kind is refactor.Action.RENAME else None
    action.edit = to_workspace_edit(server, result.edits, confirm)
    if result.new_name:
        action.title = result.title
    return action


def _structure_range(server: LanguageServer, raw: Any, name: str) -> types.Range:
    try:
        return server.protocol._converter.structure(raw, types.Range)  # noqa: SLF001
    except Exception:
        raise refused(f"{name}: {raw!r} is not an LSP range.") from None


async def rewrite_command(server: LanguageServer, *args: Any) -> dict[str, Any]:
    """codeassist.rewrite [uri, range, instruction]: rewrite, then workspace/applyEdit."""
    if len(args) < 2 or not isinstance(args[0], str):
        raise refused("codeassist.rewrite needs [uri, range, instruction].")
    instruction = args[2] if len(args) > 2 and isinstance(args[2], str) else ""
    if not instruction.strip():
        raise _warn(
            server,
            "'Rewrite with instruction' needs an instruction: the codeassist editor plug-ins ask "
            "for it; other clients pass it as the third argument of codeassist.rewrite.",
        )
    uri = args[0]
    document = open_document(server, uri)
    version = document.version
    rng = _structure_range(server, args[1], COMMAND_REWRITE)
    span = whole_lines(
        document.source, to_span(document.source, rng, server.workspace.position_codec)
    )
    request = refactor.RefactorRequest(
        _path(uri),
        document.source,
        version,
        refactor.Action.REWRITE,
        span,
        instruction=instruction,
        root=str(server.state.root_for(uri)),
    )
    result = await compute_refactor(server, request)
    check_version(server, uri, version)
    answer = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=to_workspace_edit(server, result.edits), label=result.title
        )
    )
    return {"applied": bool(answer.applied), "failureReason": answer.failure_reason}


def _rename_offer(server: LanguageServer, uri: str, position: types.Position):
    document = open_document(server, uri)
    point = to_span(
        document.source, types.Range(start=position, end=position), server.workspace.position_codec
    )
    offers = refactor.offers(_path(uri), document.source, point)
    return document, next((o for o in offers if o.action is refactor.Action.RENAME), None)


def prepare_rename(
    server: LanguageServer, params: types.PrepareRenameParams
) -> types.PrepareRenamePlaceholder | None:
    document, offer = _rename_offer(server, params.text_document.uri, params.position)
    if offer is None:
        return None
    codec = server.workspace.position_codec
    return types.PrepareRenamePlaceholder(
        range=to_range(document.source, offer.span, codec), placeholder=offer.symbol
    )


async def rename(server: LanguageServer, params: types.RenameParams) -> types.WorkspaceEdit:
    """textDocument/rename: the user's name, at the index's references (no model call)."""
    uri = params.text_document.uri
    document, offer = _rename_offer(server, uri, params.position)
    if offer is None:
        raise refused("there is no symbol at the cursor to rename.")
    version = document.version
    request = refactor.RefactorRequest(
        _path(uri),
        document.source,
        version,
        refactor.Action.RENAME,
        offer.span,
        new_name=params.new_name,
        root=str(server.state.root_for(uri)),
    )
    result = await compute_refactor(server, request)
    check_version(server, uri, version)
    return to_workspace_edit(server, result.edits)


def register(server: Any) -> None:
    """Add refactor and review actions; the server's `state` provides roots, settings, indexes."""
    kinds = [
        types.CodeActionKind.QuickFix,
        types.CodeActionKind.Refactor,
        types.CodeActionKind.RefactorExtract,
        types.CodeActionKind.RefactorRewrite,
        types.CodeActionKind.Source,
    ]

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=kinds, resolve_provider=True),
    )
    def code_action(ls: LanguageServer, params: types.CodeActionParams):
        return list_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: LanguageServer, action: types.CodeAction):
        return await resolve_action(ls, action)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def text_document_prepare_rename(ls: LanguageServer, params: types.PrepareRenameParams):
        return prepare_rename(ls, params)

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    async def text_document_rename(ls: LanguageServer, params: types.RenameParams):
        return await rename(ls, params)

    @server.command(COMMAND_REWRITE)
    async def rewrite(ls: LanguageServer, *args: Any):
        return await rewrite_command(ls, *args)

    diagnostics.register(server)
