"""The review commands: codeassist.reviewFile, .reviewSelection and .reviewChanges."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from codeassist.git.changes import ChangeSet
from codeassist.tasks import review as review_task
from codeassist.tasks import review_sources
from lsp import diagnostics
from lsp.workspace_edits import to_span

REQUEST_FAILED = -32803


def _reader(server: LanguageServer) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        document = server.workspace.text_documents.get(uris.from_fs_path(path) or path)
        if document is not None:
            return document.source
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read


def _describe(progress: review_task.ReviewProgress) -> str:
    what = {"context": "gathering context", "model": "thinking", "repair": "repairing answer"}
    stage = what.get(progress.stage, progress.stage)
    if progress.stage == "model" and not progress.thinking:
        stage = "writing findings"
    return f"{stage}, {progress.generated_tokens} tokens, {progress.elapsed_s:.0f}s"


def _context_provider(server: Any, root: Path, index: Any, changes: ChangeSet):
    """Review context from the server's index, computed on the index thread."""
    if index is None:
        return None
    executor = server.state.index_executor

    def provide(ranges: dict[str, list[tuple[int, int]]], budget: int) -> Any:
        def job() -> Any:
            for change in changes.reviewable():
                index.update_buffer(change.path, change.new_text)
            return index.context_for_changes(
                ranges, budget=budget, count_tokens=review_task.count_tokens_default
            )

        return executor.submit(job).result()

    return provide


async def _review(
    server: Any,
    title: str,
    root: Path,
    build: Callable[[], ChangeSet],
    replaced: Callable[[ChangeSet], set[str]],
) -> dict[str, Any]:
    state = server.state
    settings = state.settings_for(root)
    index = state.index_for(root)  # None while indexing: the review goes on without context

    def work(cancel: threading.Event, report: Callable[[str], None]):
        changes = build()
        client = state.client_for(settings)
        result = review_task.review(
            changes,
            settings,
            client,
            cancel=cancel,
            progress=lambda p: report(_describe(p)),
            context=_context_provider(server, root, index, changes),
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
        return diagnostics.ReviewOutcome(
            result.findings, str(changes.root), replaced(changes), reviewed, warning
        )

    return await diagnostics.run_review(server, title, work)


def _file_uris(changes: ChangeSet) -> set[str]:
    return {
        uris.from_fs_path(str(changes.root / f.path)) or f.path for f in changes.files if f.path
    }


def register(server: Any) -> None:
    from lsp.code_actions import open_document

    def _uri_and_path(args: tuple[Any, ...], name: str) -> tuple[str, str]:
        if not args or not isinstance(args[0], str):
            raise JsonRpcException(message=f"{name} needs [uri, ...].", code=REQUEST_FAILED)
        path = uris.to_fs_path(args[0])
        if path is None:
            raise JsonRpcException(message=f"{args[0]} is not a file URI.", code=REQUEST_FAILED)
        return args[0], path

    @server.command(diagnostics.COMMAND_REVIEW_FILE)
    async def _review_file(ls: LanguageServer, *args: Any):
        uri, path = _uri_and_path(args, diagnostics.COMMAND_REVIEW_FILE)
        root = ls.state.root_for(uri)
        text = _reader(ls)(path)
        if text is None:
            raise JsonRpcException(message=f"cannot read {path}.", code=REQUEST_FAILED)
        return await _review(
            ls,
            f"Reviewing {Path(path).name}",
            root,
            lambda: review_sources.file_review(root, path, text),
            _file_uris,
        )

    @server.command(diagnostics.COMMAND_REVIEW_SELECTION)
    async def _review_selection(ls: LanguageServer, *args: Any):
        uri, path = _uri_and_path(args, diagnostics.COMMAND_REVIEW_SELECTION)
        document = open_document(ls, uri)
        try:
            rng = ls.protocol._converter.structure(args[1], types.Range)  # noqa: SLF001
        except Exception:
            raise JsonRpcException(
                message="codeassist.reviewSelection needs [uri, range].", code=REQUEST_FAILED
            ) from None
        span = to_span(document.source, rng, ls.workspace.position_codec)
        end_line = (
            span.end_line - 1
            if span.end_col == 0 and span.end_line > span.start_line
            else span.end_line
        )
        root = ls.state.root_for(uri)
        text = document.source
        lines = (span.start_line + 1, end_line + 1)
        return await _review(
            ls,
            f"Reviewing {Path(path).name}:{lines[0]}-{lines[1]}",
            root,
            lambda: review_sources.file_review(root, path, text, lines),
            _file_uris,
        )

    @server.command(diagnostics.COMMAND_REVIEW_CHANGES)
    async def _review_changes(ls: LanguageServer, *args: Any):
        if args and isinstance(args[0], str):
            root = Path(uris.to_fs_path(args[0]) or args[0])
        else:
            folders = ls.state.folders()
            root = folders[0] if folders else Path.cwd()
        read = _reader(ls)
        state = diagnostics.state_of(ls)
        open_paths = [
            p for p in (uris.to_fs_path(u) for u in ls.workspace.text_documents) if p is not None
        ]
        return await _review(
            ls,
            "Reviewing uncommitted changes",
            root,
            lambda: review_sources.uncommitted_review(root, read, open_paths),
            lambda changes: _file_uris(changes) | set(state.findings),
        )
