"""Text, JSON, SARIF and rdjsonl reports; the machine formats checked by their real validators."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from codeassist.git import changes_from_git
from codeassist.report import print_text, to_json, to_rdjsonl, to_sarif
from codeassist.tasks.review import ReviewResult
from codeassist.tasks.review_findings import Dropped, Finding

VALIDATORS = Path(__file__).with_name("validators")
BIN = VALIDATORS / "node_modules" / ".bin"


@pytest.fixture(scope="session")
def validators() -> Path:
    """The npm validators, installed from the lockfile once (`npm ci`) when missing."""
    if not all((BIN / tool).exists() for tool in ("sarif-multitool", "rdformat-validator", "ajv")):
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(
                "npm is needed for the SARIF and rdjsonl validators: install Node.js 18+ with "
                "npm (Debian: apt-get install -y nodejs npm), then run "
                "`npm ci --prefix tests/codeassist/review/validators`."
            )
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=VALIDATORS,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci in {VALIDATORS} failed:\n{done.stderr[-3000:]}"
    return BIN


@pytest.fixture
def reviewed(make_repo):
    """A result with findings in a plain file and in a file whose name needs URI escaping."""
    repo = make_repo()
    repo.commit("one", {"src/app.py": "a = 1\n", "dir with space/ünï.py": "x = 1\n"})
    repo.commit(
        "two",
        {
            "src/app.py": "a = 1\nb = a / 0\nc = [\n    1,\n]\n",
            "dir with space/ünï.py": "x = 1\ny = 'é' * 2\n",
        },
    )
    changes = changes_from_git(repo.root, "HEAD~1")
    findings = [
        Finding("dir with space/ünï.py", 2, 2, "info", "maintainability", "Unclear name y"),
        Finding("src/app.py", 2, 2, "error", "bug", "Division by zero.", "b = a / 1"),
        Finding("src/app.py", 3, 5, "warning", "error-handling", "A list spread over lines."),
    ]
    result = ReviewResult(
        "ok", findings, dropped=[Dropped({"line": 99}, "line 99 is outside the diff")]
    )
    return changes, result


def test_text_groups_by_file_with_code_lines(reviewed):
    changes, result = reviewed
    console = Console(record=True, width=120)
    print_text(result, changes, console)
    out = console.export_text()
    assert out.index("dir with space/ünï.py") < out.index("src/app.py")
    assert "error bug line 2: Division by zero." in out
    assert "2 │ b = a / 0" in out and "suggested:" in out and "│ b = a / 1" in out
    assert "3 findings in 2 files (1 error, 1 warning, 1 info)" in out
    assert "1 finding dropped" in out and "line 99 is outside the diff" in out


def test_text_says_clearly_when_no_valid_findings(reviewed, tmp_path):
    changes, _ = reviewed
    raw = tmp_path / "raw.txt"
    result = ReviewResult(
        "no_valid_findings", [], problem="the answer holds no JSON object", raw_output_path=raw
    )
    console = Console(record=True, width=200)
    print_text(result, changes, console)
    out = console.export_text()
    assert "The model did not return valid findings" in out
    assert "the answer holds no JSON object" in out and str(raw) in out


def test_json_holds_the_schema_fields(reviewed):
    changes, result = reviewed
    data = json.loads(to_json(result, changes))
    assert data["status"] == "ok" and data["reviewed"] == "HEAD~1..HEAD"
    assert data["findings"][1] == {
        "path": "src/app.py", "line": 2, "end_line": 2, "severity": "error",
        "category": "bug", "message": "Division by zero.", "suggestion": "b = a / 1",
    }  # fmt: skip
    assert "suggestion" not in data["findings"][0]
    assert data["dropped"] == [{"reason": "line 99 is outside the diff", "item": {"line": 99}}]


SCHEMA = Path(__file__).parents[3] / "codeassist" / "report" / "review-report.schema.json"


def _ajv(validators: Path, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(validators / "ajv"), "validate", "-s", str(SCHEMA), "-d", str(data)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_json_validates_against_its_published_schema(reviewed, validators, tmp_path):
    changes, result = reviewed
    failed = ReviewResult("no_valid_findings", [], problem="empty", raw_output_path=tmp_path)
    for name, data in (("ok", result), ("failed", failed)):
        path = tmp_path / f"{name}.json"
        path.write_text(to_json(data, changes))
        done = _ajv(validators, path)
        assert done.returncode == 0, done.stdout + done.stderr
    broken = json.loads(to_json(result, changes))
    broken["findings"][0]["severity"] = "fatal"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    assert _ajv(validators, bad).returncode != 0  # the schema does reject a wrong finding


def test_sarif_validates_with_the_sarif_multitool(reviewed, validators, tmp_path):
    changes, result = reviewed
    log = json.loads(to_sarif(result, changes))
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "codeassist"
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    ]
    assert uris[0] == "dir%20with%20space/%C3%BCn%C3%AF.py" and uris[1] == "src/app.py"
    levels = [r["level"] for r in run["results"]]
    assert levels == ["note", "error", "warning"]
    # 1-based columns, the end just past the last character; the message ends a sentence.
    spread = run["results"][2]["locations"][0]["physicalLocation"]["region"]
    assert spread == {
        "startLine": 3,
        "startColumn": 1,
        "endLine": 5,
        "endColumn": 2,
        "snippet": {"text": "c = [\n    1,\n]"},
    }
    assert run["results"][0]["message"]["text"] == "Unclear name y."
    assert run["results"][1]["fixes"][0]["artifactChanges"][0]["replacements"][0][
        "insertedContent"
    ] == {"text": "b = a / 1"}
    assert run["invocations"][0]["executionSuccessful"] is True
    failed = ReviewResult("no_valid_findings", [], problem="the answer was empty")
    failed_log = json.loads(to_sarif(failed, changes))
    note = failed_log["runs"][0]["invocations"][0]
    assert note["executionSuccessful"] is False
    assert "the answer was empty" in note["toolExecutionNotifications"][0]["message"]["text"]
    for name, data in (("review", log), ("failed", failed_log)):
        sarif = tmp_path / f"{name}.sarif"
        sarif.write_text(json.dumps(data))
        out = tmp_path / f"{name}-validation.sarif"
        done = subprocess.run(
            [str(validators / "sarif-multitool"), "validate", str(sarif), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(out.read_text(encoding="utf-8-sig"))
        problems = [
            (r["ruleId"], r.get("level", "warning"), r["message"].get("id"))
            for r in report["runs"][0].get("results", [])
            if r.get("level", "warning") in ("error", "warning")
        ]
        # informationUri needs a public web page for the tool; codeassist has none to point at.
        assert [p for p in problems if p[2] != "Warning_ProvideToolnformationUri"] == [], problems


def test_rdjsonl_validates_with_rdformat_validator(reviewed, validators, tmp_path):
    changes, result = reviewed
    lines = to_rdjsonl(result, changes).splitlines()
    assert len(lines) == 3
    first = json.loads(lines[1])
    assert first["severity"] == "ERROR" and first["location"]["path"] == "src/app.py"
    assert first["location"]["range"] == {
        "start": {"line": 2, "column": 1},
        "end": {"line": 2, "column": 10},
    }
    assert first["suggestions"] == [{"range": first["location"]["range"], "text": "b = a / 1"}]
    unicode_line = json.loads(lines[0])["location"]["range"]["end"]["column"]
    assert unicode_line == len("y = 'é' * 2".encode()) + 1  # UTF-8 bytes, as reviewdog counts
    files = []
    for n, line in enumerate(lines):  # rdjsonl: every line is one Diagnostic
        path = tmp_path / f"diagnostic{n}.json"
        path.write_text(line)
        files.append(str(path))
    done = subprocess.run(
        [str(validators / "rdformat-validator"), "--strict", "--no-extra-fields",
         "--format", "json", *files],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["success"], done.stdout
    assert report["validFiles"] == 3


def test_the_validators_do_reject_bad_output(validators, tmp_path):
    """The checks above can fail: each validator rejects a broken document."""
    bad_sarif = tmp_path / "bad.sarif"
    bad_sarif.write_text('{"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}')
    out = tmp_path / "v.sarif"
    subprocess.run(
        [str(validators / "sarif-multitool"), "validate", str(bad_sarif), "-o", str(out)],
        capture_output=True, timeout=300,
    )  # fmt: skip
    results = json.loads(out.read_text(encoding="utf-8-sig"))["runs"][0]["results"]
    assert any(r.get("level") == "error" for r in results)
    bad_rd = tmp_path / "bad.json"
    bad_rd.write_text('{"message": "x", "location": {"path": "a.py"}, "severity": "FATAL"}')
    done = subprocess.run(
        [str(validators / "rdformat-validator"), "--strict", str(bad_rd)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
