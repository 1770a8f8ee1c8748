"""A real repository with one reviewed commit, recorded model answers, and a replaying client."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeassist.client import ChatResult, Usage
from codeassist.gemma4.prompt import split_thinking
from tests.helpers.openai_endpoint import RecordedModel

RECORDED = Path(__file__).with_name("recorded")

SETTINGS_BLOCK = "".join(f"SETTING_{n} = {n}\n" for n in range(1, 13))
APP_V1 = (
    "import json\n\n"
    + SETTINGS_BLOCK
    + "\n\ndef load_config(path):\n    with open(path) as handle:\n"
    + "        return json.load(handle)\n"
    + "\n\ndef average(values):\n    total = 0\n    for value in values:\n"
    + "        total += value\n    return total / len(values)\n"
)
APP_V2 = APP_V1.replace(
    "def average(values):\n", "def average(values):\n    if not values:\n        return 0\n"
) + ("\n\ndef ratio(a, b):\n    return a / b\n")


def recorded(name: str) -> str:
    return (RECORDED / f"{name}.txt").read_text(encoding="utf-8")


class ReplayClient:
    """Answers chat calls with recorded raw model outputs, in order, as the real client would."""

    def __init__(self, *names: str, finish_reason: str = "stop") -> None:
        self.outputs = [recorded(n) for n in names]
        self.calls: list[dict] = []
        self.finish_reason = finish_reason

    def chat(self, messages, **kwargs) -> ChatResult:
        self.calls.append({"messages": messages, **kwargs})
        raw = self.outputs[len(self.calls) - 1]
        thinking, answer = split_thinking(raw)
        on_delta = kwargs.get("on_delta")
        if on_delta:
            for kind, text in (("thinking", thinking), ("answer", answer)):
                for word in text.split(" "):
                    if word:
                        on_delta(kind, word + " ")
        finish = self.finish_reason if "<channel|>" not in raw else "stop"
        return ChatResult(answer, thinking, finish, Usage(100, len(raw) // 4, 0), "recorded")


@pytest.fixture
def app_repo(make_repo):
    """app.py: a guard added to average() (lines 23-24) and a new ratio() (lines 29-32)."""
    repo = make_repo()
    repo.commit("first", {"app.py": APP_V1, "README.md": "# app\n"})
    repo.commit("guard and ratio", {"app.py": APP_V2})
    lines = APP_V2.split("\n")
    assert lines[22] == "    if not values:" and lines[31] == "    return a / b"
    return repo


@pytest.fixture
def recorded_output():
    """name -> the recorded raw model output (thinking markers included)."""
    return recorded


@pytest.fixture
def replay():
    """Make a client that replays recorded outputs: replay("broken", "valid")."""
    return ReplayClient


@pytest.fixture
def replay_endpoint():
    """Start a loopback endpoint streaming recorded outputs: server = replay_endpoint("valid")."""
    servers: list[RecordedModel] = []

    def start(*names: str, delay: float = 0.0) -> RecordedModel:
        server = RecordedModel(*(recorded(n) for n in names), delay=delay)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def staged_app_repo(make_repo):
    """The same change as app_repo's last commit, staged (not committed) on top of APP_V1."""
    repo = make_repo()
    repo.commit("first", {"app.py": APP_V1, "README.md": "# app\n"})
    repo.write("app.py", APP_V2)
    repo.git("add", "app.py")
    return repo
