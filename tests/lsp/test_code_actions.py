"""Code actions and review diagnostics end to end: pytest-lsp against the real server process.

The model behind the server is an OpenAI-compatible HTTP endpoint that replays recorded answers
(the tiny checkpoint emits noise, so placement and refusal cases need recorded text); the path
through the real tiny checkpoint and daemon is in test_code_actions_tiny.py.
"""

from __future__ import annotations

import asyncio
import json
import time
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
    change,
    code_actions,
    edits_for,
    open_doc,
    read_code_actions_as_sent,
    review_file,
    rng,
    uri_of,
    versioned,
    wait_for,
)
from tests.helpers.openai_endpoint import RecordedModel
from tests.helpers.sample_code import SHAPES, USES

SERVER = ClientServerConfig(server_command=SERVER_COMMAND)
CLIENTS = ["visual-studio-code", "neovim@v0.7.0"]


@pytest.fixture
def model():
    with RecordedModel() as recorded:
        yield recorded


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_with_files(tmp_path / "repo", {"shapes.py": SHAPES, "uses.py": USES})


@pytest_lsp.fixture(config=SERVER, params=CLIENTS)
async def client(lsp_client: LanguageClient, request, repo: Path, model: RecordedModel):
    applied: list[types.WorkspaceEdit] = []
    lsp_client.applied = applied
    read_code_actions_as_sent(lsp_client)

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        applied.append(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    options = {
        "model": {"endpoint": model.url, "name": "recorded"},
        "review": {"max_tokens": 512, "budget_tokens": 4096},
    }
    lsp_client.init_result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=uris.from_fs_path(str(repo)),
            workspace_folders=[
                types.WorkspaceFolder(uri=uris.from_fs_path(str(repo)), name="repo")
            ],
            initialization_options=options,
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_actions_listed_cheaply_and_resolved_to_a_versioned_edit(client, repo, model):
    caps = client.init_result.capabilities
    assert caps.code_action_provider.resolve_provider is True
    assert caps.rename_provider.prepare_provider is True
    assert {
        "codeassist.rewrite",
        "codeassist.reviewFile",
        "codeassist.reviewSelection",
        "codeassist.reviewChanges",
    } <= set(caps.execute_command_provider.commands)
    uri = open_doc(client, repo / "shapes.py")
    listed = await code_actions(client, uri, rng(8, 4, 9, 23))
    titles = {a.title: a for a in listed}
    for title in ("Extract function", "Simplify", "Add docstring", "Add type annotations"):
        assert title in titles
        assert titles[title].edit is None  # computed only on resolve
        assert titles[title].data["version"] == 1
    assert titles["Rewrite with instruction…"].command.command == "codeassist.rewrite"
    assert titles["Review selection"].command.command == "codeassist.reviewSelection"
    assert "Review this file" in titles
    assert model.requests == []
    at_name = await code_actions(client, uri, rng(7, 6, 7, 6))
    assert any(a.title.startswith("Rename symbol") for a in at_name)

    # Picking one runs the model once and returns an edit for the version it was listed for.
    model.completion = "total = (width + height) * 2\n```\n"
    resolved = await client.code_action_resolve_async(titles["Simplify"])
    edits, version = edits_for(resolved.edit, uri)
    if versioned(client):
        assert version == 1
    assert apply_edits(SHAPES, edits) == SHAPES.replace(
        "    total = width + height\n    total = total * 2\n", "    total = (width + height) * 2\n"
    )
    (request,) = model.requests
    assert request["prompt"].endswith("<|turn>model\n<|channel>thought\n<channel|>```python\n")

    # A tab-indented CRLF file keeps its tabs and line endings (the model answers in spaces).
    crlf = SHAPES.replace("    ", "\t").replace("\n", "\r\n")
    crlf_uri = open_doc(client, repo / "crlf.py", crlf)
    model.completion = "def perimeter(width, height):\n    return 2 * (width + height)\n```\n"
    listed = await code_actions(client, crlf_uri, rng(7, 0, 10, 13))
    simplify = next(a for a in listed if a.title == "Simplify")
    resolved = await client.code_action_resolve_async(simplify)
    (edit,) = edits_for(resolved.edit, crlf_uri)[0]
    assert edit.new_text == "def perimeter(width, height):\r\n\treturn 2 * (width + height)"


@pytest.mark.asyncio
async def test_stale_version_and_broken_syntax_are_refused(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.completion = "total = (width + height) * 2\n```\n"
    listed = await code_actions(client, uri, rng(8, 4, 9, 23))
    simplify = next(a for a in listed if a.title == "Simplify")
    change(client, uri, 2, rng(0, 0, 0, 0), "# edited\n")
    with pytest.raises(JsonRpcException) as refused:
        await client.code_action_resolve_async(simplify)
    assert refused.value.code == -32801
    assert "changed" in refused.value.message
    assert model.requests == []

    # An answer that would break the file's syntax is refused, and the reply says why; the
    # editor shows a failed request's message itself, so no window message repeats it.
    model.completion = "total = (width + height * 2\n```\n"
    listed = await code_actions(client, uri, rng(9, 4, 10, 23))
    simplify = next(a for a in listed if a.title == "Simplify")
    with pytest.raises(JsonRpcException) as refused:
        await client.code_action_resolve_async(simplify)
    assert refused.value.code == -32803
    assert "syntax errors" in refused.value.message
    await asyncio.sleep(0.2)
    assert not any("syntax errors" in m.message for m in client.messages)

    # An answer cut off at max_tokens may still parse; it is refused all the same.
    model.completion = "total = (width + height) * 2\n"
    model.finish = "length"
    with pytest.raises(JsonRpcException, match="cut off at"):
        await client.code_action_resolve_async(simplify)
    model.finish = "stop"

    # With the model endpoint down, the refusal names the endpoint (no traceback, no edit).
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"model": {"endpoint": "http://127.0.0.1:9/v1", "name": "recorded"}}
        )
    )
    await asyncio.sleep(0.2)
    listed = await code_actions(client, uri, rng(9, 4, 10, 23))
    simplify = next(a for a in listed if a.title == "Simplify")
    with pytest.raises(JsonRpcException) as down:
        await client.code_action_resolve_async(simplify)
    assert down.value.code == -32803 and "127.0.0.1:9" in down.value.message
    assert "Traceback" not in down.value.message


