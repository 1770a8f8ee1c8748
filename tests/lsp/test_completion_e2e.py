"""Completion through the real server process, the real daemon and the tiny checkpoint.

The tiny model writes noise, so the tests check where text goes and when the model is (not)
called, not what the text says. Decoding is greedy (temperature 0): the same prompt gives the
same answer on every run.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp.positions import to_character
from tests.helpers.lsp_client import (
    CLIENTS,
    FAST_COMPLETION,
    complete,
    daemon_env,
    inline,
    open_doc,
    stats,
    type_text,
    uri_of,
    wait_for,
)
from tests.helpers.sample_code import APP_PY, UTIL_PY

pytestmark = pytest.mark.asyncio

# Ends of lines in pkg/app.py where the model is asked for a block (multi-line) completion.
LINE_ENDS = [(n, len(APP_PY.split("\n")[n])) for n in (9, 5, 3)]


def options(**completion) -> dict:
    merged = copy.deepcopy(FAST_COMPLETION)
    merged["completion"].update({"debounce_ms": 0, **completion})
    return merged


async def first_inline(client, uri, positions):
    """The first non-empty inline suggestion over positions: (position, text)."""
    for line, char in positions:
        result = await inline(client, uri, line, char)
        if result is not None:
            (item,) = result.items
            return (line, char), item
    raise AssertionError(f"no suggestion at any of {positions}")


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_inline_completion_and_completion_item_from_the_tiny_model(
    start_server, workspace, daemon_settings, client_name
):
    client, _ = await start_server(
        workspace, client=client_name, env=daemon_env(daemon_settings), options=options()
    )
    uri = open_doc(client, workspace / "pkg" / "app.py")
    (line, char), item = await first_inline(client, uri, LINE_ENDS)
    assert item.insert_text.strip()
    at = types.Position(line=line, character=char)
    assert item.range == types.Range(start=at, end=at)

    # textDocument/completion mid-line (single line), another model call.
    s = await stats(client)
    calls = s["model_calls"]
    assert calls >= 1 and s["errors"] == 0
    result = await complete(client, uri, 9, 12)  # "    total = |size(path)"
    assert (await stats(client))["model_calls"] == calls + 1
    if result.items:
        (entry,) = result.items
        assert "\n" not in entry.text_edit.new_text  # mid-line: a single line
        assert entry.insert_text_format == types.InsertTextFormat.PlainText
        assert entry.text_edit.range.end == types.Position(line=9, character=12)


async def test_type_through_answers_from_cache_without_the_model(
    start_server, workspace, daemon_settings
):
    client, _ = await start_server(workspace, env=daemon_env(daemon_settings), options=options())
    uri = open_doc(client, workspace / "pkg" / "app.py")
    (line, char), item = await first_inline(client, uri, LINE_ENDS)
    text = item.insert_text
    calls = (await stats(client))["model_calls"]
    typed = text[: max(1, min(2, len(text.split("\n")[0]) - 1))]
    if "\n" in typed or not text.split("\n")[0][len(typed) :].strip():
        typed = ""  # the suggestion starts a new line: accept nothing, just ask again
    type_text(client, uri, 2, line, char, typed)
    line_after = (workspace / "pkg" / "app.py").read_text().split("\n")[line][:char] + typed
    new_char = to_character(line_after, len(line_after), "utf-16")
    result = await inline(client, uri, line, new_char)
    assert result is not None
    assert result.items[0].insert_text == text[len(typed) :]
    s = await stats(client)
    assert s["model_calls"] == calls  # answered from the type-through cache
    assert s["records"][-1]["outcome"] == "cache"


async def wait_running(model_client) -> None:
    """Until the daemon is generating (the request reached the model)."""
    for _ in range(400):
        if (await asyncio.to_thread(model_client.health))["queue"]["running"] > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the model call never started")


async def test_stale_version_is_never_returned(
    start_server, workspace, daemon_settings, model_client
):
    client, _ = await start_server(
        workspace, env=daemon_env(daemon_settings), options=options(debounce_ms=400)
    )
    uri = open_doc(client, workspace / "pkg" / "app.py")
    # The document changes during the debounce.
    pending = asyncio.ensure_future(inline(client, uri, *LINE_ENDS[0]))
    await asyncio.sleep(0.1)
    type_text(client, uri, 2, 0, 0, "# edited\n")
    assert await asyncio.wait_for(pending, 30) is None
    assert (await stats(client))["records"][-1]["outcome"] == "stale"

    # The document changes while the daemon generates (a long answer, to be sure it runs).
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=options(debounce_ms=0, max_tokens=400))
    )
    await asyncio.sleep(0.1)
    line, char = LINE_ENDS[1]
    pending = asyncio.ensure_future(inline(client, uri, line + 1, char))  # one line added
    await wait_running(model_client)
    type_text(client, uri, 3, 0, 0, "# again\n")
    assert await asyncio.wait_for(pending, 30) is None
    record = (await stats(client))["records"][-1]
    assert record["outcome"] == "stale" and record["model_ms"] > 0


async def test_newer_request_supersedes_and_cancel_request_stops_the_model(
    start_server, workspace, daemon_settings, model_client
):
    client, _ = await start_server(
        workspace, env=daemon_env(daemon_settings), options=options(debounce_ms=300)
    )
    uri = open_doc(client, workspace / "pkg" / "app.py")
    first = asyncio.ensure_future(inline(client, uri, *LINE_ENDS[0]))
    await asyncio.sleep(0.1)
    second = asyncio.ensure_future(inline(client, uri, 10, 10))
    assert await first is None  # superseded by the newer request for the same document
    await second
    outcomes = [r["outcome"] for r in (await stats(client))["records"]]
    assert outcomes[0] == "superseded"
    assert (await stats(client))["model_calls"] == 1

    # A long generation, to cancel while it runs: asked at the end of a top-level line, so the
    # block can never close by a dedent (only max_tokens, a fence, EOS or the next line end it).
    top_level = (0, len("import os"))
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=options(debounce_ms=0, max_tokens=400))
    )
    await asyncio.sleep(0.1)

    # $/cancelRequest while the model is generating: an error reply, and the daemon stops.
    # The random tiny model may end its answer by itself just before the cancel lands: then
    # the daemon counts it completed, and the case is tried again.
    for _attempt in range(3):
        before = (await asyncio.to_thread(model_client.health))["queue"]
        request = asyncio.ensure_future(
            client.protocol.send_request_async(
                types.TEXT_DOCUMENT_INLINE_COMPLETION,
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=top_level[0], character=top_level[1]),
                    context=types.InlineCompletionContext(
                        trigger_kind=types.InlineCompletionTriggerKind.Invoked
                    ),
                ),
            )
        )
        await wait_running(model_client)
        (msg_id,) = client.protocol._request_futures  # the one LSP request in flight
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        try:
            await request
        except JsonRpcException as error:
            assert error.code == types.LSPErrorCodes.RequestCancelled
        for _ in range(300):  # the daemon notices the closed stream at its next step
            queue = (await asyncio.to_thread(model_client.health))["queue"]
            if queue["running"] == 0:
                break
            await asyncio.sleep(0.05)
        if queue["cancelled"] > before["cancelled"]:
            break
        assert queue["completed"] > before["completed"], f"the generation never ended: {queue}"
    else:
        raise AssertionError(f"the daemon did not stop the generation: {queue}")
    assert (await stats(client))["records"][-1]["outcome"] == "cancelled"


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_positions_on_lines_with_non_ascii_and_emoji(
    start_server, workspace, daemon_settings, client_name
):
    client, result = await start_server(
        workspace, client=client_name, env=daemon_env(daemon_settings), options=options()
    )
    encoding = result.capabilities.position_encoding
    lines = [
        'greeting = "héllo wörld 😀👍"',
        'name = "Zoë 🎉" + greet',
        'parts = ["ß", "😀"]; total = len(par',
    ]
    path = workspace / "pkg" / "emoji.py"
    path.write_text("\n".join(lines) + "\n")
    uri = open_doc(client, path)
    found = None
    for index, text in enumerate(lines[1:], start=1):
        char = to_character(text, len(text), encoding)  # end of the line, client units
        answer = await complete(client, uri, index, char)
        if answer.items:
            found = index, text, char, answer.items[0]
            break
    assert found is not None, "no suggestion on any line"
    index, text, char, item = found
    word = text.rsplit(" ", 1)[-1].rsplit("(", 1)[-1]  # "greet" / "par"
    word_start = to_character(text, len(text) - len(word), encoding)
    assert item.text_edit.range == types.Range(
        start=types.Position(line=index, character=word_start),
        end=types.Position(line=index, character=char),
    )
    assert item.text_edit.new_text.startswith(word)
    # The server saw the cursor at the end of the line: the suggestion was built from all of it.
    record = (await stats(client))["records"][-1]
    assert record["character"] == char and record["outcome"] in ("model", "cache")


async def test_unsaved_buffers_feed_retrieval_in_a_multi_root_workspace(
    start_server, workspace, daemon_settings, tmp_path
):
    other = tmp_path / "other-root"
    other.mkdir()
    (other / "tool.py").write_text("def unrelated():\n    return 0\n")
    client, _ = await start_server(
        workspace,
        env=daemon_env(daemon_settings),
        options=options(budget_tokens=1000, max_tokens=1),  # room for context
    )
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=uri_of(other), name="other")], removed=[]
            )
        )
    )
    # Both roots get indexed, each with its own progress.
    ends = lambda: sum(  # noqa: E731
        isinstance(v, types.WorkDoneProgressEnd)
        for reports in client.progress_reports.values()
        for v in reports
    )
    await wait_for(lambda: ends() == 2)

    # util.py has an unsaved function that exists nowhere on disk.
    util_text = UTIL_PY + "\n\ndef brand_new_helper(count):\n    return count + 41\n"
    open_doc(client, workspace / "pkg" / "util.py", text=util_text)
    app_text = APP_PY + "\n\ndef use():\n    value = brand_new_helper(\n"
    uri = open_doc(client, workspace / "pkg" / "app.py", text=app_text)
    line = app_text.count("\n") - 1
    await inline(client, uri, line, len(app_text.split("\n")[line]))
    record = (await stats(client))["records"][-1]
    start = util_text.split("\n").index("def brand_new_helper(count):") + 1
    assert start > UTIL_PY.count("\n") + 1  # a line that exists only in the unsaved buffer
    spans = [c.rsplit(":", 1) for c in record["context"]]
    covering = [
        (path, lines)
        for path, lines in spans
        if path == "pkg/util.py" and int(lines.split("-")[0]) <= start <= int(lines.split("-")[1])
    ]
    assert covering, record["context"]
    assert not any("tool.py" in c for c in record["context"])  # the other root's code
