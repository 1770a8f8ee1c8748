"""What may reach a prompt from the editor, and what the user sees while it runs.

Secrets, files outside the workspace folders (symlinks resolved) and non-file URIs never reach
the model: reviewFile refuses them by name, reviewChanges names them as not reviewed. A local
variable is renamed by the syntax tree without the model, and a refusal is the request's one
error. The server says what it is doing with `codeassist/status`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.helpers.git_repo import repo_with_files
from tests.helpers.lsp_client import (
    SERVER_COMMAND,
    apply_edits,
    edits_for,
    open_doc,
    plain,
    read_code_actions_as_sent,
    review_file,
)
from tests.helpers.openai_endpoint import RecordedModel
from tests.helpers.sample_code import SHAPES

SECRET = "API_KEY=sk-do-not-send\n"


@pytest.fixture
def model():
    with RecordedModel(json.dumps({"findings": []})) as recorded:
        yield recorded


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = repo_with_files(tmp_path / "repo", {"shapes.py": SHAPES})
    (root / ".env").write_text(SECRET)
    (tmp_path / "elsewhere.py").write_text("PASSWORD = 'outside'\n")
    (root / "linked.py").symlink_to(tmp_path / "elsewhere.py")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, repo: Path, model: RecordedModel):
    lsp_client.statuses = statuses = []
    read_code_actions_as_sent(lsp_client)

    @lsp_client.feature("codeassist/status")
    def status(params):
        statuses.append(plain(params))

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uris.from_fs_path(str(repo)),
            workspace_folders=[types.WorkspaceFolder(uri=uris.from_fs_path(str(repo)), name="r")],
            initialization_options={
                "model": {"endpoint": model.url, "name": "recorded"},
                "review": {"max_tokens": 256, "budget_tokens": 4096},
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


def prompts(model: RecordedModel) -> str:
    return json.dumps(model.requests)


@pytest.mark.asyncio
async def test_secrets_outside_files_and_other_schemes_never_reach_the_model(client, repo, model):
    secret = uris.from_fs_path(str(repo / ".env"))
    for uri, reason in [
        (secret, "secret file"),
        (uris.from_fs_path(str(repo.parent / "elsewhere.py")), "outside the workspace"),
        (uris.from_fs_path(str(repo / "linked.py")), "outside the workspace"),  # a link out
        ("file:///etc/hostname", "outside the workspace"),
        ("untitled:Untitled-1", "not a file on disk"),
    ]:
        with pytest.raises(JsonRpcException) as refused:
            await review_file(client, uri)
        assert refused.value.code == -32803
        assert "not reviewed" in refused.value.message and reason in refused.value.message
    assert model.requests == []

    # Uncommitted work with an untracked secret and a link out: reviewed without them, and the
    # result names them.
    (repo / "shapes.py").write_text(SHAPES + "\n\ndef volume(a, b, c):\n    return a * b * c\n")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codeassist.reviewChanges", arguments=[])
    )
    assert result["cancelled"] is False
    assert "not reviewed: .env (secret file)" in result["skipped"]
    assert any("linked.py" in s and "outside" in s for s in result["skipped"])
    assert "volume" in prompts(model)
    assert "sk-do-not-send" not in prompts(model) and "PASSWORD" not in prompts(model)
    assert any("not reviewed: .env" in m.message for m in client.messages)

    # An open secret gets no completion and no refactor offers either.
    open_doc(client, repo / ".env", SECRET)
    listed = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=secret),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 7)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not [a for a in listed or [] if a.kind and a.kind.startswith("refactor")]
    asked = len(model.requests)
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=secret),
            position=types.Position(0, 7),
        )
    )
    assert list(items.items) == [] and len(model.requests) == asked


@pytest.mark.asyncio
async def test_local_rename_by_the_syntax_tree_and_a_refusal_shown_once(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(9, 4),  # `total` in perimeter()
            new_name="doubled",
        )
    )
    edits, version = edits_for(edit, uri)
    assert version == 1
    assert apply_edits(SHAPES, edits) == SHAPES.replace(
        "    total = width + height\n    total = total * 2\n    return total\n",
        "    doubled = width + height\n    doubled = doubled * 2\n    return doubled\n",
    )
    assert model.requests == []

    for new_name, words in [("", "empty"), ("2x", "not a valid identifier")]:
        with pytest.raises(JsonRpcException, match=words) as refused:
            await client.text_document_rename_async(
                types.RenameParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(9, 4),
                    new_name=new_name,
                )
            )
        assert refused.value.code == -32803
    # The editor shows the failed request's message; the server adds no second copy.
    assert not [m for m in client.messages if "identifier" in m.message or "empty" in m.message]


@pytest.mark.asyncio
async def test_status_says_generating_during_a_review_then_ready(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.slow = 3
    await review_file(client, uri)
    states = [(s["state"], s.get("task")) for s in client.statuses]
    assert ("generating", "review") in states
    assert states[-1][0] == "ready"
    generating = [s for s in client.statuses if s["state"] == "generating"]
    assert all(set(s) <= {"state", "message", "percentage", "task"} for s in client.statuses)
    assert any("Reviewing shapes.py" in s["message"] for s in generating)