@pytest.mark.asyncio
async def test_rename_edits_exactly_the_index_references_across_files(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(7, 6),
            new_name="circumference",
        )
    )
    shapes_edits, version = edits_for(edit, uri)
    uses_edits, _ = edits_for(edit, uri_of(repo / "uses.py"))
    if versioned(client):
        assert version == 1
    assert apply_edits(SHAPES, shapes_edits) == SHAPES.replace("def perimeter", "def circumference")
    assert apply_edits(USES, uses_edits) == USES.replace("perimeter", "circumference")
    assert model.requests == []

    # The code action asks the model for a name only; where to edit still comes from the index.
    model.completion = "circumference\n"
    listed = await code_actions(client, uri, rng(7, 6, 7, 6))
    action = next(a for a in listed if a.title.startswith("Rename symbol"))
    resolved = await client.code_action_resolve_async(action)
    assert resolved.title == "Rename 'perimeter' to 'circumference'"
    if versioned(client):  # VS Code previews a model-chosen name before applying it
        (annotation,) = resolved.edit.change_annotations.values()
        assert annotation.needs_confirmation and "circumference" in annotation.label
    assert apply_edits(SHAPES, edits_for(resolved.edit, uri)[0]) == apply_edits(
        SHAPES, shapes_edits
    )
    uses_again = edits_for(resolved.edit, uri_of(repo / "uses.py"))[0]
    assert apply_edits(USES, uses_again) == USES.replace("perimeter", "circumference")
    assert len(model.requests) == 1


