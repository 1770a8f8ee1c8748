"""The codeassist language server: one pygls server, features registered from their modules.

A feature module exposes `register(server)` and adds its handlers with `@server.feature`;
session state (documents, roots, settings, indexes, model clients, findings) is
`server.session` (lsp/session.py). Add a feature by appending its register function to
FEATURES. The read loop is lsp/jsonrpc's, not pygls': it answers every malformed message.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from codeassist import __version__
from lsp import code_actions, completion, documents
from lsp.jsonrpc import stream
from lsp.protocol import CodeassistProtocol
from lsp.refactor import feature as refactor_feature
from lsp.review import feature as review_feature
from lsp.session import Session

logger = logging.getLogger(__name__)

FEATURES: list[Callable[[Any], None]] = [
    documents.register,  # lifecycle first: features subscribe to its events
    completion.register,
    refactor_feature.register,
    review_feature.register,
    code_actions.register,  # last: it lists the actions the features above provide
]


class CodeassistServer(LanguageServer):
    """A pygls server with the session every feature uses."""

    protocol: CodeassistProtocol

    def __init__(self) -> None:
        super().__init__(
            "codeassist",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=CodeassistProtocol,
        )
        self.session = Session(self)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside a request: logged, and shown once per kind (never a storm)."""
        if getattr(source, "__name__", "") == "FeatureRequestError":
            logger.info("request failed: %s", error)
            return  # the request's error reply already says it
        logger.error("server error (%s): %s", getattr(source, "__name__", source), error)
        kind = type(error).__name__
        self.session.status.show_once(
            f"server-error:{kind}",
            f"codeassist: an internal error ({kind}) while handling a notification; the details "
            f"are in the codeassist log.",
            types.MessageType.Error,
        )

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve the client on stdin/stdout until it exits; exit status 1 without shutdown."""
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

        async def run() -> int:
            return await stream.serve(self.protocol, stream.stdin_chunks(stdin or sys.stdin.buffer))

        code = self._run(run)
        if code:
            raise SystemExit(code)

    def start_tcp(self, host: str, port: int) -> None:
        """Serve one client at a time on host:port (for debugging)."""

        async def run() -> int:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
                self.protocol.set_writer(writer)  # type: ignore[arg-type]
                code = await stream.serve(self.protocol, stream.stream_chunks(reader))
                writer.close()
                if not done.done():
                    done.set_result(code)

            server = await asyncio.start_server(connection, host, port)
            logger.info("serving on %s:%s", host, port)
            async with server:
                return await done

        self._run(run)

    def _run(self, main: Callable[[], Any]) -> int:
        try:
            return asyncio.run(main())
        except BrokenPipeError:
            logger.error("the client is gone (broken pipe); the server stops")
            return 1
        except KeyboardInterrupt:
            return 1
        finally:
            self.session.shutdown()


def create_server() -> CodeassistServer:
    """A server with every feature registered."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # pygls logs every message it sends (document text, settings) at INFO: code and
        # secrets stay out of the log unless the user asks for a debug log (--verbose).
        logging.getLogger("pygls").setLevel(logging.WARNING)
    server = CodeassistServer()
    for register in FEATURES:
        register(server)
    return server
