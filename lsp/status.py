"""What the user sees of the server's state: one message per problem, progress, status."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)

STATUS_NOTIFICATION = "codeassist/status"  # the editor plug-ins' status bar / echo line read it
STATES = (
    "starting",
    "indexing",
    "model_loading",
    "generating",
    "ready",
    "model_unavailable",
    "error",
)


def status_params(
    state: str, message: str, percentage: int | None = None, task: str | None = None
) -> dict[str, Any]:
    """The `codeassist/status` params (board contract 4): message is the full human text."""
    if state not in STATES:
        raise ValueError(f"unknown status state {state!r}")
    params: dict[str, Any] = {"state": state, "message": message}
    if percentage is not None:
        params["percentage"] = max(0, min(100, int(percentage)))
    if task is not None:
        params["task"] = task
    return params


class Status:
    """Messages to the editor: each problem shown once until it is cleared, never a storm."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self._shown: set[str] = set()
        self.last: dict[str, Any] = {}  # the last codeassist/status params sent
        self._idle: tuple[str, str, int | None] = ("starting", "starting", None)
        self._busy: list[list[str]] = []  # [task, message] of each model call running

    def show_once(self, key: str, message: str, kind: types.MessageType) -> bool:
        """window/showMessage unless the problem `key` is already shown; True if sent."""
        if key in self._shown:
            return False
        if len(self._shown) > 1000:  # problems keyed by their text: never grow without bound
            self._shown.clear()
        self._shown.add(key)
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))
        return True

    def clear(self, key: str) -> None:
        """The problem is gone: show it again if it comes back."""
        self._shown.discard(key)

    def is_shown(self, key: str) -> bool:
        return key in self._shown

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        logger.info(message)
        self.server.window_log_message(types.LogMessageParams(type=kind, message=message))

    def state(
        self, state: str, message: str, percentage: int | None = None, task: str | None = None
    ) -> None:
        """Send the `codeassist/status` notification (unless it says nothing new).

        A state other than "generating" is what the server returns to when no model call runs.
        """
        if state != "generating":
            self._idle = (state, message, percentage)
        params = status_params(state, message, percentage, task)
        if params == self.last:
            return
        self.last = params
        self.server.protocol.notify(STATUS_NOTIFICATION, params)

    @contextlib.contextmanager
    def generating(self, task: str, message: str) -> Iterator[Callable[[str], None]]:
        """State "generating" while the block runs (model_loading, while it lasts, wins).

        Yields a function that replaces the message (say, with a review's progress).
        """
        entry = [task, message]
        self._busy.append(entry)
        self._show_current()

        def say(text: str) -> None:
            entry[1] = text
            self._show_current()

        try:
            yield say
        finally:
            self._busy.remove(entry)
            self._show_current()

    def _show_current(self) -> None:
        state, message, percentage = self._idle
        if self._busy and state != "model_loading":
            task, doing = self._busy[-1]
            self.state("generating", doing, task=task)
        else:
            self.state(state, message, percentage)


def _supports_progress(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


class Progress:
    """One $/progress: on the client's workDoneToken when the request carried one, else one
    the server creates (silently nothing if the client cannot show progress).

    cancellable progress calls on_cancel when the user cancels it in the editor.
    """

    def __init__(
        self,
        server: LanguageServer,
        title: str,
        *,
        cancellable: bool = False,
        token: str | int | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        self.title = title
        self.cancellable = cancellable
        self.client_token = token is not None
        self.token = token if token is not None else f"codeassist-{uuid.uuid4().hex[:12]}"
        self.on_cancel = on_cancel
        self._active = False

    async def begin(self, message: str = "", percentage: int | None = 0) -> None:
        progress = self.server.work_done_progress
        if not self.client_token:
            if not _supports_progress(self.server):
                return
            try:
                await progress.create_async(self.token)
            except Exception as error:  # the client refused: no progress, not a failure
                logger.info("progress not created: %s", error)
                return
        self._active = True
        progress.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title=self.title,
                message=message,
                percentage=percentage,
                cancellable=self.cancellable or None,
            ),
        )
        if self.on_cancel is not None:
            on_cancel = self.on_cancel
            progress.tokens[self.token].add_done_callback(
                lambda future: on_cancel() if future.cancelled() else None
            )

    def report(self, message: str, percentage: int | None = None) -> None:
        if self._active:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str = "") -> None:
        if self._active:
            self._active = False
            progress = self.server.work_done_progress
            progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            # pygls keeps a future per token forever; a long session runs many reviews.
            future = progress.tokens.pop(self.token, None)
            if future is not None and not future.done():
                future.set_result(None)


def describe_progress(*args: Any, **kwargs: Any) -> tuple[str, int | None]:
    """A message and percentage from whatever a retrieval progress callback passes."""
    values = list(args) + list(kwargs.values())
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    words = [str(v) for v in values if isinstance(v, str)]
    if len(numbers) >= 2 and numbers[1]:
        done, total = numbers[0], numbers[1]
        percent = int(max(0, min(100, 100 * done / total)))
        return (" ".join(words) + f" {int(done)}/{int(total)} files").strip(), percent
    return " ".join(words) or "indexing", None