@pytest.mark.asyncio
async def test_rewrite_command_applies_its_edit_through_the_client(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.completion = "def area(width, height):\n    return abs(width * height)\n```\n"
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="codeassist.rewrite",
            arguments=[uri, rng(3, 0, 4, 10), "never return a negative area"],
        )
    )
    assert result == {"applied": True, "failureReason": None}
    (edit,) = client.applied
    edits, _ = edits_for(edit, uri)
    assert apply_edits(SHAPES, edits) == SHAPES.replace("width * height", "abs(width * height)")
    assert "never return a negative area" in model.requests[0]["prompt"]
    # Without an instruction nothing runs, and the user is told what is missing.
    with pytest.raises(JsonRpcException, match="needs an instruction"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="codeassist.rewrite", arguments=[uri, rng(3, 0, 4, 10)]
            )
        )
    assert len(model.requests) == 1


FINDINGS = {
    "findings": [
        {
            "path": "shapes.py",
            "line": 9,
            "end_line": 10,
            "severity": "warning",
            "category": "style",
            "message": "Compute the perimeter in one expression.",
            "code": "total = width + height",
            "suggestion": "    return (width + height) * 2\n",
        },
        {
            "path": "shapes.py",
            "line": 5,
            "end_line": 5,
            "severity": "error",
            "category": "correctness",
            "message": "Negative sizes give a negative area.",
            "code": "return width * height",
        },
    ]
}


@pytest.mark.asyncio
async def test_review_diagnostics_placed_fixed_and_following_edits(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.answers = [json.dumps(FINDINGS)]
    result = await review_file(client, uri)
    assert result["findings"] == 2
    await wait_for(lambda: len(client.diagnostics.get(uri, [])) == 2)
    by_code = {d.code: d for d in client.diagnostics[uri]}
    style, bug = by_code["style"], by_code["correctness"]
    assert (style.range.start.line, style.range.end.line) == (8, 9)
    assert (bug.range.start.line, bug.severity) == (4, types.DiagnosticSeverity.Error)
    assert style.source == "codeassist" and style.severity == types.DiagnosticSeverity.Warning
    assert model.requests[0]["messages"][0]["content"].startswith("<|think|>") or any(
        "think" in json.dumps(r) for r in model.requests
    )

    # The quick fix of a finding with a suggestion replaces its lines by the suggestion.
    listed = await code_actions(client, uri, style.range, [style])
    (fix,) = [a for a in listed if a.kind == types.CodeActionKind.QuickFix]
    fix_edits, version = edits_for(fix.edit, uri)
    if versioned(client):
        assert version == 1
    assert apply_edits(SHAPES, fix_edits).endswith(
        "def perimeter(width, height):\n    return (width + height) * 2\n    return total\n"
    )

    # A client that drops the diagnostic's data still gets the fix (matched by message/line).
    bare = types.Diagnostic(range=style.range, message=style.message, source="codeassist")
    listed = await code_actions(client, uri, style.range, [bare])
    assert [a.kind for a in listed].count(types.CodeActionKind.QuickFix) == 1

    # Two lines typed at the top move both diagnostics down...
    change(client, uri, 2, rng(0, 0, 0, 0), "import math\n\n")
    await wait_for(lambda: {d.range.start.line for d in client.diagnostics[uri]} == {6, 10})
    # ...and typing inside the flagged line clears that one only.
    change(client, uri, 3, rng(6, 24, 6, 24), " + 0")
    await wait_for(lambda: [d.code for d in client.diagnostics[uri]] == ["style"])
    # Applying the (re-listed) quick fix changes the text under the finding: it goes too.
    style = client.diagnostics[uri][0]
    listed = await code_actions(client, uri, style.range, [style])
    (fix,) = [a for a in listed if a.kind == types.CodeActionKind.QuickFix]
    fix_edits, version = edits_for(fix.edit, uri)
    if versioned(client):
        assert version == 3
    for n, edit in enumerate(fix_edits):
        change(client, uri, 4 + n, edit.range, edit.new_text)
    await wait_for(lambda: len(client.diagnostics[uri]) == 0)


@pytest.mark.asyncio
async def test_review_selection_then_uncommitted_changes_replace_the_diagnostics(
    client, repo, model
):
    uri = open_doc(client, repo / "shapes.py")
    model.answers = [json.dumps(FINDINGS)]
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="codeassist.reviewSelection", arguments=[uri, rng(3, 0, 5, 0)]
        )
    )
    assert result["findings"] == 1  # the finding outside the selection is dropped
    await wait_for(lambda: [d.code for d in client.diagnostics.get(uri, [])] == ["correctness"])

    # Uncommitted work: an unsaved edit in the open buffer and a saved one on disk.
    change(client, uri, 2, rng(9, 21, 9, 21), "  # double")
    (repo / "uses.py").write_text(USES + "print(perimeter(3, 4))\n")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codeassist.reviewChanges", arguments=[])
    )
    prompt = json.dumps(model.requests[-1]["messages"])
    assert "uses.py" in prompt and "# double" in prompt
    assert result["findings"] == 1  # only the finding on changed lines is kept...
    # ...and it replaces the selection review's diagnostic.
    await wait_for(lambda: [d.code for d in client.diagnostics.get(uri, [])] == ["style"])


