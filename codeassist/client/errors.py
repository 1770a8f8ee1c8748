"""Errors of model calls: each names the endpoint that failed and what to do about it."""

from __future__ import annotations

from typing import Any

from codeassist.errors import UserError


class ModelUnavailable(UserError):
    """The model endpoint is down, unreachable, or answered with an error."""


class ModelTimeout(ModelUnavailable):
    """The endpoint did not finish within the call's timeout."""


class ModelBusy(ModelUnavailable):
    """The endpoint's queue is full (HTTP 503); retry_after seconds is its hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelRequestError(ModelUnavailable):
    """The endpoint rejected the request (HTTP 4xx/5xx); detail is the server's own words."""

    def __init__(self, message: str, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class ModelStreamClosed(ModelRequestError):
    """The endpoint accepted the request (HTTP 200), then closed the stream without an answer."""


def error_detail(payload: Any) -> str:
    """The message inside an error body, whichever shape the server uses (pure).

    OpenAI and llama.cpp: {"error": {"message": ...}}; Ollama: {"error": "..."};
    vLLM: {"message": ...}; FastAPI: {"detail": "..."} or a list of validation errors.
    """
    if isinstance(payload, str):
        return payload.strip()
    if isinstance(payload, list):
        return "; ".join(filter(None, (error_detail(item) for item in payload)))
    if not isinstance(payload, dict):
        return "" if payload is None else str(payload)
    for key in ("error", "detail", "message", "msg"):
        text = error_detail(payload.get(key))
        if text:
            if key == "msg" and isinstance(payload.get("loc"), list):  # FastAPI validation
                return ".".join(str(part) for part in payload["loc"]) + f": {text}"
            return text
    return ""
