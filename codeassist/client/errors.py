"""Errors of model calls: each names the endpoint that failed and what to do about it."""

from __future__ import annotations

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
    """The endpoint rejected the request (HTTP 4xx/5xx)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
