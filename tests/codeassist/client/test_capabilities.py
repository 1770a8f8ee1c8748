"""How the client copes with what real OpenAI-compatible servers do (issue 17), each against a
real HTTP server on loopback that answers in the shape a real server was seen to answer."""

from __future__ import annotations

import json

import pytest

from codeassist.client import Endpoint, ModelClient
from codeassist.client.errors import ModelRequestError, ModelStreamClosed, ModelUnavailable
from tests.helpers.openai_endpoint import (
    FakeEndpoint,
    close_after_headers,
    send_chat,
    send_events,
    send_json,
    send_text,
)
from tests.helpers.ports import free_port

SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
MESSAGES = [{"role": "system", "content": "Review."}, {"role": "user", "content": "diff"}]


def client_for(server, *, counter=None, socket_path=None) -> ModelClient:
    endpoint = Endpoint(
        base_url=server.url,
        label=f"model endpoint {server.url}",
        fix="start that server, or fix [model] endpoint.",
        model="fake-model",
        socket_path=socket_path,
        is_daemon=socket_path is not None,
    )
    return ModelClient(endpoint, count_tokens=counter)


@pytest.fixture
def fake_daemon(tmp_path):
    path = str(tmp_path / "d.sock")
    server = FakeEndpoint(unix_socket=path)
    yield server, path
    server.close()


# ---- structured output ----------------------------------------------------------------------


def test_json_schema_steps_down_to_json_object_on_a_500_naming_it_and_is_remembered(
    fake_endpoint,
):
    def respond(handler, path, body):
        fmt = body.get("response_format")
        if fmt and fmt["type"] == "json_schema":
            # llama-cpp-python's answer to a json_schema it cannot take.
            send_json(handler, 500, {"error": {"message": "response_format json_schema failed"}})
        else:
            send_chat(handler, '{"findings": []}')

    fake_endpoint.respond = respond
    client = client_for(fake_endpoint)
    first = client.chat(MESSAGES, response_format=SCHEMA_FORMAT)
    second = client.chat(MESSAGES, response_format=SCHEMA_FORMAT)
    assert first.text == second.text == '{"findings": []}'
    kinds = [
        (b.get("response_format") or {}).get("type")
        for b in fake_endpoint.bodies("/chat/completions")
    ]
    # the second call starts from what the endpoint took
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert client.format_kind == "json_object"


@pytest.mark.parametrize("status", [400, 422, 501, 502])
def test_json_object_steps_down_to_none_on_any_4xx_5xx_naming_response_format(
    fake_endpoint, status
):
    def respond(handler, path, body):
        if "response_format" in body:
            detail = [{"loc": ["body", "response_format"], "msg": "not supported"}]
            send_json(handler, status, {"detail": detail})
        else:
            send_chat(handler, "plain")

    fake_endpoint.respond = respond
    client = client_for(fake_endpoint)
    assert client.chat(MESSAGES, response_format=SCHEMA_FORMAT).text == "plain"
    kinds = [
        (b.get("response_format") or {}).get("type")
        for b in fake_endpoint.bodies("/chat/completions")
    ]
    assert kinds == ["json_schema", "json_object", None]
    client.chat(MESSAGES, response_format=SCHEMA_FORMAT)
    assert "response_format" not in fake_endpoint.bodies("/chat/completions")[-1]


def test_an_error_about_something_else_is_not_retried(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: send_json(
        h, 500, {"error": {"message": "CUDA out of memory"}}
    )
    client = client_for(fake_endpoint)
    with pytest.raises(ModelRequestError, match="CUDA out of memory") as caught:
        client.chat(MESSAGES, response_format=SCHEMA_FORMAT)
    assert caught.value.status == 500
    assert len(fake_endpoint.requests) == 1
    assert client.format_kind == "json_schema"


# ---- thinking ---------------------------------------------------------------------------------


def test_ignored_thinking_request_is_said_once(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "answer, no thought")
    client = client_for(fake_endpoint)
    first = client.chat(MESSAGES, enable_thinking=True)
    assert first.thinking == ""
    assert len(first.notices) == 1
    notice = first.notices[0]
    assert "without thinking" in notice and "--chat-template-kwargs" in notice
    assert "docs/backends.md" in notice
    assert client.chat(MESSAGES, enable_thinking=True).notices == []
    # the request did ask for it
    assert fake_endpoint.bodies("/chat/completions")[0]["chat_template_kwargs"] == {
        "enable_thinking": True
    }


def test_no_notice_when_the_server_thinks(fake_endpoint):
    client = client_for(fake_endpoint)
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "answer", reasoning="because")
    assert client.chat(MESSAGES, enable_thinking=True).notices == []
    # thought markers left in the content count too, even an empty thought
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "<|channel>thought\n<channel|>ok")
    result = client.chat(MESSAGES, enable_thinking=True)
    assert (result.text, result.notices) == ("ok", [])
    # and thinking off asks for nothing
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "plain")
    assert client.chat(MESSAGES, enable_thinking=False).notices == []


def test_our_daemon_is_never_suspected_of_ignoring_thinking(fake_daemon):
    server, socket_path = fake_daemon
    server.respond = lambda h, path, body: send_chat(h, "no thought")
    client = client_for(server, socket_path=socket_path)
    assert client.chat(MESSAGES, enable_thinking=True).notices == []


# ---- raw completions --------------------------------------------------------------------------


