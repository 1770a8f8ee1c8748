"""HTTP routes over the scheduler: the OpenAI-compatible API, `/health`, `/v1/models`, `/lease`."""

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
from starlette.types import ASGIApp

from codeassist.daemon import responses
from codeassist.daemon.answers import Channel, Shutdown, collect, stream
from codeassist.daemon.keep_alive import IdleClock
from codeassist.daemon.limits import too_long
from codeassist.daemon.request import ChatPrompt, Job, Priority, TextPrompt
from codeassist.daemon.request_gate import KEEP_ALIVE_KEY, RequestGate
from codeassist.daemon.scheduler import NotAccepting, QueueFull, Scheduler
from codeassist.daemon.schemas import ChatRequest, CompletionRequest, Message
from codeassist.daemon.status import STATUS_OF_STATE, keep_alive_fields, state_fields
from codeassist.engine.sampling import SamplingParams

log = logging.getLogger("codeassist.daemon")

DEFAULT_MAX_TOKENS = 1024


def sampling_from(body: ChatRequest | CompletionRequest) -> SamplingParams:
    """Request fields over Gemma 4's recommended defaults (temperature 1, top_p .95, top_k 64)."""
    sampling = SamplingParams(stop=body.stop_list(), seed=body.seed)
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


async def _wait_disconnect(request: Request) -> None:
    """Return when the client goes away (the body is already read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _watch_disconnect(request: Request, on_disconnect: Callable[[], None]) -> None:
    await _wait_disconnect(request)
    on_disconnect()


def create_app(
    scheduler: Scheduler,
    *,
    clock: IdleClock,
    shutdown: Shutdown,
    request_timeout_s: float,
    model_label: str,
    info: Callable[[], dict[str, Any]],
    started: float | None = None,
) -> ASGIApp:
    """The ASGI app; `info` adds fixed facts (socket, model path, log) to /health."""
    app = FastAPI(title="codeassist daemon", docs_url=None, redoc_url=None, openapi_url=None)
    started = started or time.time()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in error.errors()
        )
        return JSONResponse(responses.error_body(f"invalid request: {problems}"), status_code=400)

    def model_name() -> str:
        engine = scheduler.engine
        return engine.model_name if engine is not None else model_label

    def current_state() -> dict[str, Any]:
        engine = scheduler.engine
        return state_fields(
            state=scheduler.state,
            model=model_name(),
            device=engine.device if engine is not None else None,
            progress=scheduler.progress,
            error=scheduler.load_error,
            stopping=shutdown.reason,
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        fields = current_state()
        body: dict[str, Any] = {
            "status": "stopping"
            if fields["state"] == "stopping"
            else STATUS_OF_STATE.get(scheduler.state, scheduler.state),
            **fields,
            "model": model_name(),
            "device": scheduler.engine.device if scheduler.engine else None,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - started, 1),
            "load_seconds": scheduler.load_seconds,
            "queue": scheduler.snapshot(),
            **keep_alive_fields(clock, time.monotonic()),
            **info(),
        }
        if scheduler.limits is not None:
            body["max_context"] = scheduler.limits.max_context
            body["max_prompt_chars"] = scheduler.limits.max_prompt_chars
        if scheduler.load_error:
            body["error"] = scheduler.load_error
        if scheduler.state == "ready":
            with contextlib.suppress(Exception):
                future = scheduler.call(lambda engine: engine.stats())
                body["engine"] = await asyncio.wait_for(asyncio.wrap_future(future), 10)
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

    @app.get("/lease")
    async def lease(request: Request, holder: str = "") -> StreamingResponse:
        """Held open by a language server: the daemon stays while it is; state changes are
        sent as events. The kernel closes it when the holder dies, however it dies."""
        return StreamingResponse(
            _hold(request, holder[:200] or "a client"),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def _hold(request: Request, holder: str) -> AsyncIterator[bytes]:
        if shutdown.reason is not None:
            yield responses.sse(current_state())
            return
        clock.lease_opened()
        log.info("%s holds the daemon (%d holder(s))", holder, clock.leases)
        gone = asyncio.ensure_future(_wait_disconnect(request))
        ending = asyncio.ensure_future(shutdown.event.wait())
        try:
            sent: dict[str, Any] | None = None
            while True:
                fields = current_state()
                if fields != sent:
                    yield responses.sse(fields)
                    sent = fields
                poll = 0.2 if fields["state"] == "loading" else 30.0
                done, _ = await asyncio.wait(
                    {gone, ending}, timeout=poll, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    return
                if ending in done:
                    yield responses.sse(current_state())
                    return
        finally:
            gone.cancel()
            ending.cancel()
            clock.lease_closed(time.monotonic())
            log.info("%s let go of the daemon (%d holder(s) left)", holder, clock.leases)

    async def run(
        request: Request,
        meta: responses.Meta,
        prompt: ChatPrompt | TextPrompt,
        body: ChatRequest | CompletionRequest,
    ) -> Any:
        setattr(request.state, KEEP_ALIVE_KEY, body.keep_alive_s(clock.keep_alive_s))
        why = too_long(prompt.chars, scheduler.limits) if scheduler.limits is not None else None
        if why is not None:
            return JSONResponse(responses.error_body(why, code="context_length_exceeded"), 400)
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
                responses.error_body(
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
                responses.error_body(
                    f"the daemon is not accepting requests: {error}", "unavailable"
                ),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        watcher = asyncio.create_task(
            _watch_disconnect(request, lambda: scheduler.cancel(job)), name=f"watch-{job.id}"
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)

            def on_end() -> None:
                watcher.cancel()
                scheduler.cancel(job)  # the client went away (or we finished: then a no-op)

            return StreamingResponse(
                stream(job, channel, meta, include_usage, shutdown, on_end),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Request-Id": job.id},
            )
        try:
            return await collect(job, channel, meta, shutdown)
        finally:
            watcher.cancel()
            scheduler.cancel(job)  # no-op when finished; stops it if this coroutine died

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        prompt = ChatPrompt(chat_messages(body.messages), enable_thinking=body.enable_thinking())
        return await run(request, responses.Meta("chat", model_name()), prompt, body)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        prompt = TextPrompt(body.prompt_text())
        return await run(request, responses.Meta("text", model_name()), prompt, body)

    return RequestGate(app, scheduler, clock)
