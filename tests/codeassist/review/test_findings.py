"""Recorded model answers through extraction, schema checks, re-anchoring and dropping."""

from __future__ import annotations

import json

import pytest

from codeassist.gemma4.prompt import split_thinking
from codeassist.git import changes_from_git
from codeassist.tasks.review_findings import (
    InvalidAnswer,
    check_findings,
    extract_findings,
    severity_reaches,
)


@pytest.fixture
def answer_of(recorded_output):
    return lambda name: split_thinking(recorded_output(name))[1]


def test_valid_answer_maps_to_right_side_lines(app_repo, answer_of):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    assert changes.file("app.py").diff_ranges() == [(20, 32)]
    checked = check_findings(extract_findings(answer_of("valid")), changes)
    assert checked.dropped == [] and checked.reanchored == 0
    by_line = {f.line: f for f in checked.findings}
    assert set(by_line) == {23, 32}
    assert (by_line[23].end_line, by_line[23].severity) == (24, "warning")
    ratio = by_line[32]
    assert (ratio.path, ratio.severity, ratio.category) == ("app.py", "error", "bug")
    assert ratio.suggestion == "    return a / b if b else 0.0"
    assert ratio.to_dict().keys() == {
        "path", "line", "end_line", "severity", "category", "message", "suggestion"
    }  # fmt: skip
    lines = changes.file("app.py").new_lines()
    assert lines[ratio.line - 1] == "    return a / b"


def test_wrong_lines_are_reanchored_or_dropped_never_shown_wrong(app_repo, answer_of):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    checked = check_findings(extract_findings(answer_of("wrong_lines")), changes)
    lines = changes.file("app.py").new_lines()
    shown = [(f.line, f.end_line, f.severity, f.category) for f in checked.findings]
    assert shown == [(23, 23, "warning", "correctness"), (26, 32, "error", "performance"),
                     (32, 32, "error", "bug")]  # fmt: skip
    assert checked.reanchored == 2  # 30 -> 32 and 99 -> 23, by the code they quoted
    assert lines[31] == "    return a / b" and lines[22] == "    if not values:"
    reasons = sorted(d.reason for d in checked.dropped)
    assert len(reasons) == 5
    assert any("line 18 of app.py is outside the diff" in r for r in reasons)  # quote agrees
    assert any("line 5 of app.py is outside the diff" in r for r in reasons)
    assert any("missing.py is not among the changed files" in r for r in reasons)
    assert any("has 32 lines" in r for r in reasons)
    assert any("'bogus'" in r for r in reasons)
    for finding in checked.findings:  # every shown finding touches the diff, inside the file
        assert 20 <= finding.line <= finding.end_line <= 32


def test_any_line_keeps_findings_outside_the_diff_that_point_at_real_code(app_repo, answer_of):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    checked = check_findings(
        extract_findings(answer_of("wrong_lines")), changes, only_changed=False
    )
    lines = {f.line for f in checked.findings}
    assert {5, 18}.issubset(lines)  # now allowed: they exist in the reviewed version
    assert 40 not in lines  # still past the end of the file
    assert not any(f.path == "missing.py" for f in checked.findings)


def test_broken_and_empty_answers_are_invalid(answer_of, recorded_output):
    with pytest.raises(InvalidAnswer, match="no JSON object"):
        extract_findings(answer_of("broken"))
    thinking, answer = split_thinking(recorded_output("empty"))
    assert answer == "" and thinking.startswith("I need to check")
    with pytest.raises(InvalidAnswer, match="empty"):
        extract_findings(answer)
    with pytest.raises(InvalidAnswer, match="not a list"):
        extract_findings('{"findings": "none"}')
    with pytest.raises(InvalidAnswer, match='no "findings" list'):
        extract_findings('{"answer": 42}')


def test_thinking_is_never_parsed_as_findings(recorded_output):
    thinking, answer = split_thinking(recorded_output("thinking"))
    assert '"findings"' in thinking  # the decoy lives in the thought block only
    assert extract_findings(answer) == []


