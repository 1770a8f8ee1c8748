"""`codeassist review` as a user runs it: a real process, real repositories, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CODEASSIST = shutil.which("codeassist") or str(Path(sys.executable).with_name("codeassist"))


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CODEASSIST, "review", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_help_states_the_revision_rule(tmp_path):
    done = subprocess.run([CODEASSIST, "review", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    text = " ".join(done.stdout.split())
    assert "REV alone means REV..HEAD" in text and "--staged compares the index with HEAD" in text
    assert "A..B compares A with B" in text


def test_dry_run_needs_no_model(app_repo):
    done = run(app_repo.root, "HEAD~1", "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "app.py" in out and "20-32" in out and "No model was called." in out
    assert "total:" in out and "prompt tokens" in out and "budget" in out
    data = json.loads(run(app_repo.root, "HEAD~1", "--dry-run", "--format", "json").stdout)
    assert data["reviewed"] == "HEAD~1..HEAD" and data["budget"] == 32768 - 8192 - 256
    (diff,) = [p for p in data["parts"] if p["kind"] == "diff"]
    assert diff["path"] == "app.py" and diff["ranges"] == [[20, 32]] and diff["tokens"] > 0
    assert data["used"] <= data["budget"]


def test_usage_errors_exit_2_with_a_clear_message(app_repo, tmp_path):
    cases = {
        (str(tmp_path), "HEAD~1"): "not inside a git repository",
        (str(app_repo.root), "nope"): "unknown revision 'nope'",
        (str(app_repo.root), "HEAD"): "nothing to review: HEAD..HEAD has no changes",
        (str(app_repo.root), "--staged"): "nothing to review: no staged changes",
        (str(app_repo.root), "HEAD~1 --fail-on=sometimes"): "--fail-on 'sometimes'",
        (str(app_repo.root), "HEAD~1 --format=xml"): "--format 'xml'",
    }
    (tmp_path / "plain").mkdir()
    for (cwd, args), message in cases.items():
        where = Path(cwd) / "plain" if cwd == str(tmp_path) else Path(cwd)
        done = run(where, *args.split())
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in " ".join(done.stderr.split()), (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_no_model_configured_says_how_to_configure_one(app_repo):
    done = run(app_repo.root, "HEAD~1")
    assert done.returncode == 2
    err = " ".join(done.stderr.split())
    assert "no model is configured" in err
    assert "[model] path" in err and "CODEASSIST_MODEL_PATH" in err and "--model" in err
    assert "[model] endpoint" in err and "--endpoint" in err and "--dry-run" in err


def test_findings_reach_fail_on_exit_1(app_repo, replay_endpoint):
    server = replay_endpoint("valid")
    done = run(app_repo.root, "HEAD~1", "--endpoint", server.url)
    assert done.returncode == 1, done.stderr
    assert "app.py" in done.stdout and "ratio() divides by b" in done.stdout
    assert "32 │     return a / b" in done.stdout
    request = server.requests[0]
    assert request["chat_template_kwargs"] == {"enable_thinking": True}
    assert request["response_format"]["type"] == "json_schema"
    assert (
        run(app_repo.root, "HEAD~1", "--endpoint", server.url, "--fail-on", "never").returncode == 0
    )


def test_machine_formats_to_a_file(app_repo, replay_endpoint, tmp_path):
    server = replay_endpoint("valid")
    out = tmp_path / "review.sarif"
    done = run(app_repo.root, "HEAD~1", "--endpoint", server.url, "-f", "sarif", "-o", str(out),
               "--fail-on", "info")  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    results = json.loads(out.read_text())["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results] == [
        23, 32
    ]  # fmt: skip
    rd = run(
        app_repo.root, "HEAD~1", "--endpoint", server.url, "-f", "rdjsonl", "--fail-on", "never"
    )
    assert [json.loads(line)["severity"] for line in rd.stdout.splitlines()] == ["WARNING", "ERROR"]


def test_invalid_output_is_reported_not_crashed(app_repo, replay_endpoint):
    server = replay_endpoint("broken", "empty")
    done = run(app_repo.root, "HEAD~1", "--endpoint", server.url, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "no_valid_findings" and data["findings"] == []
    saved = Path(data["raw_output"]).read_text()
    assert "===== review: answer =====" in saved and "===== repair: thinking =====" in saved
    assert "did not return valid findings" in done.stderr
    assert len(server.requests) == 2  # one repair attempt


def test_show_thinking_streams_it_to_stderr(app_repo, replay_endpoint):
    server = replay_endpoint("valid")
    done = run(app_repo.root, "HEAD~1", "--endpoint", server.url, "--show-thinking")
    assert "ratio() divides by b with no check" in done.stderr
    assert "ratio() divides by b with no check" not in done.stdout


def test_unreachable_model(app_repo):
    dead = "http://127.0.0.1:9/v1"
    done = run(app_repo.root, "HEAD~1", "--endpoint", dead)
    assert done.returncode == 2 and "127.0.0.1:9" in done.stderr and "Traceback" not in done.stderr
    app_repo.write("app.py", "changed = True\n")
    app_repo.git("add", "app.py")
    hook = run(app_repo.root, "--hook", "--endpoint", dead)
    assert hook.returncode == 0 and "commit not reviewed" in hook.stderr
    strict = run(app_repo.root, "--hook", "--strict", "--endpoint", dead)
    assert strict.returncode == 1 and "commit not reviewed" in strict.stderr


def test_hook_time_budget_lets_the_commit_through(app_repo, replay_endpoint):
    server = replay_endpoint("valid", delay=8.0)
    app_repo.write("app.py", "changed = True\n")
    app_repo.git("add", "app.py")
    budget = {"CODEASSIST_REVIEW_HOOK_TIME_BUDGET_S": "1.5"}
    started = time.monotonic()
    done = run(app_repo.root, "--hook", "--endpoint", server.url, env=budget)
    assert time.monotonic() - started < 7.0  # gave up at the budget, not when the model finished
    assert done.returncode == 0 and "commit not reviewed" in done.stderr, done.stderr
    strict = run(app_repo.root, "--hook", "--strict", "--endpoint", server.url, env=budget)
    assert strict.returncode == 1 and "commit not reviewed" in strict.stderr


def test_dry_run_keeps_secrets_and_outside_links_out_of_the_prompt(app_repo, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("PASSWORD = 'swordfish'\n")
    os.symlink(outside, app_repo.root / "linked.py")
    app_repo.commit(
        "add secrets",
        {
            ".env": "API_TOKEN=hunter2\n",
            "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
            "app.py": (app_repo.root / "app.py").read_text() + "\nEXTRA = 1\n",
        },
    )
    app_repo.git("add", "linked.py")
    app_repo.git("commit", "-q", "-m", "a link")
    done = run(app_repo.root, "HEAD~2", "--dry-run", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {p["path"] for p in data["parts"] if p["path"]} <= {"app.py"}
    assert {(n["path"], n["reason"]) for n in data["not_reviewed"]} == {
        (".env", "secret file"),
        ("id_rsa", "secret file"),
        ("linked.py", "symbolic link"),
    }
    assert "hunter2" not in done.stdout and "BEGIN OPENSSH" not in done.stdout
    assert "swordfish" not in done.stdout
    text = run(app_repo.root, "HEAD~2", "--dry-run").stdout
    assert (
        "not reviewed: .env (secret file)" in text and "not reviewed: id_rsa (secret file)" in text
    )


def test_a_bad_output_path_is_refused_before_the_model_runs(app_repo, replay_endpoint, tmp_path):
    server = replay_endpoint("valid")
    cases = {
        str(tmp_path / "nonexistent" / "dir" / "x.sarif"): "does not exist",
        str(tmp_path): "is a folder",
    }
    for output, expected in cases.items():
        done = run(app_repo.root, "HEAD~1", "--endpoint", server.url, "-f", "sarif", "-o", output)
        assert done.returncode == 2 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert server.requests == []  # refused before any model call


def test_a_remote_endpoint_needs_consent_before_anything_is_sent(app_repo):
    done = run(app_repo.root, "HEAD~1", "--endpoint", "http://203.0.113.9:1/v1")
    assert done.returncode == 2 and "allow_remote = true" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_clients_notices_are_printed_once(app_repo, replay_endpoint):
    server = replay_endpoint("valid")
    server.answers = ['{"findings": []}']  # an endpoint that ignored the request to think
    done = run(app_repo.root, "HEAD~1", "--endpoint", server.url)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("answered without thinking") == 1
    assert "No findings" in done.stdout
