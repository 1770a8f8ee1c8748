"""What the user sees of the server's state: one message per problem, progress, status."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)

STATUS_NOTIFICATION = "codeassist/status"  # the VS Code extension's status bar reads it


class Status:
    """Messages to the editor: each problem shown once until it is cleared, never a storm."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self._shown: set[str] = set()

    def show_once(self, key: str, message: str, kind: types.MessageType) -> bool:
        """window/showMessage unless the problem `key` is already shown; True if sent."""
        if key in self._shown:
            return False
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

    def state(self, state: str, message: str = "") -> None:
        """The `codeassist/status` notification (indexing, ready, model_unavailable, ...)."""
        self.server.protocol.notify(STATUS_NOTIFICATION, {"state": state, "message": message})


def _supports_progress(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


class Progress:
    """One server-initiated $/progress (silently nothing if the client cannot show it)."""

    def __init__(self, server: LanguageServer, title: str) -> None:
        self.server = server
        self.title = title
        self.token = f"codeassist-{uuid.uuid4().hex[:12]}"
        self._active = False

    async def begin(self, message: str = "") -> None:
        if not _supports_progress(self.server):
            return
        try:
            await self.server.work_done_progress.create_async(self.token)
        except Exception as error:  # the client refused: no progress, not a failure
            logger.info("progress not created: %s", error)
            return
        self._active = True
        self.server.work_done_progress.begin(
            self.token,
            types.WorkDoneProgressBegin(title=self.title, message=message, percentage=0),
        )

    def report(self, message: str, percentage: int | None = None) -> None:
        if self._active:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str = "") -> None:
        if self._active:
            self._active = False
            self.server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )


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
