"""The review commands: codeassist.reviewFile, .reviewSelection and .reviewChanges.

Each runs `codeassist.tasks.review.review` in a worker thread as cancellable work-done
progress and publishes the findings as diagnostics. Only files that may reach a prompt are
reviewed (codeassist.confine: no secret file, nothing outside the workspace folders, no
non-file URI); a file left out is named in the result ("not reviewed: PATH (reason)").
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

from codeassist.confine import confine
from codeassist.errors import UserError
from codeassist.git.changes import ChangeSet
from codeassist.tasks import review as review_task
from codeassist.tasks import review_context, review_sources
from codeassist.token_count import token_counter
from lsp import buffers
from lsp.errors import refused
from lsp.positions import to_span
from lsp.protocol import structure_argument
from lsp.review.actions import (
    COMMAND_REVIEW_CHANGES,
    COMMAND_REVIEW_FILE,
    COMMAND_REVIEW_SELECTION,
)
from lsp.review.publishing import ReviewOutcome, show_findings
from lsp.status import Progress

log = logging.getLogger(__name__)

Work = Callable[[threading.Event, Callable[[str], None]], ReviewOutcome]


def not_reviewed(path: str | Path, reason: str) -> str:
    """How a skipped file is named to the user."""
    return f"not reviewed: {path} ({reason})"


def _describe(progress: review_task.ReviewProgress) -> str:
    what = {"context": "gathering context", "model": "thinking", "repair": "repairing answer"}
    stage = what.get(progress.stage, progress.stage)
    if progress.stage == "model" and not progress.thinking:
        stage = "writing findings"
    return f"{stage}, {progress.generated_tokens} tokens, {progress.elapsed_s:.0f}s"


async def run_review(session: Any, title: str, work: Work, token: Any = None) -> dict[str, Any]:
    """work(cancel, report) in a thread as cancellable $/progress; then publish its findings.

    token: the client's workDoneToken for the request, if it sent one (progress goes there).
    """
    cancel = threading.Event()
    progress = Progress(session.server, title, cancellable=True, token=token, on_cancel=cancel.set)
    await progress.begin("starting", percentage=None)
    loop = asyncio.get_running_loop()
    outcome = "done"
    try:
        with session.status.generating("review", title) as say:

            def report(message: str) -> None:  # from the review's thread
                if not cancel.is_set():
                    loop.call_soon_threadsafe(progress.report, message)
                    loop.call_soon_threadsafe(say, f"{title}: {message}")

            result = await asyncio.to_thread(work, cancel, report)
        if cancel.is_set():
            outcome = "cancelled"
            return {"cancelled": True, "findings": 0, "skipped": []}
        for notice in result.notices:  # e.g. an endpoint that ignores thinking: said once
            session.status.show_once(
                f"notice:{notice}", f"codeassist: {notice}", types.MessageType.Warning
            )
        notes = ([result.warning] if result.warning else []) + result.skipped
        if notes:
            session.server.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message="codeassist: " + "; ".join(notes)
                )
            )
        count = show_findings(session, result)
        outcome = f"{count} finding{'s' if count != 1 else ''}"
        return {"cancelled": False, "findings": count, "skipped": result.skipped}
    except asyncio.CancelledError:  # $/cancelRequest: stop the model too
        cancel.set()
        outcome = "cancelled"
        raise
    except UserError as error:
        if cancel.is_set():
            outcome = "cancelled"
            return {"cancelled": True, "findings": 0, "skipped": []}
        outcome = "failed"
        raise refused(str(error)) from None
    finally:
        progress.end(outcome)


async def _review(
    session: Any,
    title: str,
    root: Path,
    build: Callable[[], ChangeSet],
    replaced: Callable[[ChangeSet], set[str]],
    token: Any,
) -> dict[str, Any]:
    settings = session.settings_for(root)
    index = session.index_for(root)  # None while indexing: the review goes on without context
    count = token_counter(settings)

    def work(cancel: threading.Event, report: Callable[[str], None]) -> ReviewOutcome:
        changes = build()
        client = session.client_for(settings)
        context = None
        if index is not None:
            provide = review_context.context_provider(index, changes, count)

            def context(ranges: dict[str, list[tuple[int, int]]], budget: int) -> Any:
                # The index belongs to its thread; this worker waits for the answer.
                return session.submit_to_index_thread(lambda: provide(ranges, budget)).result()

        result = review_task.review(
            changes,
            settings,
            client,
            cancel=cancel,
            progress=lambda p: report(_describe(p)),
            context=context,
        )
        warning = None
        if result.status == "no_valid_findings":
            saved = f"; raw answer in {result.raw_output_path}" if result.raw_output_path else ""
            warning = f"the model did not return valid findings: {result.problem}{saved}"
        reviewed = {
            uris.from_fs_path(str(changes.root / f.path)) or f.path: f.new_text
            for f in changes.files
            if f.path and f.new_text is not None
        }
        skipped = [not_reviewed(f.path, f.skipped) for f in changes.files if f.skipped]
        return ReviewOutcome(
            result.findings,
            str(changes.root),
            replaced(changes),
            reviewed,
            warning,
            skipped,
            list(getattr(result, "notices", None) or []),
        )

    return await run_review(session, title, work, token)


def _file_uris(changes: ChangeSet) -> set[str]:
    return {
        uris.from_fs_path(str(changes.root / f.path)) or f.path for f in changes.files if f.path
    }


def _reviewable_path(session: Any, uri: Any, command: str) -> str:
    """The file path of a document that may be reviewed, or a refusal saying why not."""
    if not isinstance(uri, str) or not uri:
        raise refused(f"{command} needs [uri, ...]: the URI of the file to review.")
    reason = session.confinement(uri)
    if reason is not None:
        shown = uris.to_fs_path(uri) if uri.startswith("file:") else uri
        raise refused(
            not_reviewed(shown or uri, reason)
            + "; codeassist reviews files inside the workspace folders only, never secrets."
        )
    return str(uris.to_fs_path(uri))


async def review_file(session: Any, args: tuple[Any, ...], token: Any = None) -> dict[str, Any]:
    """codeassist.reviewFile [uri]: the whole file (its open buffer, else the file on disk)."""
    path = _reviewable_path(session, args[0] if args else None, COMMAND_REVIEW_FILE)
    uri = args[0]
    root = session.root_for(uri)
    document = buffers.read(session, path)
    if document is None:
        raise refused(f"cannot read {path} as UTF-8 text; nothing was reviewed.")
    text = document.text
    return await _review(
        session,
        f"Reviewing {Path(path).name}",
        root,
        lambda: review_sources.file_review(root, path, text),
        _file_uris,
        token,
    )


async def review_selection(
    session: Any, args: tuple[Any, ...], token: Any = None
) -> dict[str, Any]:
    """codeassist.reviewSelection [uri, range]: the selected lines of an open document."""
    path = _reviewable_path(session, args[0] if args else None, COMMAND_REVIEW_SELECTION)
    uri = args[0]
    document = buffers.open_document(session, uri)
    rng = structure_argument(
        session.server, args[1] if len(args) > 1 else None, types.Range, "the selection range"
    )
    span = to_span(document.source, rng, session.position_encoding)
    end_line = (
        span.end_line - 1
        if span.end_col == 0 and span.end_line > span.start_line
        else span.end_line
    )
    root = session.root_for(uri)
    text = document.source
    lines = (span.start_line + 1, end_line + 1)
    return await _review(
        session,
        f"Reviewing {Path(path).name}:{lines[0]}-{lines[1]}",
        root,
        lambda: review_sources.file_review(root, path, text, lines),
        _file_uris,
        token,
    )


async def review_changes(session: Any, args: tuple[Any, ...], token: Any = None) -> dict[str, Any]:
    """codeassist.reviewChanges [folder uri?]: uncommitted work (open buffers included)."""
    folders = session.folders()
    if args and args[0] is not None:
        if not isinstance(args[0], str) or uris.to_fs_path(args[0]) is None:
            raise refused(f"{COMMAND_REVIEW_CHANGES} takes [folder URI]; got {args[0]!r}.")
        root = Path(uris.to_fs_path(args[0]))
        if not folders or confine(root, folders) is not None:
            raise refused(
                f"{root} is not inside a workspace folder; codeassist reviews the workspace's "
                f"uncommitted changes only."
            )
    elif folders:
        root = folders[0]
    else:
        raise refused(
            "no workspace folder is open: open the repository's folder to review its "
            "uncommitted changes, or use 'Review this file'."
        )

    def read(path: str) -> str | None:
        document = buffers.read(session, path)
        return document.text if document else None

    open_paths = []
    for uri in list(session.server.workspace.text_documents):
        if session.confinement(uri) is None:
            open_paths.append(str(uris.to_fs_path(uri)))
    state = session.review
    return await _review(
        session,
        "Reviewing uncommitted changes",
        root,
        lambda: review_sources.uncommitted_review(root, read, open_paths, roots=folders),
        lambda changes: _file_uris(changes) | set(state.findings),
        token,
    )
