"""The real server process without a model: capabilities, encodings, settings, bad input."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.helpers.lsp_client import (
    CLIENTS,
    complete,
    inline,
    open_doc,
    plain,
    raw_request,
    stats,
    uri_of,
    wait_for,
)

pytestmark = pytest.mark.asyncio

# A model endpoint nobody listens on (port 9 is "discard"; nothing serves it here).
DOWN = {"CODEASSIST_MODEL_ENDPOINT": "http://127.0.0.1:9/v1"}


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_initialize_declares_completion_and_negotiates_encoding(
    start_server, workspace, client_name
):
    client, result = await start_server(workspace, client=client_name, env=DOWN)
    caps = result.capabilities
    # pygls does not add inlineCompletionProvider by itself: the server must declare it.
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    expected = "utf-16" if client_name == "visual-studio-code" else "utf-8"
    assert caps.position_encoding == expected


async def test_indexing_reports_progress(start_server, workspace):
    client, _ = await start_server(workspace, env=DOWN)
    await wait_for(
        lambda: any(
            isinstance(value, types.WorkDoneProgressEnd)
            for reports in client.progress_reports.values()
            for value in reports
        )
    )
    (reports,) = client.progress_reports.values()
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert "indexing" in reports[0].title
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)

    # The plug-ins' reindex command rebuilds it, with progress again.
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codeassist.reindex", arguments=[])
    )
    assert plain(answer) == {"reindexed": [str(workspace)]}
    assert len(client.progress_reports) == 2


async def test_model_down_shows_one_message_then_silence(start_server, workspace):
    options = {"completion": {"debounce_ms": 0}}
    client, _ = await start_server(workspace, env=DOWN, options=options)
    uri = open_doc(client, workspace / "pkg" / "app.py")
    for _ in range(5):
        assert await inline(client, uri, 9, 4) is None
        result = await complete(client, uri, 9, 4)
        assert result.items == ()
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, errors
    assert "127.0.0.1:9" in errors[0].message
    s = await stats(client)
    # Only the first request tried the endpoint; the rest stayed quiet.
    assert s["endpoint_failures"] == 1
    assert s["outcomes"] == {"down": 10}
    assert s["errors"] == 0


async def test_bad_input_gets_empty_results_or_errors_and_server_keeps_serving(
    start_server, workspace
):
    client, _ = await start_server(workspace, env=DOWN, options={"completion": {"debounce_ms": 0}})
    unopened = uri_of(workspace / "pkg" / "util.py")
    assert await inline(client, unopened, 0, 0) is None
    assert (await complete(client, unopened, 0, 0)).items == ()

    uri = open_doc(client, workspace / "pkg" / "app.py")
    assert await inline(client, uri, 500, 0) is None  # past the last line
    # Past the line's end: clamped to it (LSP), so it goes on to the (down) model.
    assert await inline(client, uri, 3, 10_000) is None

    with pytest.raises(JsonRpcException):  # malformed params: a JSON-RPC error, not a crash
        await raw_request(
            client,
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            {"textDocument": {"uri": uri}, "position": "x", "context": {"triggerKind": 1}},
        )
    with pytest.raises(JsonRpcException):
        await raw_request(client, types.TEXT_DOCUMENT_COMPLETION, {"nonsense": 1})

    # A change to a document that was never opened: reported once, nothing breaks.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=unopened, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
        )
    )
    huge_path = workspace / "pkg" / "huge.py"
    huge = "".join(f"value_{i} = {i}  # ünïcödé 😀\n" for i in range(100_000))
    huge_uri = open_doc(client, huge_path, text=huge)
    assert await inline(client, huge_uri, 99_999, 5) is None  # model down: nothing, quickly
    assert await inline(client, huge_uri, 100_001, 0) is None
    s = await stats(client)
    outcomes = s["outcomes"]
    assert outcomes == {"unopened": 2, "past_end": 2, "down": 2}, [
        (r["outcome"], r["line"]) for r in s["records"]
    ]
    assert s["errors"] == 0
    # Still serving.
    assert (await complete(client, uri, 9, 4)).items == ()


async def test_settings_from_initialization_options_and_did_change_configuration(
    start_server, workspace
):
    options = {"codeassist": {"completion": {"disabledLanguages": ["python"], "debounce_ms": 0}}}
    client, _ = await start_server(workspace, env=DOWN, options=options)
    uri = open_doc(client, workspace / "pkg" / "app.py")
    assert await inline(client, uri, 9, 4) is None
    assert (await stats(client))["outcomes"] == {"disabled": 1}

    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"completion.disabled_languages": []})
    )
    await asyncio.sleep(0.2)
    assert await inline(client, uri, 9, 4) is None  # model down, but no longer disabled
    assert (await stats(client))["outcomes"] == {"disabled": 1, "down": 1}

    # A wrong setting is reported once and the previous settings stay.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"completion": {"debounce_ms": "soon"}})
    )
    await wait_for(lambda: any("debounce_ms" in m.message for m in client.messages))
    assert any("must be an integer" in m.message for m in client.messages)
