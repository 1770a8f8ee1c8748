"""Completion stops generating once the suggestion is complete: a real client on a real stream.

A loopback OpenAI-compatible endpoint streams a scripted answer one token per event and counts
the events it could send before the client hung up; the model client is the real one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from codeassist.client.model_client import Endpoint, ModelClient
from codeassist.config import CompletionSettings
from codeassist.tasks.complete import (
    CompletionInput,
    call_model,
    finish_completion,
    prepare_completion,
)
from tests.helpers.openai_endpoint import FakeEndpoint, end_events, start_events, write_event

TOKEN_DELAY_S = 0.01


@contextmanager
def scripted_endpoint(tokens: list[str]) -> Iterator[tuple[ModelClient, dict]]:
    """A client for an endpoint that streams `tokens`; stats["sent"] counts events sent."""
    stats = {"sent": 0}

    def respond(handler, path, body) -> None:
        start_events(handler)
        for token in tokens:
            write_event(handler, {"model": "scripted", "choices": [{"index": 0, "text": token}]})
            stats["sent"] += 1
            time.sleep(TOKEN_DELAY_S)
        write_event(handler, {"choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
        end_events(handler)

    with FakeEndpoint(respond) as endpoint:
        client = ModelClient(
            Endpoint(base_url=endpoint.url, label="scripted endpoint", fix="-", model="m")
        )
        try:
            yield client, stats
        finally:
            client.close()


def tokens_of(text: str) -> list[str]:
    """The answer cut into small pieces, as a model streams it."""
    return [text[i : i + 3] for i in range(0, len(text), 3)]


BLOCK_SOURCE = "def total(items):\n    result = 0\n    for item in items:\n        "
# The block (the loop body) closes at "return"; then the model would go on for long.
BLOCK_ANSWER = (
    "result += item.price\n"
    "        result += item.tax\n"
    "    return result\n\n\n" + "def unrelated(x):\n    return x * 2\n\n\n" * 40
)


def test_block_completion_stops_streaming_when_the_block_closes():
    tokens = tokens_of(BLOCK_ANSWER)
    settings = CompletionSettings(max_tokens=len(tokens))
    lines = BLOCK_SOURCE.split("\n")
    inp = CompletionInput("m.py", BLOCK_SOURCE, len(lines) - 1, len(lines[-1]))
    prepared = prepare_completion(inp, settings)
    assert prepared is not None and prepared.mode == "block"
    with scripted_endpoint(tokens) as (client, stats):
        raw, reason = call_model(client, prepared)
    text = finish_completion(prepared, raw)
    assert text == "result += item.price\n        result += item.tax"
    assert reason == "complete"
    block_end = len(tokens_of("result += item.price\n        result += item.tax\n    r"))
    # A few events may be in flight when the client hangs up; never the rest of the answer.
    assert stats["sent"] <= block_end + 8, (stats, len(tokens))
    assert len(tokens) > 10 * block_end


def test_line_completion_stops_at_the_end_of_the_line():
    source = "def f(a):\n    return g(a, )\n"
    inp = CompletionInput("m.py", source, 1, len("    return g(a, "))
    prepared = prepare_completion(inp, CompletionSettings(max_tokens=500))
    assert prepared is not None and prepared.mode == "line"
    # An endpoint that ignores stop sequences (not every OpenAI-compatible server honours "\n").
    tokens = tokens_of("b, c\n" + "x = 1\n" * 300)
    with scripted_endpoint(tokens) as (client, stats):
        raw, reason = call_model(client, prepared)
    assert finish_completion(prepared, raw) == "b, c"
    assert reason == "complete"
    assert stats["sent"] <= 2 + 8


def test_caller_cancel_is_not_reported_as_complete():
    inp = CompletionInput("m.py", BLOCK_SOURCE, 3, 8)
    prepared = prepare_completion(inp, CompletionSettings(max_tokens=400))
    assert prepared is not None
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with scripted_endpoint(tokens_of("        x = 1\n" * 200)) as (client, stats):
        _, reason = call_model(client, prepared, cancel)
    assert reason == "cancelled"
    assert stats["sent"] < 200


def test_a_suggestion_that_never_completes_reads_the_whole_answer():
    inp = CompletionInput("m.py", BLOCK_SOURCE, 3, 8)
    prepared = prepare_completion(inp, CompletionSettings(max_tokens=40))
    assert prepared is not None
    tokens = tokens_of("x = 1\n        y = 2\n        z = 3\n")
    with scripted_endpoint(tokens) as (client, stats):
        raw, reason = call_model(client, prepared)
    assert reason == "length" and stats["sent"] == len(tokens)
    assert finish_completion(prepared, raw) == "x = 1\n        y = 2\n        z = 3"
