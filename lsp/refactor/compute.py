"""Running a refactor for the editor: retrieval on the index thread, the model on a worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeassist.errors import UserError
from codeassist.tasks import refactor, rename
from codeassist.tasks.edits import EditRefused, text_in
from codeassist.tasks.syntax_check import grammar_for_path
from codeassist.token_count import token_counter
from lsp import buffers
from lsp.errors import refused


async def run_in_thread(function: Callable[[threading.Event], Any]) -> Any:
    """function(cancel) in a worker thread; a cancelled request sets cancel to stop the model."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(function, cancel)
    except asyncio.CancelledError:
        cancel.set()
        raise


async def compute_refactor(session: Any, request: refactor.RefactorRequest) -> Any:
    """The checked edits of a refactor (refactor.RefactorResult); a refusal says why not."""
    root = Path(request.root)
    settings = session.settings_for(root)
    try:
        if request.action is refactor.Action.RENAME:
            return await _compute_rename(session, request, settings)
        count = token_counter(settings)
        context: list[Any] = []
        index = session.index_for(root)
        if index is not None:
            context, notes = await session.on_index_thread(
                root,
                index,
                lambda ix: refactor.gather_context(
                    request, ix, settings.refactor.budget_tokens, count
                ),
            )
            for note in notes:
                session.status.log(f"codeassist refactor: {note}")
        client = session.client_for(settings)
        read = buffers.reader(session)
        with session.status.generating("refactor", refactor.TITLES[request.action]):
            return await run_in_thread(
                lambda cancel: refactor.run_refactor(
                    request,
                    client=client,
                    settings=settings.refactor,
                    context=context,
                    read=read,
                    count_tokens=count,
                    cancel=cancel,
                )
            )
    except UserError as error:  # EditRefused, ModelUnavailable, bad settings
        raise refused(str(error)) from None


async def _compute_rename(session: Any, request: refactor.RefactorRequest, settings: Any) -> Any:
    """A local name by the syntax tree; any other name at the places the index knows."""
    grammar = grammar_for_path(request.path, request.text)
    language = grammar.name if grammar else None
    old = text_in(request.text, request.span)
    local = rename.local_occurrences(request.path, request.text, request.span)
    new_name = request.new_name
    if new_name:
        rename.check_new_name(old, new_name, language)
    else:
        client = session.client_for(settings)
        with session.status.generating("refactor", f"naming '{old}'"):
            new_name = await run_in_thread(
                lambda cancel: refactor.suggest_name(
                    request, grammar, client, settings.refactor, cancel
                )
            )
    if local is not None:
        edit = rename.plan_local_rename(
            request.path, rename.Document(request.text, request.version), local, old, new_name
        )
        return refactor.RefactorResult(f"Rename '{old}' to '{new_name}'", [edit], new_name)
    root = Path(request.root)
    index = await session.wait_for_index(root)
    if index is None:
        raise EditRefused(
            f"renaming '{old}' needs the repository index of {root}, which could not be built; "
            f"run `codeassist index` there to see why."
        )
    read = buffers.reader(session)
    locations = await session.on_index_thread(
        root, index, lambda ix: refactor.index_locations(ix, str(root), old, read)
    )
    return await asyncio.to_thread(refactor.plan_symbol_rename, request, new_name, locations, read)
