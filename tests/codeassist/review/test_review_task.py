"""The review task end to end on recorded model answers: thinking, repair, raw output, progress."""

from __future__ import annotations

import threading

from codeassist.config import load_settings
from codeassist.git import changes_from_git
from codeassist.tasks.review import review, review_budget
from codeassist.tasks.review_findings import ANSWER_SCHEMA


def _run(repo, client, **kwargs):
    changes = changes_from_git(repo.root, "HEAD~1")
    settings = load_settings(repo=repo.root, overrides=kwargs.pop("overrides", {}))
    return changes, review(changes, settings, client, **kwargs)


def test_valid_answer_thinking_on_batch_priority(app_repo, replay):
    client = replay("valid")
    seen = []
    _, result = _run(
        app_repo, client, progress=lambda p: seen.append((p.stage, p.generated_tokens))
    )
    assert result.status == "ok"
    assert [(f.line, f.severity) for f in result.findings] == [(23, "warning"), (32, "error")]
    assert "ratio() divides by b" in result.thinking
    assert all("<|channel>" not in f.message for f in result.findings)
    (call,) = client.calls
    assert call["enable_thinking"] is True and call["priority"] == "batch"
    assert call["max_tokens"] == 8192 and call["response_format"] is None  # our daemon
    system, user = call["messages"]
    assert "JSON" in system["content"] and "23 +     if not values:" in user["content"]
    assert result.raw_output_path is None  # nothing dropped, nothing to keep
    stages = [s for s, _ in seen]
    assert stages[0] == "context" and "model" in stages and stages[-1] == "done"
    assert seen[-1][1] > 0  # tokens generated were counted


def test_openai_endpoint_gets_a_json_schema(app_repo, replay):
    client = replay("valid")
    _, result = _run(app_repo, client, overrides={"model.endpoint": "http://127.0.0.1:9/v1"})
    fmt = client.calls[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == ANSWER_SCHEMA
    assert result.status == "ok"


def test_broken_answer_gets_one_repair(app_repo, replay):
    client = replay("broken", "valid")
    _, result = _run(app_repo, client)
    assert result.status == "ok" and len(result.findings) == 2
    first, second = client.calls
    assert second["enable_thinking"] is True  # same rendered prefix: the prefix cache serves it
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2]["role"] == "assistant"
    assert "Here are my findings" in second["messages"][2]["content"]
    assert "no JSON object" in second["messages"][3]["content"]


def test_twice_broken_is_a_clear_no_valid_findings_with_raw_output_saved(app_repo, replay):
    client = replay("broken", "empty", finish_reason="length")
    _, result = _run(app_repo, client)
    assert result.status == "no_valid_findings" and result.findings == []
    assert "no JSON object" in result.problem and "empty" in result.problem
    saved = result.raw_output_path.read_text()
    assert "Here are my findings" in saved and "Let me look at ratio." in saved
    assert "I need to check every function" in saved  # the repair attempt's thinking
    assert len(client.calls) == 2


def test_empty_answer_names_the_token_limit(app_repo, replay):
    client = replay("empty", "empty", finish_reason="length")
    _, result = _run(app_repo, client)
    assert result.status == "no_valid_findings"
    assert "8192-token limit" in result.problem


def test_thinking_decoy_and_empty_findings(app_repo, replay):
    _, result = _run(app_repo, replay("thinking"))
    assert result.status == "ok" and result.findings == [] and result.dropped == []


def test_dropped_findings_are_counted_and_raw_output_kept(app_repo, replay):
    _, result = _run(app_repo, replay("wrong_lines"))
    assert result.status == "ok"
    assert len(result.findings) == 3 and len(result.dropped) == 5 and result.reanchored == 2
    assert "missing.py" in result.raw_output_path.read_text()


def test_all_findings_invalid_is_no_valid_findings(make_repo, replay):
    repo = make_repo()
    repo.commit("one", {"app.py": "x = 1\n"})
    repo.commit("two", {"app.py": "x = 2\n"})
    _, result = _run(repo, replay("valid"))  # its findings point at lines app.py lacks here
    assert result.status == "no_valid_findings" and len(result.dropped) == 2
    assert "all 2 findings it returned were invalid" in result.problem


