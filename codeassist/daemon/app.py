"""HTTP routes: the OpenAI-compatible API, `/health` and `/v1/models`, over the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from codeassist.daemon import responses as r
from codeassist.daemon.request import ChatPrompt, Job, Priority, Sampling, TextPrompt, Update
from codeassist.daemon.scheduler import NotAccepting, QueueFull, Scheduler
from codeassist.daemon.schemas import ChatRequest, CompletionRequest, Message

log = logging.getLogger("codeassist.daemon")

DEFAULT_MAX_TOKENS = 1024


class Channel:
    """Carries Updates from the engine thread to one request's coroutine."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Update] = asyncio.Queue()

    def put(self, update: Update) -> None:  # engine thread
        # The loop is gone once the server has shut down; nobody is listening then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, update)

    async def updates(self) -> AsyncIterator[Update]:
        while True:
            update = await self._queue.get()
            yield update
            if update.finished:
                return


def sampling_from(body: ChatRequest | CompletionRequest) -> Sampling:
    """Request fields over Gemma 4's recommended defaults (temperature 1, top_p .95, top_k 64)."""
    sampling = Sampling(stop=body.stop_list(), seed=body.seed)
    if body.temperature is not None:
        sampling.temperature = body.temperature
    if body.top_p is not None:
        sampling.top_p = body.top_p
    if body.top_k is not None:
        sampling.top_k = body.top_k
    sampling.max_tokens = body.token_limit() or DEFAULT_MAX_TOKENS
    return sampling


def chat_messages(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text()} for m in messages]


async def _watch_disconnect(request: Request, on_disconnect: Callable[[], None]) -> None:
    """Wait for the client to go away (the body is already read), then call on_disconnect."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            on_disconnect()
            return


def create_app(
    scheduler: Scheduler,
    *,
    request_timeout_s: float,
    info: Callable[[], dict[str, Any]],
    started: float | None = None,
) -> FastAPI:
    """The ASGI app; `info` adds fixed facts (socket, model path) to /health."""
    app = FastAPI(title="codeassist daemon", docs_url=None, redoc_url=None, openapi_url=None)
    started = started or time.time()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in error.errors()
        )
        return JSONResponse(r.error_body(f"invalid request: {problems}"), status_code=400)

    def model_name() -> str:
        engine = scheduler.engine
        return engine.model_name if engine is not None else info().get("model", "")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": {"ready": "ok"}.get(scheduler.state, scheduler.state),
            "model": model_name(),
            "device": scheduler.engine.device if scheduler.engine else None,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - started, 1),
            "load_seconds": scheduler.load_seconds,
            "queue": scheduler.snapshot(),
            **info(),
        }
        if scheduler.load_error:
            body["error"] = scheduler.load_error
        if scheduler.state == "ready":
            with contextlib.suppress(Exception):
                future = scheduler.call(lambda engine: engine.stats())
                body["engine"] = await asyncio.wait_for(asyncio.wrap_future(future), 30)
        return body

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": model_name(),
                    "object": "model",
                    "created": int(started),
                    "owned_by": "local",
                }
            ],
        }

    async def run(
        request: Request, meta: r.Meta, prompt: ChatPrompt | TextPrompt, body: Any
    ) -> Any:
        channel = Channel()
        job = Job(
            prompt=prompt,
            sampling=sampling_from(body),
            priority=Priority.parse(body.priority),
            sink=channel.put,
            deadline=time.monotonic() + request_timeout_s,
        )
        try:
            scheduler.submit(job)
        except QueueFull as full:
            return JSONResponse(
                r.error_body(
                    f"the daemon's queue is full ({scheduler.queue_size} requests); "
                    f"retry after {full.retry_after} s",
                    "server_busy",
                    "queue_full",
                ),
                status_code=503,
                headers={"Retry-After": str(full.retry_after)},
            )
        except NotAccepting as error:
            return JSONResponse(
                r.error_body(f"the daemon is not accepting requests: {error}", "unavailable"),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        watcher = asyncio.create_task(
            _watch_disconnect(request, lambda: scheduler.cancel(job)), name=f"watch-{job.id}"
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(scheduler, job, channel, meta, watcher, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Request-Id": job.id},
            )
        try:
            return await _collect(job, channel, meta)
        finally:
            watcher.cancel()
            scheduler.cancel(job)  # no-op when finished; stops it if this coroutine died

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        prompt = ChatPrompt(chat_messages(body.messages), enable_thinking=body.enable_thinking())
        return await run(request, r.Meta("chat", model_name()), prompt, body)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        prompt = TextPrompt(body.prompt_text())
        return await run(request, r.Meta("text", model_name()), prompt, body)

    return app


async def _collect(job: Job, channel: Channel, meta: r.Meta) -> Any:
    splitter = r.Splitter()
    last = Update()
    async for update in channel.updates():
        splitter.feed(update.text)
        last = update
    splitter.finish()
    if last.error is not None:
        kind = "timeout" if last.status == 504 else "server_error"
        if last.status == 400:
            kind = "invalid_request_error"
        return JSONResponse(r.error_body(last.error, kind), status_code=last.status)
    return r.full_response(
        meta,
        "".join(splitter.answer),
        "".join(splitter.thinking),
        last.finish_reason,
        last.usage or job.usage,
    )


async def _stream(
    scheduler: Scheduler,
    job: Job,
    channel: Channel,
    meta: r.Meta,
    watcher: asyncio.Task,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    splitter = r.Splitter()
    opening = meta.kind == "chat"  # the role chunk goes out with the first text, in one write
    try:
        async for update in channel.updates():
            events: list[bytes] = []
            if opening:
                events.append(r.sse(r.chat_chunk(meta, {"role": "assistant", "content": ""})))
                opening = False
            pieces = splitter.feed(update.text)
            if update.finished:
                pieces += splitter.finish()
            events += [r.sse(chunk) for chunk in r.delta_chunks(meta, pieces)]
            if update.finished:
                if update.error is not None:
                    events.append(
                        r.sse(r.error_body(update.error, "server_error", update.finish_reason))
                    )
                else:
                    events.append(r.sse(r.final_chunk(meta, update.finish_reason)))
                if include_usage:
                    events.append(r.sse(r.usage_chunk(meta, update.usage or job.usage)))
                events.append(r.sse("[DONE]"))
            if events:
                yield b"".join(events)
    finally:
        watcher.cancel()
        scheduler.cancel(job)  # the client went away (or we finished: then a no-op)
