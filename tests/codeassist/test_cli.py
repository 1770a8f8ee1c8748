"""The `codeassist` command line as a user runs it: a real subprocess of the console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from codeassist import __version__
from codeassist.cli import placeholders
from codeassist.cli.common import not_built

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


def test_commands_not_built_yet_say_so_and_exit_2():
    for name in placeholders.PENDING:
        result = run(name, "start", "--anything")
        assert result.returncode == 2, name
        assert "not built yet" in result.stderr, name
    app = typer.Typer()
    app.command()(lambda: not_built("thing", 99))
    outcome = CliRunner().invoke(app, [])
    assert outcome.exit_code == 2 and "not built yet (tracked in issue 99)" in outcome.output


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
