"""What an editor review looks at: a buffer, a selection, or uncommitted work with unsaved text."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeassist.errors import UserError
from codeassist.tasks.review_sources import diff_hunks, file_review, uncommitted_review
from tests.helpers.git_repo import repo_with_files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"a.py": "one = 1\ntwo = 2\nthree = 3\n", "gone.py": "x = 1\n"}
    return repo_with_files(tmp_path, files)


def test_diff_hunks_number_the_right_side():
    hunks = diff_hunks("a\nb\nc\n", "a\nB\nc\nd\n", context=0)
    lines = [(d.kind, d.text, d.old_line, d.new_line) for h in hunks for d in h.lines]
    assert lines == [("-", "b", 2, None), ("+", "B", None, 2), ("+", "d", None, 4)]
    (whole,) = diff_hunks("a\nb\nc\n", "a\nB\nc\nd\n", context=3)
    assert (whole.new_start, whole.new_count) == (1, 4)


def test_selection_review_covers_only_the_selected_lines(repo):
    changes = file_review(repo, str(repo / "a.py"), "one = 1\ntwo = 2\nthree = 3\n", (2, 3))
    (change,) = changes.files
    assert change.path == "a.py"
    assert change.diff_ranges() == [(2, 3)]
    assert changes.label == "a.py:2-3"


def test_uncommitted_review_sees_unsaved_buffers_new_and_deleted_files(repo):
    (repo / "gone.py").unlink()
    (repo / "new.py").write_text("fresh = True\n")
    buffers = {str(repo / "a.py"): "one = 1\ntwo = 22\nthree = 3\n"}

    def read(path: str):
        if path in buffers:
            return buffers[path]
        try:
            return Path(path).read_text()
        except OSError:
            return None

    changes = uncommitted_review(repo, read, open_paths=list(buffers))
    by_path = {(f.path or f.old_path): f for f in changes.files}
    assert by_path["a.py"].status == "modified" and by_path["a.py"].added_lines() == [2]
    assert by_path["new.py"].status == "added"
    assert by_path["gone.py"].status == "deleted"


def test_nothing_uncommitted_and_not_a_repository_are_clear_errors(repo, tmp_path_factory):
    with pytest.raises(UserError, match="no uncommitted changes"):
        uncommitted_review(repo, lambda p: Path(p).read_text())
    elsewhere = tmp_path_factory.mktemp("plain")
    with pytest.raises(UserError, match="not in a git repository"):
        uncommitted_review(elsewhere, lambda p: None)


def test_secrets_links_out_and_files_outside_the_workspace_are_never_read(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "notes.py"
    outside.write_text("secret = 1\n")
    (repo / ".env").write_text("TOKEN=hunter2\n")
    (repo / "id_rsa").write_text("key\n")
    (repo / "link.py").symlink_to(outside)
    (repo / "other").mkdir()
    (repo / "other" / "b.py").write_text("b = 1\n")
    (repo / "work").mkdir()
    (repo / "work" / "c.py").write_text("c = 1\n")
    read_paths = []

    def read(path: str):
        read_paths.append(Path(path).name)
        return Path(path).read_text()

    changes = uncommitted_review(repo, read, roots=[repo / "work"])
    assert [f.path for f in changes.reviewable()] == ["work/c.py"]
    assert dict(changes.not_reviewed()) == {
        ".env": "secret file",
        "id_rsa": "secret file",
        "link.py": "outside the workspace",
        "other/b.py": "outside the workspace",
    }
    assert read_paths == ["c.py"]
    with pytest.raises(UserError, match=r"not reviewed: .*\.env \(secret file\)"):
        file_review(repo, str(repo / ".env"), "TOKEN=hunter2\n")
    with pytest.raises(UserError, match="outside the workspace"):
        file_review(repo / "work", str(outside), "secret = 1\n")
