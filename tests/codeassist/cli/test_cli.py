"""The `codeassist` command line as a user runs it: a real subprocess of the console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from codeassist import __version__
from tests.helpers.git_repo import GitRepo

EXE = shutil.which("codeassist") or f"{sys.executable} -m codeassist.cli.main"


def run(*args: str, cwd=None, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200", **(env_extra or {}))
    return subprocess.run(
        [*EXE.split(), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"codeassist {__version__}"


def test_help_lists_every_command_group():
    result = run("--help")
    assert result.returncode == 0
    for name in ["serve", "lsp", "review", "index", "context", "model", "hook", "config", "doctor"]:
        assert f" {name} " in result.stdout, name


def test_doctor_says_there_is_no_gpu_and_how_to_configure_a_model(tmp_path):
    result = run("doctor", cwd=tmp_path)
    lines = result.stdout.splitlines()
    gpu = next(line for line in lines if " gpu " in f" {line} ")
    assert "no GPU" in gpu and "CUDA is not available" in gpu
    model = next(line for line in lines if line.split()[1] == "model")
    assert model.startswith("FIX") and "CODEASSIST_MODEL_PATH" in model
    for name in ["python", "torch", "transformers", "bitsandbytes", "daemon"]:
        assert any(line.split()[1] == name for line in lines), name
    assert result.returncode == 1


def test_doctor_accepts_the_tiny_checkpoint(tiny_checkpoint, tmp_path):
    result = run("doctor", cwd=tmp_path, env_extra={"CODEASSIST_MODEL_PATH": str(tiny_checkpoint)})
    model = next(line for line in result.stdout.splitlines() if line.split()[1] == "model")
    assert model.startswith("OK") and "gemma4_text" in model and "8 experts" in model
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: str(p / "missing"), "does not exist"),
        (lambda p: str(p), "has no config.json"),
        (
            lambda p: (
                (p / "config.json").write_text(json.dumps({"model_type": "llama"})) and str(p)
            ),
            "'llama' checkpoint, not Gemma 4",
        ),
    ],
)
def test_doctor_names_a_bad_model_path(tmp_path, make, expected):
    path = make(tmp_path)
    result = run("doctor", cwd=tmp_path, env_extra={"CODEASSIST_MODEL_PATH": path})
    model = next(line for line in result.stdout.splitlines() if line.split()[1] == "model")
    assert model.startswith("FIX") and expected in model


def test_config_prints_values_and_sources(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".codeassist.toml").write_text("[completion]\nbudget_tokens = 512\n")
    result = run(
        "config",
        "--json",
        cwd=tmp_path,
        env_extra={"CODEASSIST_MODEL_ENDPOINT": "http://127.0.0.1:9/v1"},
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows["completion.budget_tokens"] == {
        "value": 512,
        "source": f"{tmp_path / '.codeassist.toml'} [completion]",
    }
    assert rows["model.endpoint"]["source"] == "env CODEASSIST_MODEL_ENDPOINT"
    assert rows["model.path"]["source"] == "default"
    table = run("config", cwd=tmp_path)
    assert "completion.budget_tokens" in table.stdout and "512" in table.stdout


def test_bad_config_is_one_clear_line_and_exit_2(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".codeassist.toml").write_text("[completion]\nbudget_tokens = [1]\n")
    result = run("config", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert ".codeassist.toml [completion]: 'completion.budget_tokens' must be an integer" in message


def test_malformed_toml_exit_2(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".codeassist.toml").write_text("[completion\n")
    result = run("config", cwd=tmp_path)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_tiny_writes_a_loadable_checkpoint(tmp_path):
    result = run("model", "make-tiny", str(tmp_path / "tiny"))
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "tiny" / "config.json").read_text())
    assert config["model_type"] == "gemma4_text" and config["enable_moe_block"] is True
    assert (tmp_path / "tiny" / "tokenizer.json").is_file()
    assert list((tmp_path / "tiny").glob("*.safetensors"))


def test_a_repository_config_that_sets_the_endpoint_is_ignored_with_one_warning(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".codeassist.toml").write_text(
        '[model]\nendpoint = "http://203.0.113.9/v1"\n[review]\nfail_on = "warning"\n'
    )
    result = run("config", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows["model.endpoint"]["value"] == "daemon"
    assert rows["review.fail_on"]["value"] == "warning"
    (warning,) = [line for line in result.stderr.splitlines() if "ignored" in line]
    assert str(tmp_path / ".codeassist.toml") in warning and "[model] endpoint" in warning
    doctor = run("doctor", cwd=tmp_path)
    sent = next(line for line in doctor.stdout.splitlines() if "code sent" in line)
    assert sent.startswith("OK") and "daemon on this machine" in sent


def test_doctor_refuses_a_remote_endpoint_without_consent(tmp_path):
    from codeassist.cli.doctor import check_destination
    from codeassist.config import load_settings

    remote = {"model.endpoint": "https://api.example.com/v1"}
    sent = check_destination(load_settings(repo=tmp_path, overrides=remote))
    assert sent.status == "FIX" and "api.example.com" in sent.detail
    assert "allow_remote" in sent.detail
    allowed = load_settings(repo=tmp_path, overrides={**remote, "model.allow_remote": True})
    sent = check_destination(allowed)
    assert sent.status == "WARN" and "OFF this machine" in sent.detail
    local = load_settings(repo=tmp_path, overrides={"model.endpoint": "http://127.0.0.1:8080/v1"})
    assert check_destination(local).status == "OK"


@pytest.fixture
def small_repo(tmp_path):
    root = GitRepo(tmp_path / "repo").root
    (root / "b.py").write_text("def helper(x):\n    return x + 1\n\n\nvalue = helper(2)\n")
    (root / "c.py").write_text("from b import helper\n\nprint(helper(3))\n")
    (root / ".env").write_text("TOKEN=hunter2\n")
    return root


def test_user_text_is_never_read_as_markup_or_emoji(small_repo):
    result = run("context", "b.py:-1", cwd=small_repo)
    assert result.returncode == 2
    assert "b.py:-1: expected PATH:LINE" in result.stderr
    assert "\N{THUMBS DOWN SIGN}" not in result.stderr
    markup = run("context", "[bold]b.py:x", cwd=small_repo)
    assert "[bold]b.py:x" in markup.stderr


def test_context_batch_answers_every_line(small_repo, tmp_path):
    cases = [
        {"path": "c.py", "line": 3, "budget": 500},
        {"path": "b.py", "line": 1, "buffer": 12, "budget": 500},  # not a string
        "not an object",
        {"path": "c.py", "line": True, "budget": 500},
        {"path": "c.py", "budget": 500},
        {"path": "../../etc/passwd", "line": 1, "budget": 500},
        {"path": ".env", "line": 1, "budget": 500},
        {"path": "c.py", "line": 99, "budget": 500},
        {"path": "c.py", "line": 1, "col": "x", "budget": 500},
        {"path": "b.py", "line": 2, "buffer": "def helper(x):\n    return x\n", "budget": 500},
    ]
    lines = [json.dumps(case) for case in cases] + ["{not json"]
    batch = tmp_path / "cases.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    result = run("context", "--batch", str(batch), cwd=small_repo)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(lines)
    ok = [n for n, a in enumerate(answers) if "error" not in a]
    assert ok == [0, 9]
    assert any(item["path"] == "b.py" for item in answers[0]["items"])
    assert "'buffer' must be a string" in answers[1]["error"]
    assert "secret file" in answers[6]["error"]
    assert "outside the repository" in answers[5]["error"]
    assert all("Traceback" not in a.get("error", "") for a in answers)


def test_context_refuses_what_the_index_refuses_without_reading_it(small_repo):
    huge = small_repo / "huge.py"
    with open(huge, "wb") as file:
        file.truncate(3 * 2**30)  # sparse: 3 GiB of zeros that cost no disk
    code = (
        "import resource, subprocess, sys; "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(done.returncode); print(done.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *EXE.split(), "context", "huge.py:1"],
        cwd=small_repo,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    assert out[0] == "2"
    assert "huge.py: not indexed: too large" in " ".join(out[1:-1])
    assert int(out[-1]) < 400_000  # KiB: the 3 GiB were never read
    secret = run("context", ".env:1", cwd=small_repo)
    assert secret.returncode == 2 and "secret file" in secret.stderr
    assert "hunter2" not in secret.stdout + secret.stderr


def test_an_unusable_index_cache_is_one_warning_not_an_error(small_repo, tmp_path):
    cache_home = tmp_path / "cache-home"
    (cache_home / "codeassist").mkdir(parents=True)
    (cache_home / "codeassist" / "index").write_text("a file where the cache folder goes")
    result = run(
        "context", "c.py:3", "--json", cwd=small_repo, env_extra={"XDG_CACHE_HOME": str(cache_home)}
    )
    assert result.returncode == 0, result.stderr
    assert any(item["path"] == "b.py" for item in json.loads(result.stdout)["items"])
    warnings = [line for line in result.stderr.splitlines() if "cannot be used" in line]
    assert len(warnings) == 1 and "in memory" in warnings[0]
