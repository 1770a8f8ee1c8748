"""Review code actions: "Review this file", "Review selection", and quick fixes for findings.

Where they show: VS Code lists `source.*` actions only under "Source Action...", never in
Ctrl+., so the review actions carry their own kind (`codeassist.review`, listed under "More
Actions..." in Ctrl+.) unless the client asks for source actions by kind (`only: ["source"]`),
which gets them as `source.codeassist.review` instead: once per menu. They are offered when
the user asks for actions (Ctrl+., a menu), not on the editor's automatic requests, which would
put a lightbulb on every line.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.workspace import TextDocument

from codeassist.tasks.edits import EditRefused, FileEdit, Span, apply_edits, replace_lines
from codeassist.tasks.finding_anchors import Anchored
from codeassist.tasks.syntax_check import check_edit_syntax
from lsp.review.publishing import SOURCE, to_diagnostic
from lsp.review.state import Entry
from lsp.workspace_edits import to_workspace_edit

COMMAND_REVIEW_FILE = "codeassist.reviewFile"
COMMAND_REVIEW_SELECTION = "codeassist.reviewSelection"
COMMAND_REVIEW_CHANGES = "codeassist.reviewChanges"
REVIEW_KIND = "codeassist.review"
SOURCE_REVIEW_KIND = types.CodeActionKind.Source + ".codeassist.review"
KINDS = (types.CodeActionKind.QuickFix, REVIEW_KIND, SOURCE_REVIEW_KIND)


def _review_kind(only: list[str] | None) -> str:
    wants_source = any(k == "source" or k.startswith("source.") for k in only or [])
    return SOURCE_REVIEW_KIND if wants_source else REVIEW_KIND


def _automatic(params: types.CodeActionParams) -> bool:
    """A request the editor makes by itself (the lightbulb), not one the user asked for."""
    return params.context.trigger_kind == types.CodeActionTriggerKind.Automatic


def _review_commands(params: types.CodeActionParams, kind: str) -> list[types.CodeAction]:
    uri = params.text_document.uri
    actions = [
        types.CodeAction(
            title="Review this file",
            kind=kind,
            command=types.Command(
                title="Review this file", command=COMMAND_REVIEW_FILE, arguments=[uri]
            ),
        )
    ]
    if params.range.start != params.range.end:
        actions.append(
            types.CodeAction(
                title="Review selection",
                kind=kind,
                command=types.Command(
                    title="Review selection",
                    command=COMMAND_REVIEW_SELECTION,
                    arguments=[uri, params.range],
                ),
            )
        )
    return actions


def review_actions(
    session: Any, params: types.CodeActionParams, document: TextDocument
) -> list[types.CodeAction]:
    """Review actions for the file/selection when the user asks (Ctrl+., a menu: never on
    the editor's automatic lightbulb requests, which would light every line), and quick fixes
    for our diagnostics in range.
    """
    uri = params.text_document.uri
    kind = _review_kind(params.context.only)
    actions = [] if _automatic(params) else _review_commands(params, kind)
    ours = [d for d in params.context.diagnostics if d.source == SOURCE]
    wanted = {d.data.get("codeassist") for d in ours if isinstance(d.data, dict)}
    # Clients that drop `data` are matched by message and first line instead.
    seen = {(d.message, d.range.start.line) for d in ours}
    for item in session.review.findings.get(uri, []):
        entry: Entry = item.finding
        if entry.finding.suggestion is None:
            continue
        if entry.id in wanted or (entry.finding.message, item.start_line) in seen:
            actions.append(_quick_fix(session, document, item))
    return actions


def _quick_fix(session: Any, document: TextDocument, item: Anchored) -> types.CodeAction:
    entry: Entry = item.finding
    path = uris.to_fs_path(document.uri) or document.uri
    text = document.source
    action = types.CodeAction(
        title=f"Apply suggestion: {entry.finding.message[:60]}",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[to_diagnostic(text, item, session.position_encoding)],
        is_preferred=True,
    )
    try:
        span = Span(item.start_line, 0, item.end_line + 1, 0)  # whole lines start..end
        edit = replace_lines(text, span, entry.finding.suggestion)
        check_edit_syntax(path, text, apply_edits(text, [edit]))
    except EditRefused as refusal:
        action.disabled = types.CodeActionDisabledType(reason=str(refusal))
        return action
    action.edit = to_workspace_edit(session, [FileEdit(path, document.version, [edit])])
    return action
