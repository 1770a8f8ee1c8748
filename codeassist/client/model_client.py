"""The one way tasks call a model: chat and raw completions over an OpenAI-compatible API.

The same class talks to our daemon (over its Unix socket, started on demand) and to any
OpenAI-compatible server. Every call streams internally, so on_delta, cancellation and
timeouts work alike for both.
"""

from __future__ import annotations

import contextlib
import json
import logging
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
from codeassist.client.errors import (
    ModelBusy,
    ModelRequestError,
    ModelStreamClosed,
    ModelTimeout,
    ModelUnavailable,
    error_detail,
)
from codeassist.client.results import ChatResult, CompletionResult, Usage
from codeassist.gemma4.prompt import ThinkingParser, render_chat
from codeassist.gemma4.tokens import BOS

logger = logging.getLogger(__name__)

OnDelta = Callable[[str, str], None]
CountTokens = Callable[[str], int]
PRIORITIES = ("interactive", "normal", "batch")
CONNECT_TIMEOUT_S = 5.0

# Structured output, strictest first: what a request steps down through when an endpoint
# rejects the kind it was sent.
FORMAT_KINDS = ("json_schema", "json_object", "none")
CONTEXT_SETTINGS = (
    "the server's context size (llama.cpp: -c/--ctx-size, llama-cpp-python: --n_ctx, "
    "Ollama: num_ctx, vLLM: --max-model-len) against [review] budget_tokens, "
    "[completion] budget_tokens and [refactor] budget_tokens plus their max_tokens"
)
THINKING_FIX = (
    "turn thinking on in the server instead (llama.cpp's llama-server: --chat-template-kwargs "
    "'{\"enable_thinking\":true}'; llama-cpp-python: --chat_template_kwargs "
    "'{\"enable_thinking\":true}'); only reviews use the chat endpoint, so completion and "
    "refactor stay without thinking. See docs/backends.md."
)


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
        count_tokens: CountTokens | None = None,
    ) -> None:
        """count_tokens counts usage when an endpoint reports none (the configured counter)."""
        self.endpoint = endpoint
        self._ensure_started = ensure_started
        self._default_timeout = default_timeout
        self._count_tokens = count_tokens
        # The strictest structured output this endpoint took (FORMAT_KINDS); it only steps down.
        self.format_kind = FORMAT_KINDS[0]
        self._notices_given: set[str] = set()
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
        """A chat completion; thinking (when enabled) comes back apart from the answer.

        response_format json_schema steps down to json_object and then to none when the
        endpoint rejects it (the client remembers what it took).
        """
        body: dict[str, Any] = {
            "messages": list(messages),
            "max_tokens": max_tokens,
            "chat_template_kwargs": {"enable_thinking": enable_thinking},
        }
        body.update(self._sampling(temperature, top_p, top_k, stop, seed, priority))
        timeout = timeout if timeout is not None else self._default_timeout
        deadline = time.monotonic() + timeout if timeout is not None else None
        while True:
            fmt = _format_for(response_format, self.format_kind)
            attempt = dict(body, response_format=fmt) if fmt is not None else body
            try:
                result, thought_seen = self._chat_once(attempt, timeout, deadline, cancel, on_delta)
                break
            except ModelRequestError as error:
                if fmt is None or not _names_response_format(error.detail):
                    raise
                # The endpoint does not take this kind of structured output: step down.
                self.format_kind = FORMAT_KINDS[FORMAT_KINDS.index(fmt["type"]) + 1]
        if self._count_tokens is not None and _no_usage(result.usage):
            with contextlib.suppress(ValueError):  # messages Gemma's format cannot render
                prompt = render_chat(messages, enable_thinking=enable_thinking)
                result.usage = self._counted(prompt, result.thinking + result.text)
        if (
            enable_thinking
            and not self.endpoint.is_daemon
            and not result.thinking
            and not thought_seen
            and result.finish_reason != "cancelled"
        ):
            self._notice(
                result.notices,
                "thinking",
                f"{self.endpoint.label} answered without thinking although the request asked "
                "for it: the server ignores the per-request chat_template_kwargs "
                '{"enable_thinking": true}, so reviews run without thinking; '
                f"{THINKING_FIX}",
            )
        return result

    def _chat_once(
        self,
        body: dict[str, Any],
        timeout: float | None,
        deadline: float | None,
        cancel: threading.Event | None,
        on_delta: OnDelta | None,
    ) -> tuple[ChatResult, bool]:
        """One streamed chat request: the result, and whether a thought block was seen."""
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

        finish, usage, model = self._stream(
            "/chat/completions", body, timeout, cancel, on_choice, deadline=deadline
        )
        for piece in parser.finish():
            emit(piece.kind, piece.text)
        result = ChatResult("".join(answer), "".join(thinking), finish, usage, model)
        return result, parser.opened

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
        """A raw-text completion of an already rendered prompt (it may hold special tokens).

        Other servers put their own <bos> before a prompt (llama.cpp, vLLM), so a leading
        <bos> is left to them; our daemon takes the prompt as it is.
        """
        sent = prompt
        if not self.endpoint.is_daemon and sent.startswith(BOS):
            sent = sent[len(BOS) :]
        body: dict[str, Any] = {"prompt": sent, "max_tokens": max_tokens}
        body.update(self._sampling(temperature, top_p, top_k, stop, seed, priority))
        text: list[str] = []

        def on_choice(choice: dict[str, Any]) -> None:
            if choice.get("text"):
                text.append(choice["text"])
                if on_delta is not None:
                    on_delta("answer", choice["text"])

        finish, usage, model = self._stream("/completions", body, timeout, cancel, on_choice)
        result = CompletionResult("".join(text), finish, usage, model)
        if self._count_tokens is not None and _no_usage(usage):
            result.usage = self._counted(prompt, result.text)
        return result

    def _counted(self, prompt: str, generated: str) -> Usage:
        assert self._count_tokens is not None
        return Usage(
            prompt_tokens=self._count_tokens(prompt),
            completion_tokens=self._count_tokens(generated),
            counted=True,
        )

    def _notice(self, notices: list[str], key: str, text: str) -> None:
        """Add text to a result's notices the first time this client meets key."""
        if key not in self._notices_given:
            self._notices_given.add(key)
            notices.append(text)
            logger.warning("%s", text)

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
        raw = response.text.strip()
        detail = ""
        with contextlib.suppress(Exception):
            detail = error_detail(response.json())
        detail = (detail or raw or response.reason_phrase or "no error text")[:500]
        status = response.status_code
        where = (
            f"{self.endpoint.label} answered {status} to {path.lstrip('/')}: {_sentence(detail)}"
        )
        if status == 503:
            retry = response.headers.get("Retry-After")
            return ModelBusy(
                f"{where} It is busy; retry later.",
                float(retry) if retry and retry.isdigit() else None,
            )
        if status in (401, 403):
            hint = "Set [model] api_key (env CODEASSIST_MODEL_API_KEY) to the endpoint's token."
        elif status == 404:
            hint = (
                "Check that [model] endpoint is the server's base URL ending in /v1 and that "
                "[model] name is a model it serves."
            )
        elif _is_context_overflow(raw):
            hint = f"The prompt does not fit the server's context: check {CONTEXT_SETTINGS}."
        else:
            hint = ""
        return ModelRequestError(f"{where} {hint}".strip(), status, detail)

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float | None,
        cancel: threading.Event | None,
        on_choice: Callable[[dict[str, Any]], None],
        deadline: float | None = None,
    ) -> tuple[str | None, Usage, str]:
        """POST a streaming request; starts the daemon once if it is not there; retries 503
        for non-interactive requests while time is left."""
        timeout = timeout if timeout is not None else self._default_timeout
        if deadline is None and timeout is not None:
            deadline = time.monotonic() + timeout
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
        events = 0
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
                    events += 1
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
                if events == 0:
                    raise self._closed_early(path, body, error) from None
                raise ModelRequestError(
                    f"{self.endpoint.label} broke off {path.lstrip('/')} mid-answer "
                    f"({error.__class__.__name__}: {error}); see the server's log.",
                    200,
                    str(error),
                ) from None
        finally:
            abort.close()
        if events == 0 and abort.reason is None:
            raise self._closed_early(path, body, None)
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

    def _closed_early(
        self, path: str, body: dict[str, Any], error: Exception | None
    ) -> ModelStreamClosed:
        """The server took the request (HTTP 200) and closed the stream before any event."""
        how = f" ({error.__class__.__name__}: {error})" if error is not None else ""
        size = ""
        if self._count_tokens is not None:
            prompt = body.get("prompt")
            if prompt is None:
                with contextlib.suppress(Exception):
                    prompt = render_chat(body.get("messages") or [])
            if prompt:
                size = f"a prompt of about {self._count_tokens(prompt)} tokens and "
        return ModelStreamClosed(
            f"{self.endpoint.label} accepted {path.lstrip('/')} and closed the stream before "
            f"sending anything{how}. The server runs; servers do this when {size}up to "
            f"{body.get('max_tokens')} new tokens do not fit their context. Check "
            f"{CONTEXT_SETTINGS}, and the server's log.",
            200,
            str(error or "empty stream"),
        )

    def _stream_error(self, path: str, error: Any) -> ModelUnavailable:
        detail = error_detail(error) or "no error text"
        code = error.get("code") if isinstance(error, dict) else None
        where = f"{self.endpoint.label} stopped {path.lstrip('/')}: {_sentence(detail)}"
        if code == "timeout":
            return ModelTimeout(where)
        if _is_context_overflow(json.dumps(error)):
            where += f" The prompt does not fit the server's context: check {CONTEXT_SETTINGS}."
        return ModelRequestError(where, 500, detail)


