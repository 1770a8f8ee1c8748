"""A real `codeassist serve` process on the tiny checkpoint, through its Unix socket."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import openai
import pytest

from codeassist.client import ModelRequestError, ModelTimeout
from codeassist.gemma4.prompt import render_chat
from tests.helpers.serve_process import daemon_http, raw_post, rss_bytes

# Greedy decoding of this prompt runs ~110 tokens before the tiny model's stop token, so a
# request for more is still generating when the tests cut it short.
LONG = {"messages": [{"role": "user", "content": "go"}], "temperature": 0}


def health(settings) -> dict:
    with daemon_http(settings.daemon.socket) as http:
        return http.get("/health").json()


def test_client_streams_a_chat_through_the_socket(model_client):
    deltas: list[tuple[str, str]] = []
    result = model_client.chat(
        [{"role": "user", "content": "def fib(n):"}],
        max_tokens=8,
        temperature=0,
        on_delta=lambda kind, text: deltas.append((kind, text)),
    )
    assert result.finish_reason in ("stop", "length")
    assert "".join(text for kind, text in deltas if kind == "answer") == result.text
    assert result.thinking == ""
    assert 1 <= result.usage.completion_tokens <= 8
    assert result.usage.prompt_tokens > 5
    assert result.model  # the name the daemon serves, from the stream
    again = model_client.chat(
        [{"role": "user", "content": "def fib(n):"}], max_tokens=8, temperature=0
    )
    assert again.text == result.text  # temperature 0 is deterministic
    assert again.usage.reused_tokens > 0  # the prompt came from the prefix cache


def test_raw_completion_keeps_special_tokens_unduplicated(model_client, daemon_settings):
    prompt = render_chat([{"role": "user", "content": "hi"}])
    result = model_client.complete(prompt, max_tokens=4, temperature=0)
    assert result.finish_reason in ("stop", "length")
    chat = model_client.chat([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0)
    # The same rendered prompt, tokenized with its special tokens and no extra BOS.
    assert result.usage.prompt_tokens == chat.usage.prompt_tokens
    assert result.text == chat.text


def test_thinking_flag_reaches_the_template(model_client):
    off = model_client.chat([{"role": "user", "content": "x"}], max_tokens=1, temperature=0)
    on = model_client.chat(
        [{"role": "user", "content": "x"}], max_tokens=1, temperature=0, enable_thinking=True
    )
    assert on.usage.prompt_tokens != off.usage.prompt_tokens


def test_official_openai_client_over_the_socket(daemon_settings):
    http = daemon_http(daemon_settings.daemon.socket)
    client = openai.OpenAI(base_url="http://codeassist/v1", api_key="unused", http_client=http)
    models = client.models.list()
    assert [m.id for m in models.data] == [health(daemon_settings)["model"]]
    reply = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=5,
        temperature=0,
        extra_body={"priority": "interactive", "chat_template_kwargs": {"enable_thinking": False}},
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 5
    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=5,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
    assert streamed == reply.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens
    text = client.completions.create(model="tiny", prompt="<bos>x = ", max_tokens=3, temperature=0)
    assert text.object == "text_completion" and text.usage.completion_tokens <= 3
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="tiny", messages=[{"role": "tool", "content": "x"}])
    assert "role" in str(bad.value)
    http.close()


def test_health_reports_model_queue_and_cache(daemon_settings):
    body = health(daemon_settings)
    assert body["status"] == "ok"
    assert body["model"] == Path(daemon_settings.model.path).name and body["device"] == "cpu"
    assert body["queue"]["limit"] == daemon_settings.daemon.queue_size
    assert {"prefix_cache_entries", "prefix_cache_bytes", "generated_tokens"} <= set(body["engine"])
    assert body["socket"] == daemon_settings.daemon.socket
    assert body["state"] == "ready" and body["progress"] is None
    assert body["message"] == f"model {body['model']} ready on cpu"
    assert body["keep_alive"] == "never" and body["unload_in_s"] is None  # a test daemon
    assert body["max_context"] == body["engine"]["max_context"]


def _generated(settings) -> int:
    return health(settings)["engine"]["generated_tokens"]


def _wait_idle(settings, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = health(settings)
        if body["queue"]["running"] == 0 and body["engine"]["live_sequences"] == 0:
            return body
        time.sleep(0.05)
    raise AssertionError(f"daemon not idle: {body['queue']}")


def test_disconnect_cancels_generation(daemon_settings):
    start = health(daemon_settings)
    body = {**LONG, "max_tokens": 2000, "stream": True}
    with (
        daemon_http(daemon_settings.daemon.socket) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as r,
    ):
        lines = r.iter_lines()
        got = 0
        for line in lines:
            got += line.startswith("data:")
            if got >= 3:
                break
    # The connection is closed here; the generation must stop within a step.
    idle = _wait_idle(daemon_settings)
    generated = idle["engine"]["generated_tokens"]
    time.sleep(0.3)
    assert _generated(daemon_settings) == generated
    assert generated - start["engine"]["generated_tokens"] < 200
    assert idle["queue"]["cancelled"] == start["queue"]["cancelled"] + 1


def test_cancel_event_and_timeout_stop_server_side(model_client, daemon_settings):
    cancel = threading.Event()
    seen: list[str] = []

    def on_delta(kind: str, text: str) -> None:
        seen.append(text)
        if len(seen) >= 2:
            cancel.set()

    result = model_client.chat(
        LONG["messages"], max_tokens=2000, temperature=0, cancel=cancel, on_delta=on_delta
    )
    assert result.finish_reason == "cancelled"
    idle = _wait_idle(daemon_settings)
    time.sleep(0.3)
    assert _generated(daemon_settings) == idle["engine"]["generated_tokens"]

    started = time.monotonic()
    with pytest.raises(ModelTimeout) as late:
        model_client.chat(LONG["messages"], max_tokens=2000, temperature=0, timeout=0.5)
    assert time.monotonic() - started < 3
    assert daemon_settings.daemon.socket in str(late.value)
    _wait_idle(daemon_settings)


def test_bad_requests_name_the_problem(daemon_settings, model_client):
    with daemon_http(daemon_settings.daemon.socket) as http:
        answer = http.post("/v1/chat/completions", json={"messages": [], "priority": "soon"})
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "messages" in message and "priority" in message
    with pytest.raises(ModelRequestError) as rejected:
        model_client.chat([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}])
    assert "system message" in str(rejected.value) and "400" in str(rejected.value)


def test_huge_prompts_are_refused_at_once_and_health_answers_meanwhile(
    daemon_settings, model_client
):
    pid = health(daemon_settings)["pid"]
    before = rss_bytes(pid)
    latencies: list[float] = []
    done = threading.Event()

    def poll_health() -> None:
        with daemon_http(daemon_settings.daemon.socket, timeout=5) as http:
            while not done.is_set():
                started = time.monotonic()
                assert http.get("/health").status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.02)

    poller = threading.Thread(target=poll_health)
    poller.start()
    try:
        line = "value = compute(value) + 1; " * (50 * 2**20 // 28)  # one 50 MB line
        payload = json.dumps({"messages": [{"role": "user", "content": line}]}).encode()
        del line
        started = time.monotonic()
        status, body = raw_post(daemon_settings.daemon.socket, "/v1/chat/completions", payload)
        assert time.monotonic() - started < 1.0
        assert status == 413 and "bytes" in json.loads(body)["error"]["message"]
        del payload

        prompt = "x = 1\n" * (5 * 2**20 // 6)  # 5 MB through the project's own client
        started = time.monotonic()
        with pytest.raises(ModelRequestError) as too_long:
            model_client.complete(prompt, max_tokens=4)
        assert time.monotonic() - started < 1.0
        assert too_long.value.status == 400
        assert "characters" in str(too_long.value) and "context" in str(too_long.value)
    finally:
        done.set()
        poller.join(10)
    assert len(latencies) >= 3 and max(latencies) < 1.0
    assert rss_bytes(pid) - before < 200 * 2**20
    assert model_client.chat(LONG["messages"], max_tokens=2).usage.completion_tokens >= 1


def test_limits_on_numbers(daemon_settings):
    with daemon_http(daemon_settings.daemon.socket) as http:
        seeded = http.post("/v1/chat/completions", json={**LONG, "seed": 2**70, "max_tokens": 1})
        assert seeded.status_code == 400
        assert "seed" in seeded.json()["error"]["message"]
        # Far beyond the context: capped there, not refused and not an overflow.
        for huge in (1e100, 10**100):
            answer = http.post("/v1/chat/completions", json={**LONG, "max_tokens": huge})
            assert answer.status_code == 200, answer.text
            assert answer.json()["choices"][0]["finish_reason"] == "stop"
        kept = http.post("/v1/completions", json={"prompt": "<bos>x", "keep_alive": "soon"})
        assert kept.status_code == 400 and "keep_alive" in kept.json()["error"]["message"]


def test_chunked_bodies_are_read_whole_and_bounded_too(daemon_settings):
    def pieces(data: bytes, size: int):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    headers = {"content-type": "application/json"}  # no Content-Length: chunked
    small = json.dumps({"prompt": "<bos>x = ", "max_tokens": 2, "temperature": 0}).encode()
    with daemon_http(daemon_settings.daemon.socket) as http:
        answer = http.post("/v1/completions", content=pieces(small, 7), headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["completion_tokens"] >= 1  # replayed, not cut short
        over = health(daemon_settings)["max_prompt_chars"] * 12 + 2**17
        big = json.dumps({"prompt": "y" * over}).encode()
        refused = http.post("/v1/completions", content=pieces(big, 2**20), headers=headers)
    assert refused.status_code == 413 and "bytes" in refused.json()["error"]["message"]