def test_schema_checks_and_aliases(app_repo):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    items = [
        {"file": "b/app.py", "start_line": "32", "level": "High", "type": "Error Handling",
         "description": "  Unchecked division.  ", "quote": "+    return a / b"},
        {"path": "app.py", "line": 32, "severity": "error", "message": "b may be zero."},
        {"path": "app.py", "line": 32, "severity": "error", "message": "b may be zero."},
        "not an object",
        {"path": "app.py", "line": True, "severity": "error", "message": "bool line"},
        {"path": "app.py", "line": 24, "severity": "info", "message": ""},
        {"path": "app.py", "line": 0, "severity": "info", "message": "zero"},
    ]  # fmt: skip
    checked = check_findings(items, changes)
    first, second = checked.findings
    assert (first.path, first.line, first.severity, first.category) == (
        "app.py", 32, "error", "error-handling"
    )  # fmt: skip
    assert first.message == "Unchecked division." and second.category == "general"
    assert len(checked.findings) == 2  # the exact duplicate is shown once
    assert [d.reason for d in checked.dropped] == [
        "not a JSON object",
        "line True is not a line number",
        "no message",
        "line 0 is not a line number",
    ]


def test_deleted_renamed_and_binary_files(make_repo):
    repo = make_repo()
    repo.commit("one", {"old.py": "a = 1\nb = 2\n", "gone.py": "x = 1\n", "img.bin": b"\0\1"})
    repo.git("mv", "old.py", "new.py")
    repo.write("new.py", "a = 1\nb = 3\n")
    repo.git("add", "new.py")
    repo.git("rm", "-q", "gone.py")
    repo.commit("two", {"img.bin": b"\0\2"})
    changes = changes_from_git(repo.root, "HEAD~1")
    items = [
        {"path": "old.py", "line": 2, "severity": "error", "message": "old name, new lines"},
        {"path": "gone.py", "line": 1, "severity": "error", "message": "deleted"},
        {"path": "img.bin", "line": 1, "severity": "error", "message": "binary"},
    ]
    checked = check_findings(items, changes)
    assert [(f.path, f.line) for f in checked.findings] == [("new.py", 2)]
    assert [d.reason for d in checked.dropped] == [
        "gone.py was deleted: it has no lines to point at",
        "img.bin is binary: it has no lines to point at",
    ]


def test_fail_on_thresholds():
    assert severity_reaches("error", "error") and severity_reaches("warning", "info")
    assert not severity_reaches("warning", "error") and not severity_reaches("error", "never")


def test_stray_json_in_noise_is_not_an_all_clear():
    for noise in ["lorem [] ipsum", "x = [1, 2] and {}", 'junk ["a"] {"k": 1}']:
        with pytest.raises(InvalidAnswer):
            extract_findings(noise)
    assert extract_findings("[]") == []  # the whole answer: an explicit empty list
    assert extract_findings('Sure!\n{"findings": []}\nDone.') == []
    one = '{"path": "a.py", "line": 1, "severity": "info", "message": "m"}'
    assert extract_findings(f"prose {one} prose") == [json.loads(one)]
    assert len(extract_findings(f"noise [{one}, {one}]")) == 2


def test_paths_and_code_quoted_the_way_the_prompt_shows_them(app_repo):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    items = [
        {"path": "./app.py", "line": 23, "severity": "warning", "category": "correctness",
         "message": "Empty input.", "code": "    if not values:"},
        # the quote copied with the prompt's line number and marker, on a wrong line
        {"path": "app.py", "line": 25, "severity": "error", "category": "bug",
         "message": "b may be zero.", "code": " 32 +     return a / b"},
    ]  # fmt: skip
    checked = check_findings(items, changes)
    assert [(f.path, f.line) for f in checked.findings] == [("app.py", 23), ("app.py", 32)]
    assert checked.dropped == [] and checked.reanchored == 1
