"""Editor tests' fixtures: a loopback OpenAI-compatible endpoint with one recorded answer.

The tiny checkpoint emits random text, which never parses as review findings; the review step
of the editor tests points the real server at this endpoint (an ordinary `[model] endpoint`
base URL) so that the path editor -> server -> review task -> HTTP client -> findings ->
diagnostics runs with a real, recorded model answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def _handler(answer: str, completion: str, calls: list[dict]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "recorded", "object": "model"}]})
            else:
                self._send(200, {"status": "ok"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            calls.append({"path": self.path, "body": request})
            if self.path.rstrip("/").endswith("/v1/completions"):
                choice = {"index": 0, "text": completion, "finish_reason": "stop"}
                self._send(200, {"id": "recorded", "model": "recorded", "choices": [choice]})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"{self.path} is not served here"}})
                return
            message = {"role": "assistant", "content": answer}
            usage = {"prompt_tokens": 10, "completion_tokens": len(answer) // 4, "total_tokens": 0}
            self._send(
                200,
                {
                    "id": f"recorded-{len(calls)}",
                    "object": "chat.completion",
                    "model": "recorded",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage,
                },
            )

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def _serve(answer: str, completion: str = "") -> Iterator[tuple[str, list[dict]]]:
    """(base URL, list of received calls) of a running endpoint; stopped on exit.

    Chat requests get `answer`; raw completions get `completion`."""
    calls: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer, completion, calls))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recorded_endpoint():
    """recorded_endpoint(answer, completion="") -> context manager giving (base URL, calls)."""
    return _serve