def _usage(body: dict[str, Any]) -> Usage:
    details = body.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(body.get("prompt_tokens") or 0),
        completion_tokens=int(body.get("completion_tokens") or 0),
        reused_tokens=int(details.get("cached_tokens") or 0),
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _no_usage(usage: Usage) -> bool:
    return usage.prompt_tokens == 0 and usage.completion_tokens == 0


def _names_response_format(detail: str) -> bool:
    """Whether a rejection is about structured output (the server names the field or a kind)."""
    text = detail.lower()
    return any(name in text for name in ("response_format", "json_schema", "json_object"))


def _is_context_overflow(text: str) -> bool:
    text = text.lower()
    return any(
        marker in text
        for marker in (
            "context_length_exceeded",
            "exceed_context_size",
            "context length",
            "context window",
            "maximum context",
            "n_ctx",
        )
    )


def _format_for(requested: dict[str, Any] | None, allowed: str) -> dict[str, Any] | None:
    """requested, or the strictest kind the endpoint is known to take (FORMAT_KINDS)."""
    if requested is None:
        return None
    kind = requested.get("type", "")
    if kind not in FORMAT_KINDS or FORMAT_KINDS.index(kind) >= FORMAT_KINDS.index(allowed):
        return requested
    if allowed == "json_object":
        return {"type": "json_object"}
    return None