def test_cancel_stops_the_review(app_repo, replay):
    cancel = threading.Event()
    cancel.set()
    _, result = _run(app_repo, replay("valid"), cancel=cancel)
    assert result.status == "cancelled" and result.findings == []


def test_budget_from_settings_or_the_default_window(tmp_path):
    settings = load_settings(repo=tmp_path)
    assert review_budget(settings) == 32768 - 8192 - 256
    settings = load_settings(repo=tmp_path, overrides={"review.budget_tokens": 5000})
    assert review_budget(settings) == 5000


def test_budget_follows_the_memory_plan_of_a_local_checkpoint(tmp_path, tiny_checkpoint):
    import json

    # No GPU here: the plan allows the checkpoint's whole window, which its config.json sets.
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    config.get("text_config", config)["max_position_embeddings"] = 65536
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(config))
    settings = load_settings(repo=tmp_path, overrides={"model.path": str(model)})
    assert review_budget(settings) == 65536 - 8192 - 256


def test_budget_is_what_the_running_daemon_holds(tmp_path, tiny_checkpoint):
    """A daemon answering on the socket sized its K/V on its own GPU: its max_context wins over
    the plan (and asking it needs no torch); one still loading, or none, leaves the plan."""
    from tests.helpers.openai_endpoint import FakeEndpoint

    sock = tmp_path / "sock"
    sock.mkdir(mode=0o700)
    overrides = {"model.path": str(tiny_checkpoint), "daemon.socket": str(sock / "d.sock")}
    settings = load_settings(repo=tmp_path, overrides=overrides)
    planned = review_budget(settings)
    ready = {"state": "ready", "max_context": 12000}
    with FakeEndpoint(unix_socket=str(sock / "d.sock"), health=ready):
        assert review_budget(settings) == 12000 - 8192 - 256 != planned
    (sock / "d.sock").unlink()
    loading = {**ready, "state": "loading"}
    with FakeEndpoint(unix_socket=str(sock / "d.sock"), health=loading):
        assert review_budget(settings) == planned


def test_gpu_memory_units_mean_what_they_say(tmp_path):
    def budget(memory: str) -> int:
        overrides = {"model.path": "gemma-4-26b-a4b-it", "engine.gpu_memory": memory}
        return review_budget(load_settings(repo=tmp_path, overrides=overrides))

    # 24 GB (24e9 bytes) holds less context than 24 GiB (25.8e9 bytes); 24G is 24 GiB.
    assert budget("24GB") < budget("24GiB") == budget("24G")


def test_tokens_are_counted_with_the_checkpoint_tokenizer(app_repo, tiny_checkpoint):
    from tokenizers import Tokenizer

    from codeassist.tasks.review import plan_review
    from codeassist.token_count import count_utf8_bytes, token_counter
    from retrieval.tokens import estimate_tokens

    settings = load_settings(repo=app_repo.root, overrides={"model.path": str(tiny_checkpoint)})
    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    count = token_counter(settings)
    text = (app_repo.root / "app.py").read_text()
    assert count(text) == len(tokenizer.encode(text, add_special_tokens=False).ids)
    assert count(text) != estimate_tokens(text)
    prompt = plan_review(changes_from_git(app_repo.root, "HEAD~1"), settings)
    (diff,) = [p for p in prompt.parts if p.kind == "diff"]
    assert diff.tokens == count(diff.text)
    http = load_settings(repo=app_repo.root, overrides={"model.endpoint": "http://127.0.0.1:9"})
    assert token_counter(http) is count_utf8_bytes  # no local tokenizer: never under-count


def test_response_format_setting_is_checked(app_repo, replay):
    import pytest

    from codeassist.errors import UserError

    client = replay("valid")
    _, result = _run(app_repo, client, overrides={"review.response_format": "json_object"})
    assert client.calls[0]["response_format"] == {"type": "json_object"}
    with pytest.raises(UserError, match="response_format 'xml'"):
        _run(app_repo, replay("valid"), overrides={"review.response_format": "xml"})
