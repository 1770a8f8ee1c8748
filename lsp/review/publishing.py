"""Review findings as diagnostics: published on the current text, moved as the user types.

Diagnostics carry source `codeassist`, the finding's category as code and its severity mapped;
they move with the text as the user types, vanish when the text under them changes, and are
replaced by the next review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris

from codeassist.tasks import finding_anchors
from codeassist.tasks.edits import Span, split_lines
from codeassist.tasks.finding_anchors import Anchored
from lsp import buffers
from lsp.positions import to_range
from lsp.review.state import Entry

SOURCE = "codeassist"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


@dataclass
class ReviewOutcome:
    """What a review produced, for publishing."""

    findings: list[Any]  # codeassist.tasks.review_findings.Finding (paths relative to root)
    root: str
    replaced: set[str]  # URIs whose earlier findings this review replaces
    reviewed: dict[str, str] = field(default_factory=dict)  # URI -> the text that was reviewed
    warning: str | None = None  # for the user (e.g. no valid findings)
    skipped: list[str] = field(default_factory=list)  # "not reviewed: PATH (reason)"
    notices: list[str] = field(default_factory=list)  # from the model client, shown once


def to_diagnostic(text: str, item: Anchored, encoding: str) -> types.Diagnostic:
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
        range=to_range(text, span, encoding),
        message=finding.message,
        severity=SEVERITY.get(finding.severity, types.DiagnosticSeverity.Information),
        code=finding.category,
        source=SOURCE,
        data=data,
    )


def publish(session: Any, uri: str) -> None:
    """Send uri's current findings as its diagnostics."""
    state = session.review
    items = state.findings.get(uri, [])
    text = state.texts.get(uri, "")
    document = session.document(uri)
    session.server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri,
            diagnostics=[to_diagnostic(text, item, session.position_encoding) for item in items],
            version=document.version if document is not None else None,
        )
    )


def show_findings(session: Any, outcome: ReviewOutcome) -> int:
    """Publish findings on the current text, replacing the earlier ones of outcome.replaced.

    Findings point at the reviewed text; the user may have typed since, so they are anchored
    there and then moved (or dropped) like any diagnostic when the text changes.
    """
    state = session.review
    by_uri: dict[str, list[Anchored]] = {uri: [] for uri in outcome.replaced}
    texts: dict[str, str] = {}
    for finding in outcome.findings:
        uri = uris.from_fs_path(str(Path(outcome.root) / finding.path)) or finding.path
        if uri not in texts:
            reviewed = outcome.reviewed.get(uri)
            if reviewed is None:
                reviewed = buffers.text_of_uri(session, uri)
                if reviewed is None:
                    continue
            texts[uri] = reviewed
        entry = Entry(state.ids(), finding)
        anchored = finding_anchors.anchor(entry, finding.line - 1, finding.end_line - 1, texts[uri])
        if anchored is not None:
            by_uri.setdefault(uri, []).append(anchored)
    for uri, items in by_uri.items():
        text = texts.get(uri)
        current = buffers.text_of_uri(session, uri)
        if text is not None and current is not None and current != text:
            items = finding_anchors.after_edit(items, text, current)
        state.findings[uri] = items
        if current is not None:
            state.texts[uri] = current
        publish(session, uri)
    return sum(len(state.findings[uri]) for uri in by_uri)


def text_changed(session: Any, uri: str) -> None:
    """Re-anchor a document's findings to its new text; republish when any moved or went."""
    state = session.review
    items = state.findings.get(uri)
    old = state.texts.get(uri)
    if not items or old is None:
        return
    new = buffers.text_of_uri(session, uri)
    if new is None or new == old:
        return
    moved = finding_anchors.after_edit(items, old, new)
    state.texts[uri] = new
    state.findings[uri] = moved
    if [(i.start_line, i.end_line) for i in moved] != [(i.start_line, i.end_line) for i in items]:
        publish(session, uri)
