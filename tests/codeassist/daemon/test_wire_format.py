"""The OpenAI wire format, request validation and SSE reading: pure functions."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from codeassist.client import sse
from codeassist.daemon import responses
from codeassist.daemon.app import sampling_from
from codeassist.daemon.request import Priority, Usage
from codeassist.daemon.schemas import ChatRequest, CompletionRequest
from codeassist.daemon.sockets import parse_loopback
from codeassist.errors import UserError

# A recorded Gemma 4 output with thinking on, split at awkward places (markers cut in two).
RECORDED = [
    "<|chan",
    "nel>thou",
    "ght\nThe user wants",
    " a sum.<chan",
    "nel|>def add(a, b):\n",
    "    return a + b<tur",
    "n|>",
]


def test_thinking_goes_to_reasoning_content_never_to_content():
    meta = responses.Meta("chat", "tiny")
    splitter = responses.Splitter()
    chunks = []
    for text in RECORDED:
        chunks += responses.delta_chunks(meta, splitter.feed(text))
    chunks += responses.delta_chunks(meta, splitter.finish())
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks)
    assert content == "def add(a, b):\n    return a + b"
    assert reasoning == "The user wants a sum."
    body = responses.full_response(
        meta, "".join(splitter.answer), "".join(splitter.thinking), "stop", Usage(5, 7, 3)
    )
    message = body["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "def add(a, b):\n    return a + b",
        "reasoning_content": "The user wants a sum.",
    }
    assert body["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 3},
    }


def test_text_completion_chunks_and_body():
    meta = responses.Meta("text", "tiny")
    chunk = responses.text_chunk(meta, "x = 1", None)
    assert chunk["object"] == "text_completion"
    assert chunk["choices"][0]["text"] == "x = 1"
    assert responses.final_chunk(meta, "length")["choices"][0]["finish_reason"] == "length"
    body = responses.full_response(meta, "x = 1", "", "length", Usage(1, 2, 0))
    assert body["choices"][0]["text"] == "x = 1"
    assert "reasoning_content" not in body["choices"][0]


def test_sse_round_trip_through_the_client_reader():
    meta = responses.Meta("chat", "tiny")
    wire = b"".join(
        [
            responses.sse(responses.chat_chunk(meta, {"content": "a\nb"})),
            b": keep-alive comment\n\n",
            responses.sse(responses.usage_chunk(meta, Usage(1, 1, 0))),
            responses.sse("[DONE]"),
            responses.sse(responses.chat_chunk(meta, {"content": "after done"})),
        ]
    )
    events = list(sse.iter_events(wire.decode().splitlines(keepends=True)))
    assert events[-1] is sse.DONE
    assert events[0]["choices"][0]["delta"]["content"] == "a\nb"
    assert events[1]["usage"]["total_tokens"] == 2
    assert len(events) == 3


def test_multiline_data_event_is_joined():
    lines = ['data: {"a":\n', "data: 1}\n", "\n"]
    assert list(sse.iter_events(lines)) == [{"a": 1}]


def test_chat_request_fields():
    body = ChatRequest.model_validate(
        {
            "model": "x",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "max_completion_tokens": 9,
            "temperature": 0,
            "stop": "\n\n",
            "chat_template_kwargs": {"enable_thinking": True},
            "priority": "batch",
            "logprobs": False,  # unknown OpenAI fields are ignored
        }
    )
    assert body.enable_thinking() is True
    assert Priority.parse(body.priority) is Priority.BATCH
    assert body.messages[1].text() == "hi"
    sampling = sampling_from(body)
    assert (sampling.temperature, sampling.max_tokens, sampling.stop) == (0.0, 9, ["\n\n"])
    assert sampling.top_k == 64 and sampling.top_p == 0.95  # Gemma 4's defaults


@pytest.mark.parametrize(
    "payload",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]},
        {"messages": [{"role": "tool", "content": "a"}]},
        {"messages": [{"role": "user", "content": "a"}], "priority": "urgent"},
        {"messages": [{"role": "user", "content": "a"}], "n": 2},
        {"messages": [{"role": "user", "content": "a"}], "max_tokens": 0},
    ],
)
def test_chat_request_rejects(payload):
    with pytest.raises(ValidationError):
        ChatRequest.model_validate(payload)


def test_completion_request_one_prompt():
    assert CompletionRequest.model_validate({"prompt": ["a"]}).prompt_text() == "a"
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"prompt": ["a", "b"]})


def test_loopback_only():
    assert parse_loopback("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_loopback("[::1]:80") == ("::1", 80)
    assert parse_loopback("localhost:9") == ("127.0.0.1", 9)
    for bad in ["0.0.0.0:8000", "192.168.1.5:80", "example.com:80", "127.0.0.1", "127.0.0.1:0"]:
        with pytest.raises(UserError):
            parse_loopback(bad)


def test_error_body_shape():
    assert json.loads(json.dumps(responses.error_body("no", "server_busy", "queue_full"))) == {
        "error": {"message": "no", "type": "server_busy", "param": None, "code": "queue_full"}
    }
