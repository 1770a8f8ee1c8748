"""Review in the editor: commands run as cancellable $/progress work, findings as diagnostics.

Diagnostics carry source `codeassist`, the finding's category as code and its severity mapped;
they move with the text as the user types, vanish when the text under them changes, and are
replaced by the next review. A finding with a suggestion offers a quick fix.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from codeassist.errors import UserError
from codeassist.tasks import finding_anchors
from codeassist.tasks.edits import (
    EditRefused,
    FileEdit,
    Span,
    apply_edits,
    replace_lines,
    split_lines,
)
from codeassist.tasks.finding_anchors import Anchored
from codeassist.tasks.syntax_check import check_edit_syntax
from lsp.workspace_edits import to_range

log = logging.getLogger(__name__)

SOURCE = "codeassist"
REQUEST_FAILED = -32803
COMMAND_REVIEW_FILE = "codeassist.reviewFile"
COMMAND_REVIEW_SELECTION = "codeassist.reviewSelection"
COMMAND_REVIEW_CHANGES = "codeassist.reviewChanges"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


@dataclass
class ReviewState:
    """Findings per document URI, and the text they were last anchored to."""

    findings: dict[str, list[Anchored]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    ids: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)


_STATES: weakref.WeakKeyDictionary[LanguageServer, ReviewState] = weakref.WeakKeyDictionary()


def state_of(server: LanguageServer) -> ReviewState:
    return _STATES.setdefault(server, ReviewState())


@dataclass(frozen=True)
class Entry:
    """What a diagnostic stands for: the finding and an id the quick fix finds it by."""

    id: int
    finding: Any


def _uri(path: str) -> str:
    return uris.from_fs_path(path) or path


def _document_text(server: LanguageServer, uri: str) -> tuple[str, int | None] | None:
    document = server.workspace.text_documents.get(uri)
    if document is not None:
        return document.source, document.version
    path = uris.to_fs_path(uri)
    try:
        return Path(path).read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError, TypeError):
        return None


def to_diagnostic(server: LanguageServer, text: str, item: Anchored) -> types.Diagnostic:
    entry: Entry = item.finding
    finding = entry.finding
    lines = split_lines(text)
    first = lines[item.start_line] if item.start_line < len(lines) else ""
    last = lines[item.end_line] if item.end_line < len(lines) else ""
    span = Span(item.start_line, len(first) - len(first.lstrip()), item.end_line, len(last))
    data: dict[str, Any] = {"codeassist": entry.id}
    if finding.suggestion is not None:
        data["suggestion"] = finding.suggestion
    return types.Diagnostic(
        range=to_range(text, span, server.workspace.position_codec),
        message=finding.message,
        severity=SEVERITY.get(finding.severity, types.DiagnosticSeverity.Information),
        code=finding.category,
        source=SOURCE,
        data=data,
    )


def publish(server: LanguageServer, uri: str) -> None:
    state = state_of(server)
    items = state.findings.get(uri, [])
    text = state.texts.get(uri, "")
    document = server.workspace.text_documents.get(uri)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri,
            diagnostics=[to_diagnostic(server, text, item) for item in items],
            version=document.version if document is not None else None,
        )
    )


@dataclass
class ReviewOutcome:
    """What a review produced, for publishing."""

    findings: list[Any]  # codeassist.tasks.review_findings.Finding (paths relative to root)
    root: str
    replaced: set[str]  # URIs whose earlier findings this review replaces
    reviewed: dict[str, str] = field(default_factory=dict)  # URI -> the text that was reviewed
    warning: str | None = None  # for the user (e.g. no valid findings)


def show_findings(server: LanguageServer, outcome: ReviewOutcome) -> int:
    """Publish findings on the current text, replacing the earlier ones of outcome.replaced.

    Findings point at the reviewed text; the user may have typed since, so they are anchored
    there and then moved (or dropped) like any diagnostic when the text changes.
    """
    state = state_of(server)
    by_uri: dict[str, list[Anchored]] = {uri: [] for uri in outcome.replaced}
    texts: dict[str, str] = {}
    for finding in outcome.findings:
        uri = _uri(str(Path(outcome.root) / finding.path))
        if uri not in texts:
            reviewed = outcome.reviewed.get(uri)
            if reviewed is None:
                current = _document_text(server, uri)
                if current is None:
                    continue
                reviewed = current[0]
            texts[uri] = reviewed
        entry = Entry(state.ids(), finding)
        anchored = finding_anchors.anchor(entry, finding.line - 1, finding.end_line - 1, texts[uri])
        if anchored is not None:
            by_uri.setdefault(uri, []).append(anchored)
    for uri, items in by_uri.items():
        text = texts.get(uri)
        current = _current_text(server, uri)
        if text is not None and current is not None and current != text:
            items = finding_anchors.after_edit(items, text, current)
        state.findings[uri] = items
        if current is not None:
            state.texts[uri] = current
        publish(server, uri)
    return sum(len(state.findings[uri]) for uri in by_uri)


# --- keeping diagnostics on their code while the user types -------------------------------


def _current_text(server: LanguageServer, uri: str) -> str | None:
    current = _document_text(server, uri)
    return current[0] if current else None


def text_changed(server: LanguageServer, uri: str) -> None:
    """Re-anchor a document's findings to its new text; republish when any moved or went."""
    state = state_of(server)
    items = state.findings.get(uri)
    old = state.texts.get(uri)
    if not items or old is None:
        return
    new = _current_text(server, uri)
    if new is None or new == old:
        return
    moved = finding_anchors.after_edit(items, old, new)
    state.texts[uri] = new
    state.findings[uri] = moved
    if [(i.start_line, i.end_line) for i in moved] != [(i.start_line, i.end_line) for i in items]:
        publish(server, uri)


