"""`codeassist index`, `context` (text, --json, --batch) and `eval retrieval` on a real repo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from codeassist.cli.main import app
from codeassist.errors import UserError

BUFFER = "from pkg.models import Account\n\n\ndef go(a: Account):\n    a."


@pytest.fixture
def runner():
    return CliRunner()


def test_index_summary(runner, app_repo):
    r = runner.invoke(app, ["index", str(app_repo), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "indexed 6 files" in r.output and "6 parsed" in r.output
    r = runner.invoke(app, ["index", str(app_repo), "--quiet"])
    assert "0 parsed" in r.output and "6 from cache" in r.output


def _context_json(runner, app_repo, tmp_path, monkeypatch, budget: int) -> dict:
    """`codeassist context --json` at the end of BUFFER (after `a.`), in app_repo."""
    monkeypatch.chdir(app_repo)
    buf = tmp_path / "buf.py"
    buf.write_text(BUFFER)
    args = ["context", "pkg/new.py:5:7", "--buffer", str(buf), "--budget", str(budget), "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_context_json_shape(runner, app_repo, tmp_path, monkeypatch):
    out = _context_json(runner, app_repo, tmp_path, monkeypatch, budget=200)
    assert set(out) == {"budget", "used", "items"}
    assert out["budget"] == 200 and 0 < out["used"] <= 200
    for item in out["items"]:
        assert set(item) == {"path", "start_line", "end_line", "tokens", "kind", "score", "shown"}
        assert not item["path"].startswith("/")
        assert 1 <= item["start_line"] <= item["end_line"]
        if item["kind"] != "outline":
            assert item["shown"] == [[item["start_line"], item["end_line"]]]
    assert any(i["path"] == "pkg/models.py" for i in out["items"])


def test_context_json_says_which_lines_an_outline_shows(runner, app_repo, tmp_path, monkeypatch):
    out = _context_json(runner, app_repo, tmp_path, monkeypatch, budget=100)
    outline = next(i for i in out["items"] if i["kind"] == "outline")
    assert outline["path"] == "pkg/models.py"
    lines = (app_repo / "pkg/models.py").read_text().split("\n")
    shown = [n for start, end in outline["shown"] for n in range(start, end + 1)]
    assert shown == sorted(set(shown))
    assert outline["start_line"] <= shown[0] and shown[-1] <= outline["end_line"]
    texts = [lines[n - 1].strip() for n in shown]
    assert "class Account:" in texts and "def deposit(self, amount: int) -> int:" in texts
    assert "self.balance += amount" not in texts  # a body the outline elides


def test_context_explain_and_text(runner, app_repo):
    r = runner.invoke(
        app,
        ["context", "pkg/service.py:6", "--repo", str(app_repo), "--explain", "--budget", "300"],
    )
    assert r.exit_code == 0, r.output
    assert "# pkg/models.py:" in r.stdout and "why:" in r.stdout


def test_context_batch(runner, app_repo, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps({"path": "pkg/new.py", "line": 5, "col": 7, "buffer": BUFFER, "budget": 150})
        + "\n"
        + json.dumps({"path": "pkg/service.py", "line": 999, "col": 1, "budget": 100})
        + "\nnot json\n"
        + json.dumps({"path": "pkg/util.py", "line": 2, "budget": 50})
        + "\n"
    )
    r = runner.invoke(app, ["context", "--batch", str(cases), "--repo", str(app_repo)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0]["budget"] == 150 and lines[0]["used"] <= 150 and lines[0]["items"]
    assert "error" in lines[1] and "999" in lines[1]["error"]
    assert "error" in lines[2]
    assert lines[3]["budget"] == 50


@pytest.mark.parametrize(
    "args, message",
    [
        (["context", "pkg/util.py"], "expected PATH:LINE"),
        (["context", "pkg/util.py:99"], "has 6 lines"),
        (["context", "/etc/hostname:1"], "outside the repository"),
        (["context", "pkg/nope.py:1"], "no such file"),
        (["context", "pkg/util.py:1", "--budget", "-5"], "--budget"),
    ],
)
def test_context_bad_input(runner, app_repo, args, message):
    r = runner.invoke(app, [*args, "--repo", str(app_repo)])
    # main() turns a UserError into one line on stderr and exit status 2
    assert isinstance(r.exception, UserError), r.output
    assert r.exception.exit_code == 2
    assert message in str(r.exception)


def test_eval_retrieval_small_repo(runner, app_repo):
    r = runner.invoke(
        app, ["eval", "retrieval", str(app_repo), "--cases", "5", "--budgets", "200,2000"]
    )
    assert r.exit_code == 0, r.output
    assert "codeassist" in r.stdout and "BM25 windows" in r.stdout and "import set" in r.stdout