@pytest.mark.asyncio
async def test_findings_of_a_review_land_right_when_the_user_typed_meanwhile(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.answers = [json.dumps(FINDINGS)]
    model.slow = 15
    task = asyncio.ensure_future(review_file(client, uri))
    await wait_for(lambda: model.requests)
    change(client, uri, 2, rng(0, 0, 0, 0), "import math\n\n")  # typed while the model thinks
    assert (await task)["findings"] == 2
    await wait_for(lambda: len(client.diagnostics.get(uri, [])) == 2)
    assert {d.code: d.range.start.line for d in client.diagnostics[uri]} == {
        "style": 10,
        "correctness": 6,
    }


@pytest.mark.asyncio
async def test_review_is_cancelled_through_work_done_progress(client, repo, model):
    uri = open_doc(client, repo / "shapes.py")
    model.slow = 300
    model.answers = [json.dumps(FINDINGS)]
    task = asyncio.ensure_future(review_file(client, uri))
    await wait_for(
        lambda: any(
            reports
            for reports in client.progress_reports.values()
            if any(
                isinstance(r, types.WorkDoneProgressBegin) and r.title.startswith("Reviewing")
                for r in reports
            )
        )
    )
    token = next(
        t
        for t, reports in client.progress_reports.items()
        if any(isinstance(r, types.WorkDoneProgressBegin) and r.cancellable for r in reports)
    )
    await wait_for(lambda: model.requests)  # the model is generating
    await asyncio.sleep(0.3)
    started = time.monotonic()
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(task, timeout=15)
    assert result == {"cancelled": True, "findings": 0, "skipped": []}
    assert time.monotonic() - started < 10
    await wait_for(
        lambda: isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    )
    assert client.progress_reports[token][-1].message == "cancelled"
    assert not client.diagnostics.get(uri)
    await wait_for(model.disconnected.is_set, timeout=10)

    # A refactor being computed stops generating when the client sends $/cancelRequest.
    model.disconnected.clear()
    listed = await code_actions(client, uri, rng(8, 4, 9, 23))
    simplify = next(a for a in listed if a.title == "Simplify")
    asked = len(model.requests)
    client.protocol.send_request("codeAction/resolve", simplify, msg_id="resolve-to-cancel")
    await wait_for(lambda: len(model.requests) > asked)
    client.protocol.notify("$/cancelRequest", types.CancelParams(id="resolve-to-cancel"))
    await wait_for(model.disconnected.is_set, timeout=10)
    assert await code_actions(client, uri, rng(8, 4, 9, 23))  # and the server goes on serving