# --- quick fixes ---------------------------------------------------------------------------


def actions_for(
    server: LanguageServer, params: types.CodeActionParams, document: TextDocument
) -> list[types.CodeAction]:
    """Review actions for the file/selection, and quick fixes for our diagnostics in range."""
    uri = params.text_document.uri
    actions = [
        types.CodeAction(
            title="Review this file",
            kind=types.CodeActionKind.Source + ".codeassist.review",
            command=types.Command(
                title="Review this file", command=COMMAND_REVIEW_FILE, arguments=[uri]
            ),
        )
    ]
    if params.range.start != params.range.end:
        actions.append(
            types.CodeAction(
                title="Review selection",
                kind=types.CodeActionKind.Source + ".codeassist.review",
                command=types.Command(
                    title="Review selection",
                    command=COMMAND_REVIEW_SELECTION,
                    arguments=[uri, params.range],
                ),
            )
        )
    state = state_of(server)
    ours = [d for d in params.context.diagnostics if d.source == SOURCE]
    wanted = {d.data.get("codeassist") for d in ours if isinstance(d.data, dict)}
    # Clients that drop `data` are matched by message and first line instead.
    seen = {(d.message, d.range.start.line) for d in ours}
    for item in state.findings.get(uri, []):
        entry: Entry = item.finding
        if entry.finding.suggestion is None:
            continue
        if entry.id in wanted or (entry.finding.message, item.start_line) in seen:
            actions.append(_quick_fix(server, document, item))
    return actions


def _quick_fix(server: LanguageServer, document: TextDocument, item: Anchored) -> types.CodeAction:
    from lsp.code_actions import to_workspace_edit

    entry: Entry = item.finding
    path = uris.to_fs_path(document.uri) or document.uri
    text = document.source
    title = f"Apply suggestion: {entry.finding.message[:60]}"
    action = types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[to_diagnostic(server, text, item)],
        is_preferred=True,
    )
    try:
        span = Span(item.start_line, 0, item.end_line + 1, 0)  # whole lines start..end
        edit = replace_lines(text, span, entry.finding.suggestion)
        check_edit_syntax(path, text, apply_edits(text, [edit]))
    except EditRefused as refusal:
        action.disabled = types.CodeActionDisabledType(reason=str(refusal))
        return action
    action.edit = to_workspace_edit(server, [FileEdit(path, document.version, [edit])])
    return action


# --- running a review -----------------------------------------------------------------------


async def run_review(
    server: LanguageServer,
    title: str,
    work: Callable[[threading.Event, Callable[[str], None]], ReviewOutcome],
) -> dict[str, Any]:
    """work(cancel, report) in a thread as cancellable $/progress; then publish its findings."""
    cancel = threading.Event()
    token = f"codeassist-review-{uuid.uuid4().hex[:8]}"
    progress = server.work_done_progress
    window = server.client_capabilities.window
    shown = bool(window and window.work_done_progress)
    if shown:
        try:
            await progress.create_async(token)
        except Exception as error:  # the client declined: run without a progress bar
            log.info("work done progress refused: %s", error)
            shown = False
    if shown:
        progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=True, message="starting")
        )
        progress.tokens[token].add_done_callback(lambda future: cancel.set())

    loop = asyncio.get_running_loop()

    def report(message: str) -> None:
        if shown and not cancel.is_set():
            loop.call_soon_threadsafe(
                progress.report, token, types.WorkDoneProgressReport(message=message)
            )

    outcome = "done"
    try:
        result = await asyncio.to_thread(work, cancel, report)
        if cancel.is_set():
            outcome = "cancelled"
            return {"cancelled": True, "findings": 0}
        if result.warning:
            server.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message=f"codeassist: {result.warning}"
                )
            )
        count = show_findings(server, result)
        outcome = f"{count} finding{'s' if count != 1 else ''}"
        return {"cancelled": False, "findings": count}
    except asyncio.CancelledError:
        cancel.set()
        outcome = "cancelled"
        raise
    except UserError as error:
        if cancel.is_set():
            outcome = "cancelled"
            return {"cancelled": True, "findings": 0}
        outcome = "failed"
        server.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=f"codeassist: {error}")
        )
        raise JsonRpcException(message=str(error), code=REQUEST_FAILED) from None
    finally:
        if shown:
            progress.end(token, types.WorkDoneProgressEnd(message=outcome))


def register(server: Any) -> None:
    """Review commands, and the document listeners that keep diagnostics anchored."""
    from lsp import review_commands

    for event in ("open", "change", "close"):
        server.state.on(event, lambda uri: text_changed(server, uri))
    review_commands.register(server)
