"""The same client against a real `transformers serve` (an OpenAI-compatible server) on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from codeassist.client import ChatResult, CompletionResult, client_from_settings
from codeassist.config import load_settings
from codeassist.gemma4.prompt import render_chat
from tests.helpers.ports import free_port

PROMPT = [{"role": "user", "content": "def fib(n):"}]


@pytest.fixture(scope="module")
def transformers_server(tiny_checkpoint, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("tserve") / "out"
    command = [
        sys.executable,
        "-c",
        "import sys; from transformers.cli.transformers import main; sys.exit(main())",
        "serve",
        str(tiny_checkpoint),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_same_client_same_results_shape(transformers_server, tiny_checkpoint, model_client):
    settings = load_settings(overrides={"model.endpoint": transformers_server})
    client = client_from_settings(settings)
    assert client.health()["models"] == [str(tiny_checkpoint)]  # model name found by itself

    deltas: list[tuple[str, str]] = []
    theirs = client.chat(
        PROMPT, max_tokens=8, temperature=0, on_delta=lambda k, t: deltas.append((k, t))
    )
    ours = model_client.chat(PROMPT, max_tokens=8, temperature=0)
    assert isinstance(theirs, ChatResult)
    assert theirs.finish_reason == "length" and theirs.usage.completion_tokens == 8
    assert "".join(t for _, t in deltas) == theirs.text
    assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens  # same chat format
    # Not the same text: in bfloat16, greedy decoding of random weights flips at near-ties
    # between implementations (transformers in bf16 leaves its own float32 answer at the 4th
    # token here). That the engine computes what transformers computes is checked in float32
    # by tests/codeassist/engine's reference tests; here, only that both answered in kind.
    assert ours.finish_reason in ("stop", "length") and 1 <= ours.usage.completion_tokens <= 8

    raw = client.complete(render_chat(PROMPT), max_tokens=8, temperature=0)
    assert isinstance(raw, CompletionResult)
    assert raw.finish_reason == "length" and raw.text == theirs.text
    assert raw.usage.prompt_tokens == theirs.usage.prompt_tokens  # no extra BOS either


def test_errors_name_the_endpoint(transformers_server):
    wrong = load_settings(
        overrides={"model.endpoint": transformers_server, "model.name": "/no/such/model"}
    )
    client = client_from_settings(wrong)
    with pytest.raises(Exception) as failed:
        client.chat(PROMPT, max_tokens=2)
    assert transformers_server in str(failed.value)
