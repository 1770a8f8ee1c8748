"""The one way tasks call a model: chat and raw completions over an OpenAI-compatible API.

The same class talks to our daemon (over its Unix socket, started on demand) and to any
OpenAI-compatible server. Every call streams internally, so on_delta, cancellation and
timeouts work alike for both.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from codeassist.client import sse
from codeassist.client.daemon_start import check_socket_owner
from codeassist.client.errors import ModelBusy, ModelRequestError, ModelTimeout, ModelUnavailable
from codeassist.client.results import ChatResult, CompletionResult, Usage
from codeassist.gemma4.prompt import ThinkingParser

OnDelta = Callable[[str, str], None]
PRIORITIES = ("interactive", "normal", "batch")
CONNECT_TIMEOUT_S = 5.0


@dataclass
class Endpoint:
    """Where requests go, and how to describe that place in an error message."""

    base_url: str  # ends in /v1
    label: str  # e.g. "codeassist daemon at /run/user/1000/codeassist/daemon.sock"
    fix: str  # what the user can do when it is unreachable
    socket_path: str | None = None
    api_key: str = ""
    model: str = ""  # model name to send; empty: ask /v1/models once
    is_daemon: bool = False


class _Abort:
    """Cuts a streaming response short from another thread on cancel or deadline."""

    def __init__(self, cancel: threading.Event | None, deadline: float | None) -> None:
        self.cancel = cancel
        self.deadline = deadline
        self.reason: str | None = None  # "cancelled" | "timeout"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = None
        if cancel is not None or deadline is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="model-abort")
            self._thread.start()

    def attach(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock
            if self.reason is not None:
                self._shutdown()

    def check(self) -> str | None:
        if self.reason is None:
            if self.cancel is not None and self.cancel.is_set():
                self.reason = "cancelled"
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.reason = "timeout"
        return self.reason

    def _watch(self) -> None:
        while not self._done.wait(0.01):
            if self.check() is not None:
                with self._lock:
                    self._shutdown()
                return

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._done.set()


class _ConnectFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class ModelClient:
    """Sync client; thread-safe (LSP code calls it through asyncio.to_thread)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        ensure_started: Callable[[], Any] | None = None,
        default_timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._ensure_started = ensure_started
        self._default_timeout = default_timeout
        transport = httpx.HTTPTransport(uds=endpoint.socket_path) if endpoint.socket_path else None
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._http = httpx.Client(transport=transport, headers=headers, timeout=None)
        self._model_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- public API -------------------------------------------------------------------------
    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        enable_thinking: bool = False,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: list[str] | None = None,
        priority: str = "interactive",
        timeout: float | None = None,
        response_format: dict[str, Any] | None = None,
        cancel: threading.Event | None = None,
        on_delta: OnDelta | None = None,
        seed: int | None = None,
    ) -> ChatResult:
        """A chat completion; thinking (when enabled) comes back apart from the answer."""
        body: dict[str, Any] = {
            "messages": list(messages),
            "max_tokens": max_tokens,
            "chat_template_kwargs": {"enable_thinking": enable_thinking},
        }
        body.update(self._sampling(temperature, top_p, top_k, stop, seed, priority))
        if response_format is not None:
            body["response_format"] = response_format
        answer: list[str] = []
        thinking: list[str] = []
        parser = ThinkingParser()  # for servers that leave the thought markers in the content

        def emit(kind: str, text: str) -> None:
            if not text:
                return
            (thinking if kind == "thinking" else answer).append(text)
            if on_delta is not None:
                on_delta(kind, text)

        def on_choice(choice: dict[str, Any]) -> None:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                emit("thinking", reasoning)
            if delta.get("content"):
                for piece in parser.feed(delta["content"]):
                    emit(piece.kind, piece.text)

        finish, usage, model = self._stream("/chat/completions", body, timeout, cancel, on_choice)
        for piece in parser.finish():
            emit(piece.kind, piece.text)
        return ChatResult("".join(answer), "".join(thinking), finish, usage, model)

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: list[str] | None = None,
        priority: str = "interactive",
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        on_delta: OnDelta | None = None,
        seed: int | None = None,
    ) -> CompletionResult:
        """A raw-text completion of an already rendered prompt (it may hold special tokens)."""
        body: dict[str, Any] = {"prompt": prompt, "max_tokens": max_tokens}
        body.update(self._sampling(temperature, top_p, top_k, stop, seed, priority))
        text: list[str] = []

        def on_choice(choice: dict[str, Any]) -> None:
            if choice.get("text"):
                text.append(choice["text"])
                if on_delta is not None:
                    on_delta("answer", choice["text"])

        finish, usage, model = self._stream("/completions", body, timeout, cancel, on_choice)
        return CompletionResult("".join(text), finish, usage, model)

    def health(self) -> dict[str, Any]:
        """The daemon's /health, or for another server its /v1/models listing."""
        if self.endpoint.is_daemon:
            if self._ensure_started is not None:
                return self._ensure_started()
            return self._get("/health", root=True)
        models = self._get("/models")
        return {
            "status": "ok",
            "endpoint": self.endpoint.base_url,
            "models": [m.get("id") for m in models.get("data", [])],
        }

    # ---- internals ------------------------------------------------------------------------------
    def _sampling(
        self,
        temperature: float | None,
        top_p: float | None,
        top_k: int | None,
        stop: list[str] | None,
        seed: int | None,
        priority: str,
    ) -> dict[str, Any]:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {priority!r}")
        body: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
        for key, value in (
            ("temperature", temperature),
            ("top_p", top_p),
            ("top_k", top_k),
            ("stop", stop),
            ("seed", seed),
        ):
            if value is not None:
                body[key] = value
        if self.endpoint.is_daemon:
            body["priority"] = priority
        return body

    def _url(self, path: str, root: bool = False) -> str:
        """base_url + path; root=True: from the server root (for /health, beside /v1)."""
        base = self.endpoint.base_url
        return (base.rsplit("/", 1)[0] if root else base) + path

    def _model_name(self) -> str:
        with self._model_lock:
            if not self.endpoint.model:
                models = self._get("/models").get("data") or []
                if not models:
                    raise ModelUnavailable(
                        f"{self.endpoint.label} lists no models; set [model] name to the "
                        "model it serves."
                    )
                self.endpoint.model = models[0]["id"]
            return self.endpoint.model

    def _get(self, path: str, root: bool = False) -> dict[str, Any]:
        try:
            response = self._http.get(self._url(path, root), timeout=httpx.Timeout(30, connect=5))
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        if response.status_code != 200:
            raise self._status_error(path, response)
        return response.json()

    def _unreachable(self, error: Exception) -> ModelUnavailable:
        return ModelUnavailable(
            f"{self.endpoint.label} is unreachable ({error.__class__.__name__}: {error}); "
            f"{self.endpoint.fix}"
        )

    def _status_error(self, path: str, response: httpx.Response) -> ModelUnavailable:
        with contextlib.suppress(Exception):
            response.read()
        message = response.text.strip()[:500]
        with contextlib.suppress(Exception):
            error = response.json().get("error")
            message = error.get("message", message) if isinstance(error, dict) else str(error)
        where = f"{self.endpoint.label} answered {response.status_code} to {path.lstrip('/')}"
        if response.status_code == 503:
            retry = response.headers.get("Retry-After")
            return ModelBusy(
                f"{where}: {message}. It is busy; retry later.",
                float(retry) if retry and retry.isdigit() else None,
            )
        if response.status_code in (401, 403):
            return ModelRequestError(
                f"{where}: {message}. Set [model] api_key (env CODEASSIST_MODEL_API_KEY) to "
                "the endpoint's token.",
                response.status_code,
            )
        if response.status_code == 404:
            return ModelRequestError(
                f"{where}: {message}. Check that [model] endpoint is the server's base URL "
                "ending in /v1 and that [model] name is a model it serves.",
                response.status_code,
            )
        return ModelRequestError(f"{where}: {message}", response.status_code)

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float | None,
        cancel: threading.Event | None,
        on_choice: Callable[[dict[str, Any]], None],
    ) -> tuple[str | None, Usage, str]:
        """POST a streaming request; starts the daemon once if it is not there; retries 503
        for non-interactive requests while time is left."""
        timeout = timeout if timeout is not None else self._default_timeout
        deadline = time.monotonic() + timeout if timeout is not None else None
        started_daemon = False
        while True:
            if cancel is not None and cancel.is_set():
                return "cancelled", Usage(), ""
            try:
                if self.endpoint.is_daemon:
                    check_socket_owner(Path(self.endpoint.socket_path or ""))
                body = dict(body, model=self._model_name())
                return self._stream_once(path, body, timeout, deadline, cancel, on_choice)
            except _ConnectFailed as failed:
                if not self.endpoint.is_daemon or started_daemon or self._ensure_started is None:
                    raise self._unreachable(failed.error) from None
                self._ensure_started()
                started_daemon = True
            except ModelBusy as busy:
                wait = busy.retry_after or 1.0
                if body.get("priority", "interactive") == "interactive" or (
                    deadline is not None and time.monotonic() + wait > deadline
                ):
                    raise
                if cancel is not None:
                    if cancel.wait(wait):
                        return "cancelled", Usage(), ""
                else:
                    time.sleep(wait)

    def _stream_once(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float | None,
        deadline: float | None,
        cancel: threading.Event | None,
        on_choice: Callable[[dict[str, Any]], None],
    ) -> tuple[str | None, Usage, str]:
        abort = _Abort(cancel, deadline)
        finish: str | None = None
        usage = Usage()
        model = ""
        remaining = deadline - time.monotonic() if deadline is not None else None
        try:
            read_timeout = max(remaining, 0.001) if remaining is not None else None
            with self._http.stream(
                "POST",
                self._url(path),
                json=body,
                timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_S),
            ) as response:
                abort.attach(response)
                if response.status_code != 200:
                    raise self._status_error(path, response)
                for event in self._events(response):
                    if event is sse.DONE:
                        break
                    if "error" in event:
                        raise self._stream_error(path, event["error"])
                    model = event.get("model") or model
                    if event.get("usage"):
                        usage = _usage(event["usage"])
                    for choice in event.get("choices") or []:
                        on_choice(choice)
                        finish = choice.get("finish_reason") or finish
                    if abort.check():
                        break
        except httpx.ConnectError as error:
            raise _ConnectFailed(error) from None
        except httpx.TimeoutException:
            abort.reason = abort.reason or "timeout"
        except httpx.TransportError as error:
            if abort.check() is None:
                raise self._unreachable(error) from None
        finally:
            abort.close()
        if abort.reason == "cancelled":
            return "cancelled", usage, model
        if abort.reason == "timeout":
            raise ModelTimeout(
                f"{self.endpoint.label} did not finish {path.lstrip('/')} within "
                f"{timeout:.1f} s; pass a larger timeout or ask for fewer tokens."
            )
        return finish, usage, model

    @staticmethod
    def _events(response: httpx.Response) -> Iterator[Any]:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            # A server that ignored stream=true: one JSON body.
            response.read()
            payload = response.json()
            for choice in payload.get("choices") or []:
                if "message" in choice:
                    choice["delta"] = choice.pop("message")
            yield payload
            yield sse.DONE
            return
        yield from sse.iter_events(response.iter_lines())

    def _stream_error(self, path: str, error: Any) -> ModelUnavailable:
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        if code == "timeout":
            return ModelTimeout(f"{self.endpoint.label} stopped {path.lstrip('/')}: {message}")
        return ModelRequestError(f"{self.endpoint.label} failed {path.lstrip('/')}: {message}", 500)


def _usage(body: dict[str, Any]) -> Usage:
    details = body.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(body.get("prompt_tokens") or 0),
        completion_tokens=int(body.get("completion_tokens") or 0),
        reused_tokens=int(details.get("cached_tokens") or 0),
    )
