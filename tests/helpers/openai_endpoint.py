"""A real OpenAI-compatible HTTP endpoint on loopback (or a Unix socket) whose answers tests
script: `FakeEndpoint` with a `respond` function built from the writers below, or
`RecordedModel`, which streams recorded model text the way a server streams a model's output."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "fake-model"

# respond(handler, path, body): writes the whole answer to one POST request
Respond = Callable[[BaseHTTPRequestHandler, str, dict[str, Any]], None]


class FakeEndpoint:
    """A real HTTP server answering POSTs with `respond`; every JSON body is kept in `requests`
    (their paths in `paths`). GET .../models lists one model, any other GET answers `health`."""

    def __init__(
        self,
        respond: Respond | None = None,
        *,
        unix_socket: str | None = None,
        health: dict[str, Any] | None = None,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.respond: Respond = respond or (lambda handler, path, body: send_chat(handler, "ok"))
        # set when a client hung up before its answer was written (a cancel, a time budget)
        self.disconnected = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.rstrip("/").endswith("/models"):
                    models = [{"id": MODEL_ID, "object": "model"}]
                    send_json(self, 200, {"object": "list", "data": models})
                else:  # /health: what a test says, else a bare "ok"
                    send_json(self, 200, health or {"status": "ok"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                endpoint.paths.append(self.path)
                endpoint.requests.append(body)
                try:
                    endpoint.respond(self, self.path, body)
                except OSError:
                    endpoint.disconnected.set()
                    self.close_connection = True

        if unix_socket is None:
            self._httpd: socketserver.BaseServer = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        else:  # where our daemon listens: a Unix socket
            self._httpd = _UnixHTTPServer(unix_socket, Handler)
            self.url = "http://codeassist/v1"
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        """The bodies of the requests whose path ends with suffix, in order."""
        pairs = zip(self.paths, self.requests, strict=False)  # a request may be half recorded
        return [body for path, body in pairs if path.endswith(suffix)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordedModel(FakeEndpoint):
    """Streams recorded raw model text, 7 characters an event: chat requests get `answers` in
    order (the last one repeats), raw completions get `completion`."""

    def __init__(
        self,
        *answers: str,
        completion: str = "",
        delay: float = 0.0,
        unix_socket: str | None = None,
    ) -> None:
        self.answers = list(answers) or [""]
        self.completion = completion
        self.delay = delay  # seconds before the first event: a slow model
        self.slow = 0  # drip this many 0.1 s pieces of thinking before the answer
        self.finish = "stop"  # "length": the answer was cut off at max_tokens
        super().__init__(self._stream, unix_socket=unix_socket)

    def _stream(self, handler: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> None:
        chat = path.endswith("/chat/completions")
        text = self.answers[min(len(self.requests), len(self.answers)) - 1]
        text = text if chat else self.completion

        def event(piece: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            choice.update({"delta": {"content": piece}} if chat else {"text": piece})
            return {"model": MODEL_ID, "choices": [choice], **extra}

        time.sleep(self.delay)
        start_events(handler)
        if self.slow:
            write_event(handler, event("<|channel>thought\n"))
            for _ in range(self.slow):
                write_event(handler, event("thinking "))
                time.sleep(0.1)
            write_event(handler, event("<channel|>"))
        for start in range(0, len(text), 7):
            write_event(handler, event(text[start : start + 7]))
        usage = {"prompt_tokens": 100, "completion_tokens": len(text) // 7}
        write_event(handler, event("", self.finish, usage=usage))
        end_events(handler)


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):  # BaseHTTPRequestHandler wants an address tuple
        request, _ = super().get_request()
        return request, ("local", 0)


# ---- writers of one answer ---------------------------------------------------------------------


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """One JSON answer (a str body goes as text/plain)."""
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    handler.send_response(status)
    kind = "text/plain" if isinstance(body, str) else "application/json"
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def start_events(handler: BaseHTTPRequestHandler) -> None:
    """The headers of a server-sent event stream that ends when the connection closes."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True


def write_event(handler: BaseHTTPRequestHandler, event: dict[str, Any]) -> None:
    handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
    handler.wfile.flush()


def end_events(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"data: [DONE]\n\n")
    handler.wfile.flush()


def send_events(
    handler: BaseHTTPRequestHandler, events: list[dict[str, Any]], *, done: bool = True
) -> None:
    """An event stream of `events` (then [DONE] unless done=False); the connection closes."""
    start_events(handler)
    for event in events:
        write_event(handler, event)
    if done:
        end_events(handler)


def close_after_headers(handler: BaseHTTPRequestHandler) -> None:
    """HTTP 200 with an event-stream header, then the connection closes: no event at all."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True


def send_chat(
    handler: BaseHTTPRequestHandler,
    content: str,
    *,
    reasoning: str = "",
    usage: dict[str, int] | None = None,
) -> None:
    """A streamed chat answer in one delta (`reasoning` as reasoning_content), then "stop"."""
    delta: dict[str, Any] = {"content": content}
    if reasoning:
        delta["reasoning_content"] = reasoning
    events: list[dict[str, Any]] = [
        {"model": MODEL_ID, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {"model": MODEL_ID, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if usage is not None:
        events.append({"model": MODEL_ID, "choices": [], "usage": usage})
    send_events(handler, events)


def send_text(handler: BaseHTTPRequestHandler, text: str) -> None:
    """A streamed raw completion in one event, finished by "stop"."""
    choice = {"index": 0, "text": text, "finish_reason": "stop"}
    send_events(handler, [{"model": MODEL_ID, "choices": [choice]}])
