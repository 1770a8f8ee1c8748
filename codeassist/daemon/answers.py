"""One request's answer: the engine's updates carried to its coroutine, and turned into a
JSON body or a stream of server-sent events that always ends with a last event and [DONE]."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from codeassist.daemon import responses
from codeassist.daemon.request import Job, Update

# After the daemon starts stopping, how long a request waits for the engine's last word before
# it ends its answer itself (uvicorn cuts connections 5 s into a shutdown).
STOP_GRACE_S = 2.0


@dataclass
class Shutdown:
    """Set once, on the event loop, when the daemon starts to stop (signal or idle)."""

    reason: str | None = None
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()


class Channel:
    """Carries Updates from the engine thread to one request's coroutine."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Update] = asyncio.Queue()

    def put(self, update: Update) -> None:  # engine or tokenizer thread
        # The loop is gone once the server has shut down; nobody is listening then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, update)

    async def updates(self, shutdown: Shutdown) -> AsyncIterator[Update]:
        """Updates up to the finished one; once the daemon is stopping, if the engine has not
        finished this request within STOP_GRACE_S, a finished error update of our own."""
        loop = asyncio.get_running_loop()
        while True:
            if shutdown.event.is_set():
                # One deadline from the moment the stop is seen (waiting on the stop event
                # again would return at once, forever: a spin that starves the engine thread).
                deadline = loop.time() + STOP_GRACE_S
                while True:
                    try:
                        update = await asyncio.wait_for(
                            self._queue.get(), max(0.0, deadline - loop.time())
                        )
                    except TimeoutError:
                        yield Update(
                            finished=True,
                            finish_reason="cancelled",
                            error=f"the daemon stopped ({shutdown.reason}) before this request "
                            "ended",
                            status=503,
                        )
                        return
                    yield update
                    if update.finished:
                        return
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(shutdown.event.wait())
            try:
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
            if getter in done:
                update = getter.result()
                yield update
                if update.finished:
                    return


async def collect(job: Job, channel: Channel, meta: responses.Meta, shutdown: Shutdown) -> Any:
    """The whole answer as one JSON body (or the error it ended with)."""
    splitter = responses.Splitter()
    last = Update()
    async for update in channel.updates(shutdown):
        splitter.feed(update.text)
        last = update
    splitter.finish()
    if last.error is not None:
        kind = {400: "invalid_request_error", 504: "timeout", 503: "unavailable"}
        return JSONResponse(
            responses.error_body(last.error, kind.get(last.status, "server_error")),
            status_code=last.status,
        )
    return responses.full_response(
        meta,
        "".join(splitter.answer),
        "".join(splitter.thinking),
        last.finish_reason,
        last.usage or job.usage,
    )


async def stream(
    job: Job,
    channel: Channel,
    meta: responses.Meta,
    include_usage: bool,
    shutdown: Shutdown,
    on_end: Callable[[], None],
) -> AsyncIterator[bytes]:
    """The answer as server-sent events; on_end runs however the stream ends."""
    splitter = responses.Splitter()
    opening = meta.kind == "chat"  # the role chunk goes out with the first text, in one write
    try:
        async for update in channel.updates(shutdown):
            events: list[bytes] = []
            if opening:
                events.append(
                    responses.sse(responses.chat_chunk(meta, {"role": "assistant", "content": ""}))
                )
                opening = False
            pieces = splitter.feed(update.text)
            if update.finished:
                pieces += splitter.finish()
            events += [responses.sse(chunk) for chunk in responses.delta_chunks(meta, pieces)]
            if update.finished:
                if update.error is not None:
                    kind = "timeout" if update.status == 504 else "server_error"
                    if update.status == 400:
                        kind = "invalid_request_error"
                    events.append(
                        responses.sse(
                            responses.error_body(update.error, kind, update.finish_reason)
                        )
                    )
                else:
                    events.append(responses.sse(responses.final_chunk(meta, update.finish_reason)))
                if include_usage:
                    events.append(
                        responses.sse(responses.usage_chunk(meta, update.usage or job.usage))
                    )
                events.append(responses.sse("[DONE]"))
            if events:
                yield b"".join(events)
    finally:
        on_end()
