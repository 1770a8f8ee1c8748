"""pygls' LSP protocol with the rules a client can rely on: every request answered once.

- before `initialize`, a request gets -32002 (ServerNotInitialized); after `shutdown`, -32600;
- params that do not fit the method's type get -32602 naming the field (pygls would drop the
  request and the client would wait forever);
- an error reply never carries a Python traceback or an install path: those go to the log;
- `workspace/executeCommand` runs the command as the request itself, so `$/cancelRequest`
  stops it, and a client's `workDoneToken` reaches the command (command_work_done_token).

Messages arrive already checked as JSON-RPC by lsp/jsonrpc (framing and message shape).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from lsp.errors import refused
from lsp.jsonrpc.messages import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    SERVER_NOT_INITIALIZED,
    Id,
    Reply,
)

logger = logging.getLogger(__name__)

_WORK_DONE_TOKEN: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "codeassist_work_done_token", default=None
)
_BEFORE_INITIALIZE = frozenset({types.INITIALIZE, types.EXIT})


def command_work_done_token() -> Any:
    """The workDoneToken of the workspace/executeCommand request being handled, if any."""
    return _WORK_DONE_TOKEN.get()


def structure_argument(server: Any, raw: Any, kind: type, what: str) -> Any:
    """A command argument as an lsprotocol type, or a refusal naming what it should be."""
    try:
        return server.protocol._converter.structure(raw, kind)  # noqa: SLF001
    except Exception:
        shown = repr(raw)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        raise refused(f"{what} must be an LSP {kind.__name__}, got {shown}.") from None


def _describe_structure_error(error: BaseException) -> str:
    cause = error.__cause__ or error
    if isinstance(cause, cattrs.ClassValidationError | cattrs.IterableValidationError):
        problems = [p.replace("@ $.", "@ ") for p in cattrs.transform_error(cause, path="$")]
        return "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
    return f"{type(cause).__name__}"


class CodeassistProtocol(LanguageServerProtocol):
    """The server's protocol: lifecycle rules, clean error replies, cancellable commands."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialize_received = False
        self.exit_code: int | None = None  # set when the client sent `exit`

    # -- receiving -----------------------------------------------------------------------
    def receive(self, message: dict[str, Any]) -> None:
        """Handle one message that passed the JSON-RPC checks."""
        method = message.get("method")
        is_request = "id" in message and method is not None
        if method == types.EXIT:
            self.exit_code = 0 if self._shutdown else 1
            logger.info("exit received (after shutdown: %s)", self._shutdown)
            return
        if method is not None:
            problem = self._lifecycle_problem(method)
            if problem is not None:
                if is_request:
                    self.reply(Reply(message["id"], *problem))
                else:
                    logger.info("notification %s dropped: %s", method, problem[1])
                return
            if method == types.INITIALIZE:
                self.initialize_received = True
        try:  # lsp/jsonrpc parsed the body: only the top-level message needs structuring
            structured = self.structure_message(message)
        except Exception as error:
            reason = _describe_structure_error(error)
            if is_request:
                self.reply(
                    Reply(
                        message["id"],
                        INVALID_PARAMS,
                        f"invalid params for {method}: {reason}; send them as the LSP "
                        f"specification describes",
                    )
                )
            else:
                logger.warning("message dropped, its params do not fit %s: %s", method, reason)
            return
        self.handle_message(structured)

    def _lifecycle_problem(self, method: str) -> tuple[int, str] | None:
        if not self.initialize_received and method not in _BEFORE_INITIALIZE:
            return (
                SERVER_NOT_INITIALIZED,
                f"the server is not initialized yet; send initialize before {method}",
            )
        if method == types.INITIALIZE and self.initialize_received:
            return INVALID_REQUEST, "initialize may be sent only once per session"
        if self._shutdown:
            return INVALID_REQUEST, f"the server is shutting down; {method} was not run"
        return None

    # -- answering -----------------------------------------------------------------------
    def reply(self, reply: Reply) -> None:
        """Send an error reply (id None: JSON null)."""
        error = types.ResponseError(code=reply.code, message=reply.message)
        self._send_response(reply.id, error=error)

    def _send_response(
        self, msg_id: Id, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        if error is not None:
            error = _clean_error(error)
        super()._send_response(msg_id, result, error)  # type: ignore[arg-type]

    # -- commands ------------------------------------------------------------------------
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        """Run a command as this request (cancellable); its arguments go positionally."""
        handler = self.fm.commands.get(params.command)
        if handler is None:
            known = ", ".join(sorted(self.fm.commands))
            raise JsonRpcException(
                code=INVALID_PARAMS,
                message=f"unknown command {params.command!r}; this server runs: {known}",
            )
        arguments = list(params.arguments) if isinstance(params.arguments, list | tuple) else []
        token = _WORK_DONE_TOKEN.set(params.work_done_token)
        try:
            result = handler(*arguments)
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            _WORK_DONE_TOKEN.reset(token)


def _clean_error(error: types.ResponseError) -> types.ResponseError:
    """The error without Python internals: a traceback goes to the log, not to the client."""
    data = error.data
    if not (isinstance(data, dict) and "traceback" in data):
        return error
    logger.error(
        "internal error (%s): %s\n%s", error.code, error.message, "".join(data["traceback"])
    )
    kind = error.message.split(":", 1)[0].strip() or "an exception"
    if " " in kind or len(kind) > 60:  # not an exception's class name
        kind = "an exception"
    return types.ResponseError(
        code=error.code,
        message=(
            f"codeassist hit an internal error ({kind}); the details are in the codeassist "
            f"log (start the server with --log-file FILE to keep it)."
        ),
    )
