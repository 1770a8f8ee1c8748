"""The server's read loop: bytes from the client -> frames -> checked messages -> the protocol.

Replaces pygls' loop, which stops answering after a framing error, allocates whatever a
Content-Length claims, and drops malformed requests without a reply (lsp/jsonrpc/framing.py
and messages.py say what happens instead). The loop ends on `exit` or when the client closes
the stream, with a log line either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from lsp.jsonrpc.framing import Broken, Event, Framer
from lsp.jsonrpc.messages import PARSE_ERROR, Reply, decode, id_in

logger = logging.getLogger(__name__)

STALL_S = 0.25  # a message left unfinished this long is settled (framing.Framer.stalled)
CHUNK = 65536

NextChunk = Callable[[], Awaitable[bytes]]


def handle(protocol: Any, event: Event) -> None:
    """One framing event: a body's messages go to the protocol, problems get their replies."""
    if isinstance(event, Broken):
        logger.warning("framing: %s", event.reason)
        msg_id = id_in(event.head)
        looks_like_a_message = event.head.lstrip(b" \t\r\n")[:1] in (b"{", b"[")
        if msg_id is not None or looks_like_a_message:
            protocol.reply(Reply(msg_id, PARSE_ERROR, f"{event.reason}; resend it framed as LSP"))
        return
    decoded = decode(event.body)
    for reason in decoded.dropped:
        logger.warning("message dropped: %s", reason)
    for reply in decoded.replies:
        logger.warning("malformed message answered with %s: %s", reply.code, reply.message)
        protocol.reply(reply)
    for message in decoded.messages:
        try:
            protocol.receive(message)
        except Exception:  # a bug in one handler must not end the session
            logger.exception("handling %s failed", message.get("method") or "a response")


async def serve(protocol: Any, next_chunk: NextChunk) -> int:
    """Read and dispatch until `exit` or the end of the stream; the process exit code."""
    framer = Framer()
    while protocol.exit_code is None:
        try:
            if framer.pending():
                chunk = await asyncio.wait_for(next_chunk(), STALL_S)
            else:
                chunk = await next_chunk()
        except TimeoutError:
            events = framer.stalled()
        else:
            if not chunk:
                for event in framer.eof():
                    handle(protocol, event)
                ended = "after shutdown" if protocol._shutdown else "without shutdown"  # noqa: SLF001
                logger.info("the client closed the connection (%s); the server stops", ended)
                return 0 if protocol._shutdown else 1  # noqa: SLF001
            events = framer.feed(chunk)
        for event in events:
            handle(protocol, event)
            # Let a request just received start before the next message is handled, as if
            # the messages had come one by one (a change right behind a completion request
            # must find that request running, so that it can cancel it).
            await asyncio.sleep(0)
    logger.info("exit: the server stops (code %s)", protocol.exit_code)
    return protocol.exit_code


def stdin_chunks(stream: BinaryIO) -> NextChunk:
    """Chunks of stream as they arrive, read on a thread (pipes and files alike)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)  # at most ~1 MiB read ahead

    def pump() -> None:
        fd = stream.fileno()
        while True:
            try:
                data = os.read(fd, CHUNK)
            except OSError as error:
                logger.warning("reading the client's stream failed: %s", error)
                data = b""
            try:
                asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
            except RuntimeError:  # the loop is gone: the server stopped
                return
            if not data:
                return

    threading.Thread(target=pump, name="ca-stdin", daemon=True).start()
    return queue.get


def stream_chunks(reader: asyncio.StreamReader) -> NextChunk:
    """Chunks of a socket connection (`codeassist lsp --tcp`)."""

    async def next_chunk() -> bytes:
        return await reader.read(CHUNK)

    return next_chunk
