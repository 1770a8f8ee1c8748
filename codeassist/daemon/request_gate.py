"""ASGI middleware in front of the model routes: the idle clock, and bodies too big to read.

Every chat or text completion counts as activity for the keep-alive clock from its first byte
to the end of its response. A body longer than any prompt that fits the context
(`limits.body_too_large`) is refused with 413 before it is read: the daemon reads and drops
it in small pieces, so the client gets the answer instead of a broken pipe, and memory does
not grow with it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeassist.daemon.keep_alive import IdleClock
from codeassist.daemon.limits import PromptLimits, body_too_large
from codeassist.daemon.scheduler import Scheduler

MODEL_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})
KEEP_ALIVE_KEY = "keep_alive_s"  # set in scope["state"] by a route that read the request's own


class RequestGate:
    def __init__(self, app: ASGIApp, scheduler: Scheduler, clock: IdleClock) -> None:
        self.app = app
        self.scheduler = scheduler
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in MODEL_PATHS:
            await self.app(scope, receive, send)
            return
        self.clock.request_started(time.monotonic())
        state = scope.setdefault("state", {})
        try:
            limits = await self._limits()
            if limits is not None:
                receive = await self._checked(scope, receive, send, limits)
                if receive is None:
                    return
            await self.app(scope, receive, send)
        finally:
            wait = state.get(KEEP_ALIVE_KEY, self.clock.keep_alive_s)
            self.clock.request_finished(time.monotonic(), wait)

    async def _limits(self) -> PromptLimits | None:
        """The prompt limits, once the model has loaded (None if it never will)."""
        while self.scheduler.state == "loading":
            await asyncio.sleep(0.05)
        return self.scheduler.limits

    async def _checked(
        self, scope: Scope, receive: Receive, send: Send, limits: PromptLimits
    ) -> Receive | None:
        """receive for the app, or None when the body was refused (and answered)."""
        length = _content_length(scope)
        if length is not None:
            why = body_too_large(length, limits)
            if why is None:
                return receive
            await _drain(receive)
            await _refuse(send, why)
            return None
        # Chunked: read it here up to the bound, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limits.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive)
                await _refuse(send, body_too_large(size, limits) or "request body too large")
                return None
            if not message.get("more_body", False):
                body = b"".join(chunks)
                request = {"type": "http.request", "body": body, "more_body": False}
                return _replay([request], receive)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a body, so the client can read our answer."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _replay(messages: list[Message], then: Receive) -> Receive:
    """messages first, then whatever the connection says next (its disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


async def _refuse(send: Send, message: str) -> None:
    body: dict[str, Any] = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
