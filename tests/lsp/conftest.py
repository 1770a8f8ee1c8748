"""Start the real `codeassist lsp` process and drive it with pytest-lsp's client
(tests/helpers/lsp_client.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.helpers.environment import clean_env
from tests.helpers.lsp_client import start_language_server, stop_language_server
from tests.helpers.sample_code import APP_PY, UTIL_PY


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small repository: two Python files."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / ".git").mkdir()  # marks the repository root; no git needed
    (root / "pkg" / "app.py").write_text(APP_PY)
    (root / "pkg" / "util.py").write_text(UTIL_PY)
    return root


@pytest_asyncio.fixture
async def start_server() -> Any:
    """Factory: start `codeassist lsp` (its environment: this one without CODEASSIST_*, plus
    env), initialize it as a given client; (client, InitializeResult). Stopped at teardown."""
    started: list[LanguageClient] = []

    async def start(
        root: Path,
        *,
        client: str = "visual-studio-code",
        options: Any = None,
        env: dict[str, str] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> tuple[LanguageClient, types.InitializeResult]:
        lsp_client, result = await start_language_server(
            root, client=client, options=options, env=clean_env(env), capabilities=capabilities
        )
        started.append(lsp_client)
        return lsp_client, result

    yield start
    for lsp_client in started:
        await stop_language_server(lsp_client)
