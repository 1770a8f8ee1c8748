"""The editor path on the real tiny checkpoint through the real daemon.

The tiny model writes random text, so what can be asserted is the contract: a refactor ends in a
syntactically valid, versioned edit or a clear refusal; a review ends in diagnostics or a clear
"no valid findings" message; never an internal error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codeassist.tasks.syntax_check import error_lines, grammar_for_path
from tests.helpers.git_repo import GitRepo
from tests.helpers.lsp_client import (
    SERVER_COMMAND,
    apply_edits,
    code_actions,
    edits_for,
    open_doc,
    rng,
    wait_for,
)
from tests.helpers.sample_code import SHAPES

SERVER = ClientServerConfig(server_command=SERVER_COMMAND)
CLEAR_REFUSALS = (
    "syntax errors",
    "did not return the code",
    "no change",
    "cut off at",
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = GitRepo(tmp_path / "repo").root
    (root / "shapes.py").write_text(SHAPES)
    return root


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, repo: Path, daemon_settings):
    s = daemon_settings
    options = {
        "model": {"endpoint": "daemon", "path": s.model.path},
        "daemon": {"socket": s.daemon.socket},
        "engine": {"quantize": s.engine.quantize, "device": s.engine.device},
        "refactor": {"max_tokens": 24, "budget_tokens": 256},
        "review": {"max_tokens": 16, "budget_tokens": 1024},
    }
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uris.from_fs_path(str(repo)),
            initialization_options=options,
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_refactor_on_the_tiny_model_gives_a_valid_edit_or_a_clear_refusal(client, repo):
    uri = open_doc(client, repo / "shapes.py")
    listed = await code_actions(client, uri, rng(8, 4, 9, 23))
    simplify = next(a for a in listed if a.title == "Simplify")
    try:
        resolved = await client.code_action_resolve_async(simplify)
    except JsonRpcException as refusal:
        assert refusal.code == -32803, refusal.message
        assert any(words in refusal.message for words in CLEAR_REFUSALS), refusal.message
        assert "larger than the answer" not in refusal.message  # the model did run
        return
    edits, version = edits_for(resolved.edit, uri)
    assert version == 1 and edits
    after = apply_edits(SHAPES, edits)
    assert after != SHAPES
    assert error_lines(after, grammar_for_path("shapes.py")) == []


@pytest.mark.asyncio
async def test_review_on_the_tiny_model_ends_in_diagnostics_or_a_clear_message(client, repo):
    uri = open_doc(client, repo / "shapes.py")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codeassist.reviewFile", arguments=[uri])
    )
    assert result["cancelled"] is False
    if result["findings"]:
        await wait_for(lambda: len(client.diagnostics.get(uri, [])) == result["findings"])
        assert all(d.source == "codeassist" for d in client.diagnostics[uri])
    else:
        await wait_for(
            lambda: any("did not return valid findings" in m.message for m in client.messages)
        )
    ends = [
        reports[-1]
        for reports in client.progress_reports.values()
        if reports
        and isinstance(reports[0], types.WorkDoneProgressBegin)
        and reports[0].title.startswith("Reviewing")
    ]
    assert ends and isinstance(ends[0], types.WorkDoneProgressEnd)
