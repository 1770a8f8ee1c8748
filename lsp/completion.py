"""Inline completion and completion items: thin handlers over codeassist.tasks.complete.

The latency stack lives here because it is about the editor protocol: one live request per
document (a newer one supersedes it; `$/cancelRequest` stops it too), a debounce, the
type-through cache, and never answering for a document version that has moved on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from lsprotocol import types

from codeassist.errors import UserError
from codeassist.tasks.complete import (
    CompletionInput,
    ContextMemo,
    calibrated_counter,
    call_model,
    finish_completion,
    prepare_completion,
    split_at,
)
from codeassist.tasks.typethrough import TypeThroughCache
from codeassist.token_count import token_counter, tokenizer_counter
from lsp import buffers
from lsp.inflight import Inflight, Ticket
from lsp.positions import line_text, to_character, to_column
from lsp.uris import NOT_A_FILE

logger = logging.getLogger(__name__)

STATS_METHOD = "codeassist/completionStats"
MODEL_DOWN = "model-down"
# After the endpoint was found down, completions stay quiet this long before trying again.
DOWN_RETRY_S = 10.0
LABEL_CHARS = 60
_WORD_BEFORE = re.compile(r"[A-Za-z0-9_]*$")


@dataclass
class Suggestion:
    text: str  # to insert at the cursor
    line: int
    column: int  # code points
    line_text: str  # the cursor's line when the suggestion was made


@dataclass
class Record:
    """How one request went (for codeassist/completionStats and the benchmark)."""

    uri: str
    version: int | None
    outcome: str  # cache | model | empty | stale | superseded | cancelled | down | unopened | ...
    total_ms: float = 0.0
    debounce_ms: float = 0.0
    model_ms: float = 0.0
    line: int = 0
    character: int = 0
    context: list[str] = field(default_factory=list)  # "path:start-end" of retrieved context
    prepare_ms: float = 0.0  # retrieval + prompt building on the index thread (queue included)


class CompletionService:
    """Answers completion requests for one server session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.cache = TypeThroughCache()
        self.memo = ContextMemo()
        self.inflight = Inflight()
        self.records: deque[Record] = deque(maxlen=2000)
        self.model_calls = 0
        self.errors = 0
        self.endpoint_failures = 0
        self.down_until = 0.0
        self._limits: dict[int, int | None] = {}
        # (model path, endpoint) -> token counter (index thread only)
        self._counters: dict[tuple[str, str], Any] = {}

    async def suggest(self, uri: str, position: types.Position) -> Suggestion | None:
        """The suggestion at position, or None (nothing to say, superseded, stale, down)."""
        started = time.perf_counter()
        doc = self.session.document(uri)
        record = Record(uri, doc.version if doc else None, "unopened", 0.0, 0.0, 0.0)
        record.line, record.character = position.line, position.character
        ticket: Ticket | None = None
        try:
            if doc is None:
                return None
            ticket = self.inflight.start(uri)
            result = await self._suggest(doc, uri, position, ticket, record)
            return result
        except asyncio.CancelledError:  # $/cancelRequest: stop the model call too
            record.outcome = "cancelled"
            if ticket is not None:
                ticket.cancel()
            raise
        finally:
            if ticket is not None:
                self.inflight.finish(uri, ticket)
            record.total_ms = (time.perf_counter() - started) * 1000
            self.records.append(record)

    async def _suggest(
        self, doc: Any, uri: str, position: types.Position, ticket: Ticket, record: Record
    ) -> Suggestion | None:
        version, text = doc.version, buffers.source(doc)
        current = line_text(text, position.line)
        if current is None:
            record.outcome = "past_end"
            return None
        if self.session.confinement(uri) not in (None, NOT_A_FILE):
            record.outcome = "confined"  # a secret, or outside the workspace: never in a prompt
            return None
        column = to_column(current, position.character, self.session.position_encoding)
        root = self.session.root_for(uri)
        settings = self.session.settings_for(root)
        if doc.language_id and doc.language_id in settings.completion.disabled_languages:
            record.outcome = "disabled"
            return None
        before, after = split_at(text, position.line, column) or ("", "")
        suggestion = Suggestion("", position.line, column, current)

        cached = self.cache.get(uri, before, after)
        if cached is not None:
            record.outcome = "cache"
            suggestion.text = cached
            return suggestion

        waited = time.perf_counter()
        if await ticket.sleep(settings.completion.debounce_ms / 1000):
            record.outcome = ticket.reason
            return None
        record.debounce_ms = (time.perf_counter() - waited) * 1000
        if time.monotonic() < self.down_until:
            record.outcome = "down"
            return None

        try:
            return await self._model_suggestion(
                doc, uri, version, root, settings, ticket, record, suggestion, (before, after)
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._model_failed(error, ticket, record)
            return None

    async def _model_suggestion(
        self, doc, uri, version, root, settings, ticket, record, suggestion, around
    ) -> Suggestion | None:
        client = self.session.client_for(settings)
        limit = await self._context_limit(client)
        if ticket.cancelled or self._stale(uri, doc, version):
            record.outcome = ticket.reason if ticket.cancelled else "stale"
            return None
        index = self.session.index_for(root)
        updates = self.session.take_buffer_updates(root) if index is not None else []
        open_buffers = self.session.open_buffers(root) if index is not None else None
        inp = CompletionInput(
            self.session.relative_path(uri, root),
            buffers.source(doc),
            suggestion.line,
            suggestion.column,
            doc.language_id or "",
        )
        began = time.perf_counter()
        prepared = await asyncio.get_running_loop().run_in_executor(
            self.session.index_executor,
            self._prepare,
            inp,
            settings,
            index,
            updates,
            open_buffers,
            limit,
        )
        record.prepare_ms = (time.perf_counter() - began) * 1000
        if prepared is not None:
            record.context = [f"{c.path}:{c.start_line}-{c.end_line}" for c in prepared.context]
        if prepared is None or ticket.cancelled or self._stale(uri, doc, version):
            record.outcome = ticket.reason if ticket.cancelled else "stale"
            return None

        began = time.perf_counter()
        self.model_calls += 1
        try:
            with self.session.status.generating("completion", "completing"):
                raw, reason = await asyncio.to_thread(call_model, client, prepared, ticket.event)
        finally:
            record.model_ms = (time.perf_counter() - began) * 1000
        self._model_answered()
        suggestion.text = finish_completion(prepared, raw)
        if reason != "cancelled":
            # Even a stale answer is kept for type-through: the user may be typing exactly it.
            self.cache.put(uri, *around, suggestion.text)
        if ticket.cancelled or self._stale(uri, doc, version):
            record.outcome = ticket.reason if ticket.cancelled else "stale"
            return None
        record.outcome = "model" if suggestion.text else "empty"
        return suggestion if suggestion.text else None

    async def _context_limit(self, client: Any) -> int | None:
        """The model's context size as the endpoint reports it (asked once per client)."""
        key = id(client)
        if key not in self._limits:
            health = await asyncio.to_thread(client.health)
            health = health if isinstance(health, dict) else {}
            engine = health.get("engine") if isinstance(health.get("engine"), dict) else {}
            limit = health.get("max_context", engine.get("max_context"))
            self._limits[key] = int(limit) if isinstance(limit, int) and limit > 0 else None
        return self._limits[key]

    def _prepare(self, inp, settings, index, updates, open_buffers, limit):
        """Runs on the index thread: push changed buffers, retrieve, build the prompt."""
        if index is not None:
            self.session.apply_buffer_updates(index, updates)
        key = (settings.model.path, settings.model.endpoint)
        count = self._counters.get(key)
        if count is None:
            # The model's tokenizer (scaled estimate: fast per keystroke), else the one counter
            # for the endpoint, which never under-counts for a server without a tokenizer.
            exact = tokenizer_counter(settings.model.path)
            count = calibrated_counter(exact, inp.text) if exact else token_counter(settings)
            self._counters[key] = count
        try:
            return prepare_completion(
                inp,
                settings.completion,
                index=index,
                count_tokens=count,
                open_buffers=open_buffers,
                memo=self.memo,
                context_limit=limit,
            )
        except Exception:
            if index is None:
                raise
            logger.exception("retrieval failed; completing without repository context")
            return prepare_completion(
                inp, settings.completion, count_tokens=count, context_limit=limit
            )

    def _stale(self, uri: str, doc: Any, version: int | None) -> bool:
        return self.session.document(uri) is not doc or doc.version != version

    def _model_answered(self) -> None:
        status = self.session.status
        if status.is_shown(MODEL_DOWN):
            status.clear(MODEL_DOWN)
            status.state("ready", "the model endpoint answers again")
        self.down_until = 0.0

    def _model_failed(self, error: Exception, ticket: Ticket, record: Record) -> None:
        """Turn a failure into silence plus at most one message per kind of problem."""
        from codeassist.client import ModelBusy, ModelRequestError, ModelTimeout, ModelUnavailable

        status = self.session.status
        if ticket.cancelled:
            record.outcome = ticket.reason
        elif isinstance(error, ModelBusy | ModelTimeout):
            record.outcome = "busy"
        elif isinstance(error, ModelUnavailable) and not isinstance(error, ModelRequestError):
            record.outcome = "down"
            self.endpoint_failures += 1
            self.down_until = time.monotonic() + DOWN_RETRY_S
            self._limits.clear()
            if status.show_once(MODEL_DOWN, f"codeassist: {error}", types.MessageType.Error):
                status.state("model_unavailable", str(error))
        elif isinstance(error, UserError):
            record.outcome = "config"
            status.show_once(f"config:{error}", f"codeassist: {error}", types.MessageType.Error)
        else:
            self.errors += 1
            record.outcome = "error"
            logger.error("completion failed", exc_info=error)
            status.show_once(
                f"error:{type(error).__name__}",
                f"codeassist: completion failed ({type(error).__name__}: {error}); "
                "details in the codeassist log.",
                types.MessageType.Error,
            )

    def stats(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for r in self.records:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        return {
            "model_calls": self.model_calls,
            "errors": self.errors,
            "endpoint_failures": self.endpoint_failures,
            "superseded": self.inflight.superseded,
            "outcomes": outcomes,
            "records": [asdict(r) for r in self.records],
        }


def inline_items(s: Suggestion, position: types.Position) -> types.InlineCompletionList:
    """The suggestion as LSP 3.18 inline completion (ghost text at the cursor)."""
    return types.InlineCompletionList(
        items=[
            types.InlineCompletionItem(
                insert_text=s.text, range=types.Range(start=position, end=position)
            )
        ]
    )


def completion_list(s: Suggestion, position: types.Position, encoding: str) -> types.CompletionList:
    """The suggestion as one completion item that replaces the word before the cursor.

    The word typed so far starts the item's text, so clients that filter items by it keep it.
    """
    word = _WORD_BEFORE.search(s.line_text[: s.column]).group()
    start_column = s.column - len(word)
    start = types.Position(position.line, to_character(s.line_text, start_column, encoding))
    new_text = word + s.text
    label = next((ln.strip() for ln in new_text.split("\n") if ln.strip()), new_text)
    if len(label) > LABEL_CHARS or "\n" in new_text.strip():
        label = label[:LABEL_CHARS] + "…"
    item = types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Text,
        detail="codeassist",
        documentation=s.text if "\n" in s.text else None,
        filter_text=new_text,
        sort_text="0",
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=types.Range(start=start, end=position), new_text=new_text),
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def register(server: Any) -> None:
    """Add the completion features to the server."""
    service = server.session.completions

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls, params: types.InlineCompletionParams):
        s = await service.suggest(params.text_document.uri, params.position)
        return inline_items(s, params.position) if s else None

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(ls, params: types.CompletionParams):
        s = await service.suggest(params.text_document.uri, params.position)
        if s is None:
            return types.CompletionList(is_incomplete=True, items=[])
        return completion_list(s, params.position, ls.workspace.position_encoding)

    @server.feature(STATS_METHOD)
    def completion_stats(ls, params: Any) -> dict[str, Any]:
        return service.stats()

    def forget(uri: str) -> None:
        service.inflight.cancel(uri, "closed")
        service.cache.drop(uri)

    def changed(uri: str) -> None:
        # The answer would be for an old version: stop the model now, the editor asks again.
        service.inflight.cancel(uri, "stale")

    server.session.on("close", forget)
    server.session.on("change", changed)
