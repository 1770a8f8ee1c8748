"""Start the real `codeassist lsp` process and drive it with pytest-lsp's client."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

SERVER = [sys.executable, "-m", "codeassist.cli.main", "lsp"]

# Clients whose captured capabilities pytest-lsp ships: VS Code (UTF-16 only) and the
# latest Neovim (offers UTF-8 first).
CLIENTS = ["visual-studio-code", "neovim"]

# Small prompts and answers: the tiny model on 2 shared CPU cores is slow.
FAST_COMPLETION = {"completion": {"budget_tokens": 160, "max_tokens": 4, "temperature": 0.0}}

APP_PY = '''import os


def size(path):
    """Bytes in a file."""
    return os.path.getsize(path)


def describe(path):
    total = size(path)
    return f"{path}: {total}"
'''

UTIL_PY = """def helper(value):
    return value * 2


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small repository: two Python files."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / ".git").mkdir()  # marks the repository root; no git needed
    (root / "pkg" / "app.py").write_text(APP_PY)
    (root / "pkg" / "util.py").write_text(UTIL_PY)
    return root


def uri_of(path: Path) -> str:
    return from_fs_path(str(path))


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEASSIST_")}
    env.update(extra or {})
    return env


def daemon_env(settings: Any) -> dict[str, str]:
    """Environment that points a server at the shared test daemon."""
    return {
        "CODEASSIST_MODEL_PATH": settings.model.path,
        "CODEASSIST_DAEMON_SOCKET": settings.daemon.socket,
        "CODEASSIST_MODEL_ENDPOINT": "daemon",
    }


@pytest_asyncio.fixture
async def start_server() -> Any:
    """Factory: start `codeassist lsp`, initialize it as a given client, yield the client."""
    started: list[LanguageClient] = []

    async def start(
        root: Path,
        *,
        client: str = "visual-studio-code",
        options: Any = None,
        env: dict[str, str] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> tuple[LanguageClient, types.InitializeResult]:
        lsp_client = make_test_lsp_client()
        await lsp_client.start_io(*SERVER, env=server_env(env))
        started.append(lsp_client)
        result = await lsp_client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or client_capabilities(client),
                root_uri=uri_of(root),
                workspace_folders=[types.WorkspaceFolder(uri=uri_of(root), name=root.name)],
                initialization_options=options,
            )
        )
        return lsp_client, result

    yield start
    for lsp_client in started:
        try:
            process = lsp_client._server  # noqa: SLF001
            if process is not None and process.returncode is None:  # a test may have ended it
                await asyncio.wait_for(lsp_client.shutdown_session(), 20)
        finally:
            await lsp_client.stop()


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
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


def type_text(client: LanguageClient, uri: str, version: int, line: int, char: int, text: str):
    """An incremental change inserting text at (line, char)."""
    at = types.Position(line=line, character=char)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text
                )
            ],
        )
    )


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


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send params as raw JSON (the typed client would refuse malformed ones)."""
    protocol = client.protocol
    msg_id = f"raw-{id(params)}"
    future = asyncio.get_running_loop().create_future()
    protocol._request_futures[msg_id] = future
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(future, 30)


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


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