def test_raw_completion_sends_no_bos_to_an_external_endpoint(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: send_text(h, " 42")
    client = client_for(fake_endpoint)
    prompt = "<bos><|turn>user\nx<turn|>\n<|turn>model\n"
    assert client.complete(prompt).text == " 42"
    sent = fake_endpoint.bodies("/completions")[0]["prompt"]
    assert sent == prompt.removeprefix("<bos>")


def test_raw_completion_keeps_bos_for_our_daemon(fake_daemon):
    server, socket_path = fake_daemon
    server.respond = lambda h, path, body: send_text(h, "x")
    client_for(server, socket_path=socket_path).complete("<bos>hello")
    assert server.bodies("/completions")[0]["prompt"] == "<bos>hello"


# ---- usage -----------------------------------------------------------------------------------


def test_usage_is_counted_when_the_server_sends_none(fake_endpoint):
    counter = len  # any counter: here one token per character
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "four")
    chat = client_for(fake_endpoint, counter=counter).chat(MESSAGES)
    assert chat.usage.counted
    assert chat.usage.completion_tokens == 4
    # the prompt as the Gemma template renders it
    assert chat.usage.prompt_tokens == len(
        "<bos><|turn>system\nReview.<turn|>\n<|turn>user\ndiff<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>"
    )
    fake_endpoint.respond = lambda h, path, body: send_text(h, "abc")
    done = client_for(fake_endpoint, counter=counter).complete("<bos>12345")
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (len("<bos>12345"), 3)


def test_usage_is_left_alone_for_messages_gemma_cannot_render(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "ok")
    messages = [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]
    result = client_for(fake_endpoint, counter=len).chat(messages)
    assert result.text == "ok" and not result.usage.counted


def test_usage_from_the_server_is_kept(fake_endpoint):
    usage = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
    fake_endpoint.respond = lambda h, path, body: send_chat(h, "ok", usage=usage)
    result = client_for(fake_endpoint, counter=len).chat(MESSAGES)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 2)
    assert not result.usage.counted


# ---- streams that end early ---------------------------------------------------------------------


def test_stream_closed_before_its_first_event_is_not_reported_as_unreachable(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: close_after_headers(h)
    client = client_for(fake_endpoint, counter=len)
    with pytest.raises(ModelStreamClosed) as caught:
        client.chat(MESSAGES, max_tokens=300)
    message = str(caught.value)
    assert "unreachable" not in message and "start that server" not in message
    assert "closed the stream before sending anything" in message
    assert "--n_ctx" in message and "[review] budget_tokens" in message
    assert "up to 300 new tokens" in message


def test_stream_closed_mid_answer_says_so(fake_endpoint):
    def respond(handler, path, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        event = {"choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}]}
        data = f"data: {json.dumps(event)}\n\n".encode()
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
        handler.close_connection = True  # no terminating chunk: the body is cut short

    fake_endpoint.respond = respond
    with pytest.raises(ModelRequestError, match="mid-answer") as caught:
        client_for(fake_endpoint).chat(MESSAGES)
    assert "unreachable" not in str(caught.value)


def test_a_server_that_is_not_there_is_unreachable():
    endpoint = Endpoint(
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        label="model endpoint here",
        fix="start that server.",
        model="m",
    )
    with pytest.raises(ModelUnavailable, match="unreachable.*start that server"):
        ModelClient(endpoint).chat(MESSAGES)


def test_error_event_inside_the_stream_names_the_context(fake_endpoint):
    error = {
        "error": {
            "message": "the request exceeds the available context size",
            "code": 400,
            "type": "exceed_context_size_error",
        }
    }
    fake_endpoint.respond = lambda h, path, body: send_events(h, [error], done=False)
    with pytest.raises(ModelRequestError, match="exceeds the available context size") as caught:
        client_for(fake_endpoint).chat(MESSAGES)
    assert "--max-model-len" in str(caught.value)


# ---- error bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"detail": "Invalid API key"}, "Invalid API key"),  # FastAPI (llama-cpp-python)
        (401, {"error": {"message": "bad token", "type": "auth"}}, "bad token"),  # OpenAI
        (400, {"object": "error", "message": "model is not loaded", "code": 400}, "not loaded"),
        (400, {"error": "model 'x' not found"}, "model 'x' not found"),  # Ollama
        (
            422,
            {"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]},
            "body.messages: Field required",
        ),
        (500, "Internal Server Error", "Internal Server Error"),  # plain text
    ],
)
def test_error_bodies_are_read_in_every_shape(fake_endpoint, status, body, expected):
    fake_endpoint.respond = lambda h, path, b: send_json(h, status, body)
    with pytest.raises(ModelRequestError) as caught:
        client_for(fake_endpoint).chat(MESSAGES)
    message = str(caught.value)
    assert expected in message
    assert "None" not in message
    assert caught.value.status == status


def test_each_hint_is_given_once(fake_endpoint):
    fake_endpoint.respond = lambda h, path, body: send_json(h, 401, {"detail": "Invalid API key"})
    with pytest.raises(ModelRequestError) as caught:
        client_for(fake_endpoint).chat(MESSAGES)
    message = str(caught.value)
    assert message.count("CODEASSIST_MODEL_API_KEY") == 1
    assert message.count("Invalid API key") == 1
    assert ".." not in message


def test_context_overflow_answered_with_400_names_the_settings(fake_endpoint):
    body = {
        "error": {
            "message": "Requested tokens (5000) exceed context window of 2048",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    fake_endpoint.respond = lambda h, path, b: send_json(h, 400, body)
    with pytest.raises(ModelRequestError) as caught:
        client_for(fake_endpoint).chat(MESSAGES)
    assert "exceed context window of 2048" in str(caught.value)
    assert "[completion] budget_tokens" in str(caught.value)
