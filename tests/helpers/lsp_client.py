"""Driving the real `codeassist lsp` process with pytest-lsp's client: starting and stopping
it, the requests and notifications tests send, and reading its answers back."""

from __future__ import annotations

import asyncio
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from tests.helpers.waiting import wait_until_async

# The real server, as editors start it.
SERVER_COMMAND = [sys.executable, "-m", "codeassist.cli.main", "lsp"]

# Clients whose captured capabilities pytest-lsp ships: VS Code (UTF-16 only) and the
# latest Neovim (offers UTF-8 first).
CLIENTS = ["visual-studio-code", "neovim"]

# Small prompts and answers: the tiny model on 2 shared CPU cores is slow.
FAST_COMPLETION = {"completion": {"budget_tokens": 160, "max_tokens": 4, "temperature": 0.0}}


def daemon_env(settings: Any) -> dict[str, str]:
    """Environment variables that point a server at the daemon of settings (the test daemon)."""
    return {
        "CODEASSIST_MODEL_PATH": settings.model.path,
        "CODEASSIST_DAEMON_SOCKET": settings.daemon.socket,
        "CODEASSIST_MODEL_ENDPOINT": "daemon",
    }


async def start_language_server(
    root: Path,
    *,
    client: str = "visual-studio-code",
    options: Any = None,
    env: dict[str, str] | None = None,
    capabilities: types.ClientCapabilities | None = None,
    command: list[str] = SERVER_COMMAND,
) -> tuple[LanguageClient, types.InitializeResult]:
    """Start `command` (the server) with env as its whole environment and initialize it as
    `client` (a name pytest-lsp ships capabilities for) with workspace folder root."""
    lsp_client = make_test_lsp_client()
    await lsp_client.start_io(*command, env=env)
    try:
        result = await lsp_client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or client_capabilities(client),
                root_uri=uri_of(root),
                workspace_folders=[types.WorkspaceFolder(uri=uri_of(root), name=root.name)],
                initialization_options=options,
            )
        )
    except BaseException:
        await lsp_client.stop()
        raise
    return lsp_client, result


async def stop_language_server(lsp_client: LanguageClient) -> None:
    """Shut the session down (unless the server already ended) and stop the client."""
    try:
        process = lsp_client._server  # noqa: SLF001
        if process is not None and process.returncode is None:  # a test may have ended it
            await asyncio.wait_for(lsp_client.shutdown_session(), 20)
    finally:
        await lsp_client.stop()


def read_code_actions_as_sent(lsp_client: LanguageClient) -> None:
    """lsprotocol reads any object with a "command" key as a Command, so a CodeAction that
    carries a command (ours, for Rewrite and Review) would arrive mangled in this client."""
    converter = lsp_client.protocol._converter

    def command_or_action(obj, _):
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(
        typing.Union[types.Command, types.CodeAction],  # noqa: UP007 - the key lsprotocol uses
        command_or_action,
    )


# ---- what the client sends -------------------------------------------------------------------


def uri_of(path: Path) -> str:
    return from_fs_path(str(path))


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(start=types.Position(l1, c1), end=types.Position(l2, c2))


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    """didOpen of path as Python with text (the file's own text by default); its URI."""
    uri = uri_of(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=version,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri


def change(client: LanguageClient, uri: str, version: int, at: types.Range, text: str) -> None:
    """An incremental didChange replacing the range `at` by text."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=at, text=text)],
        )
    )


def type_text(client: LanguageClient, uri: str, version: int, line: int, char: int, text: str):
    """An incremental change inserting text at (line, char)."""
    change(client, uri, version, rng(line, char, line, char), text)


async def inline(client: LanguageClient, uri: str, line: int, char: int):
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=char),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )


async def complete(client: LanguageClient, uri: str, line: int, char: int):
    return await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=char),
        )
    )


async def code_actions(client: LanguageClient, uri: str, at: types.Range, diagnostics=()):
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=at,
            context=types.CodeActionContext(diagnostics=list(diagnostics)),
        )
    )


async def execute_command(client: LanguageClient, command: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


async def review_file(client: LanguageClient, uri: str) -> Any:
    """The codeassist.reviewFile command on uri."""
    return await execute_command(client, "codeassist.reviewFile", uri)


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send params as raw JSON (the typed client would refuse malformed ones)."""
    protocol = client.protocol
    msg_id = f"raw-{id(params)}"
    future = asyncio.get_running_loop().create_future()
    protocol._request_futures[msg_id] = future
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(future, 30)


# ---- reading what the server answers --------------------------------------------------------


def plain(value: Any) -> Any:
    """pygls hands custom results over as namedtuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def stats(client: LanguageClient) -> dict[str, Any]:
    """The server's codeassist/completionStats."""
    return plain(await client.protocol.send_request_async("codeassist/completionStats", {}))


async def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    """Until predicate() is true; AssertionError after timeout seconds."""
    if not await wait_until_async(predicate, timeout):
        raise AssertionError("condition not met in time")


def versioned(client: LanguageClient) -> bool:
    """Whether the client takes versioned document changes in workspace edits."""
    caps = client.capabilities.workspace
    return bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes)


def edits_for(edit: types.WorkspaceEdit, uri: str) -> tuple[list[types.TextEdit], int | None]:
    """The edits of one document and the version they are for (None: unversioned)."""
    if edit.document_changes:
        for document_change in edit.document_changes:
            if document_change.text_document.uri == uri:
                return list(document_change.edits), document_change.text_document.version
        return [], None
    return list((edit.changes or {}).get(uri, [])), None


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits to ASCII text (as an editor would)."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def at(p: types.Position) -> int:
        return offsets[p.line] + p.character

    for edit in sorted(edits, key=lambda e: (at(e.range.start), at(e.range.end)), reverse=True):
        text = text[: at(edit.range.start)] + edit.new_text + text[at(edit.range.end) :]
    return text
