"""A scriptable OpenAI-shaped HTTP server on loopback, for the odd shapes real servers answer
with (error bodies, streams that close early, ignored parameters)."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """A real HTTP server on loopback whose answers each test scripts.

    `respond(handler, path, body)` writes the answer with the helpers below; every request's
    path and JSON body is kept in `requests`.
    """

    def __init__(self, unix_socket: str | None = None) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.respond: Callable[[BaseHTTPRequestHandler, str, dict[str, Any]], None] = (
            lambda handler, path, body: send_chat(handler, "ok")
        )
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                send_json(self, 200, {"object": "list", "data": [{"id": "fake-model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append((self.path, body))
                server.respond(self, self.path, body)

        if unix_socket is None:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        else:  # where our daemon listens: a Unix socket
            self._httpd = _UnixHTTPServer(unix_socket, Handler)
            self.url = "http://codeassist/v1"
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path.endswith(suffix)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):  # BaseHTTPRequestHandler wants an address tuple
        request, _ = super().get_request()
        return request, ("local", 0)


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    handler.send_response(status)
    kind = "text/plain" if isinstance(body, str) else "application/json"
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def send_events(
    handler: BaseHTTPRequestHandler, events: list[dict[str, Any]], *, done: bool = True
) -> None:
    """An SSE stream of events (then [DONE]); the connection closes after it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()
    for event in events:
        handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
    if done:
        handler.wfile.write(b"data: [DONE]\n\n")
    handler.wfile.flush()
    handler.close_connection = True


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
    delta: dict[str, Any] = {"content": content}
    if reasoning:
        delta["reasoning_content"] = reasoning
    events: list[dict[str, Any]] = [
        {"model": "fake-model", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {"model": "fake-model", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if usage is not None:
        events.append({"model": "fake-model", "choices": [], "usage": usage})
    send_events(handler, events)


def send_text(handler: BaseHTTPRequestHandler, text: str) -> None:
    choice = {"index": 0, "text": text, "finish_reason": "stop"}
    send_events(handler, [{"model": "fake-model", "choices": [choice]}])
