"""Reading diffs from real repositories: every kind of change maps to right-side lines."""

from __future__ import annotations

import os

import pytest

from codeassist.errors import UserError
from codeassist.git import changes_from_git

BASE = "".join(f"line {n}\n" for n in range(1, 21))


def test_single_revision_means_rev_to_head(make_repo):
    repo = make_repo()
    repo.commit("one", {"a.py": BASE})
    repo.commit("two", {"a.py": BASE.replace("line 10\n", "line ten\nextra\n")})
    repo.commit("three", {"b.py": "x = 1\n"})

    last = changes_from_git(repo.root, "HEAD~1")
    assert [f.path for f in last.files] == ["b.py"]
    assert last.label == "HEAD~1..HEAD"

    both = changes_from_git(repo.root, "HEAD~2")
    a = both.file("a.py")
    assert a.status == "modified"
    assert a.added_lines() == [10, 11]
    lines = a.new_lines()
    assert [lines[n - 1] for n in a.added_lines()] == ["line ten", "extra"]
    assert a.diff_ranges() == [(7, 14)]  # three context lines each side
    assert both.file("b.py").status == "added"


def test_range_is_taken_as_git_diff_takes_it(make_repo):
    repo = make_repo()
    first = repo.commit("one", {"a.py": BASE})
    second = repo.commit("two", {"a.py": BASE + "line 21\n"})
    repo.commit("three", {"c.py": "c = 3\n"})

    between = changes_from_git(repo.root, f"{first[:8]}..{second[:8]}")
    assert [f.path for f in between.files] == ["a.py"]
    assert between.file("a.py").added_lines() == [21]
    # An empty side of a range is HEAD, as in git.
    assert [f.path for f in changes_from_git(repo.root, f"{second}..").files] == ["c.py"]


def test_three_dots_use_the_merge_base(make_repo):
    repo = make_repo()
    repo.commit("base", {"a.py": BASE})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature work", {"f.py": "f = 1\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main moved on", {"m.py": "m = 1\n"})
    two_dots = {f.path or f.old_path for f in changes_from_git(repo.root, "main..feature").files}
    three_dots = {f.path for f in changes_from_git(repo.root, "main...feature").files}
    assert two_dots == {"f.py", "m.py"}  # m.py shows as deleted: trees compared directly
    assert three_dots == {"f.py"}


def test_staged_reviews_the_index_not_the_working_tree(make_repo):
    repo = make_repo()
    repo.commit("one", {"a.py": BASE})
    repo.write("a.py", BASE.replace("line 5\n", "staged five\n"))
    repo.git("add", "a.py")
    repo.write("a.py", BASE.replace("line 5\n", "unstaged five\n"))  # not part of the commit
    repo.write("untracked.py", "u = 1\n")

    staged = changes_from_git(repo.root, staged=True)
    assert [f.path for f in staged.files] == ["a.py"]
    a = staged.file("a.py")
    assert a.new_lines()[4] == "staged five"
    assert a.added_lines() == [5]
    assert staged.target is None


def test_staged_in_a_repository_without_commits(make_repo):
    repo = make_repo()
    repo.write("first.py", "print('hi')\n")
    repo.git("add", "first.py")
    staged = changes_from_git(repo.root, staged=True)
    assert staged.base is None
    assert staged.file("first.py").added_lines() == [1]


def test_renames_keep_both_paths_and_map_edits(make_repo):
    repo = make_repo()
    repo.commit("one", {"old/name.py": BASE})
    (repo.root / "new").mkdir()
    repo.git("mv", "old/name.py", "new/name.py")
    repo.write("new/name.py", BASE.replace("line 20\n", "line twenty\n"))
    repo.git("add", "new/name.py")
    repo.commit("rename")
    change = changes_from_git(repo.root, "HEAD~1").files
    assert len(change) == 1
    renamed = change[0]
    assert (renamed.status, renamed.old_path, renamed.path) == (
        "renamed",
        "old/name.py",
        "new/name.py",
    )
    assert renamed.similarity and renamed.similarity >= 80
    assert renamed.added_lines() == [20]
    assert renamed.display_path == "old/name.py -> new/name.py"


def test_deletions_have_no_reviewed_lines(make_repo):
    repo = make_repo()
    repo.commit("one", {"gone.py": BASE, "kept.py": BASE})
    repo.git("rm", "-q", "gone.py")
    repo.write("kept.py", BASE.replace("line 3\n", ""))
    repo.git("add", "kept.py")
    repo.commit("delete")
    changes = changes_from_git(repo.root, "HEAD~1")
    gone = next(f for f in changes.files if f.old_path == "gone.py")
    assert gone.status == "deleted" and gone.path is None and not gone.reviewable
    kept = changes.file("kept.py")
    assert kept.added_lines() == []  # only a deletion: the context lines around it remain
    assert kept.diff_ranges() == [(1, 5)]
    assert [changes.file(p) for p in ("kept.py",)] and [f.path for f in changes.reviewable()] == [
        "kept.py"
    ]


def test_binary_files_are_listed_but_not_reviewed(make_repo):
    repo = make_repo()
    repo.commit("one", {"a.py": BASE})
    repo.commit(
        "blob", {"img.png": b"\x89PNG\r\n\x1a\n\x00\x00binary\x00data", "a.py": BASE + "z\n"}
    )
    changes = changes_from_git(repo.root, "HEAD~1")
    image = changes.file("img.png")
    assert image.binary and image.hunks == [] and image.new_text is None
    assert [f.path for f in changes.reviewable()] == ["a.py"]


def test_merge_commit_against_its_first_parent(make_repo):
    repo = make_repo()
    repo.commit("base", {"a.py": BASE})
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("topic", {"t.py": "t = 1\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"m.py": "m = 1\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    changes = changes_from_git(repo.root, "HEAD~1")  # first parent: what the merge brought in
    assert [f.path for f in changes.files] == ["t.py"]
    assert changes.file("t.py").added_lines() == [1]
    # Second parent: what main had that topic did not.
    assert [f.path for f in changes_from_git(repo.root, "HEAD^2").files] == ["m.py"]


def test_first_commit_needs_root_and_says_so(make_repo):
    repo = make_repo()
    repo.commit("only", {"a.py": BASE, "b.py": "b = 2\n"})
    with pytest.raises(UserError, match=r"first commit.*--root"):
        changes_from_git(repo.root, "HEAD~1")
    everything = changes_from_git(repo.root, root=True)
    assert everything.base is None
    assert {f.path: f.status for f in everything.files} == {"a.py": "added", "b.py": "added"}
    assert everything.file("a.py").added_lines() == list(range(1, 21))


def test_detached_head(make_repo):
    repo = make_repo()
    repo.commit("one", {"a.py": BASE})
    second = repo.commit("two", {"a.py": BASE + "line 21\n"})
    repo.commit("three", {"b.py": "b\n"})
    repo.git("checkout", "-q", "--detach", second)
    changes = changes_from_git(repo.root, "HEAD~1")
    assert [f.path for f in changes.files] == ["a.py"]
    repo.write("a.py", BASE + "line 21\nline 22\n")
    repo.git("add", "a.py")
    assert changes_from_git(repo.root, staged=True).file("a.py").added_lines() == [22]


def test_paths_limit_the_review(make_repo):
    repo = make_repo()
    repo.commit("one", {"src/a.py": BASE, "docs/x.md": "x\n"})
    repo.commit("two", {"src/a.py": BASE + "more\n", "docs/x.md": "y\n"})
    changes = changes_from_git(repo.root, "HEAD~1", paths=[str(repo.root / "src")])
    assert [f.path for f in changes.files] == ["src/a.py"]


def test_odd_file_names_and_carriage_returns(make_repo):
    repo = make_repo()
    repo.commit("one", {"dir with space/ünï.py": "a\r\nb\r\n"})
    repo.commit("two", {"dir with space/ünï.py": "a\r\nB\x0cpage\r\nc\r\n"})
    change = changes_from_git(repo.root, "HEAD~1").files[0]
    assert change.path == "dir with space/ünï.py"
    assert change.added_lines() == [2, 3]
    assert change.new_lines()[1] == "B\x0cpage\r"  # a form feed does not start a new line


def test_usage_errors_are_clear(make_repo, tmp_path):
    repo = make_repo()
    with pytest.raises(UserError, match="not inside a git repository"):
        changes_from_git(tmp_path.parent, "HEAD")
    with pytest.raises(UserError, match="no commits yet"):
        changes_from_git(repo.root, "HEAD~1")
    repo.commit("one", {"a.py": BASE})
    with pytest.raises(UserError, match="unknown revision 'nope'"):
        changes_from_git(repo.root, "nope")
    with pytest.raises(UserError, match=r"'a.py' is a path, not a revision.*HEAD~1 a.py"):
        changes_from_git(repo.root, "a.py")
    with pytest.raises(UserError, match="only one of"):
        changes_from_git(repo.root, "HEAD", staged=True)
    with pytest.raises(UserError, match="say what to review"):
        changes_from_git(repo.root)


def test_secrets_and_links_are_named_but_their_text_is_never_read(make_repo):
    repo = make_repo()
    repo.commit("one", {"app.py": "x = 1\n", "old.env": "A=1\n"})
    repo.write("app.py", "x = 2\n")
    repo.write(".env", "API_TOKEN=hunter2\n")
    repo.write("deploy/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    repo.write("certs/server.pem", "-----BEGIN CERTIFICATE-----\n")
    os.symlink("/etc/passwd", repo.root / "passwd.py")
    repo.git("mv", "old.env", "settings_copy.py")  # a secret under an innocent name
    repo.git("add", "-A")
    changes = changes_from_git(repo.root, staged=True)
    assert [c.path for c in changes.reviewable()] == ["app.py"]
    assert dict(changes.not_reviewed()) == {
        ".env": "secret file",
        "deploy/id_rsa": "secret file",
        "certs/server.pem": "secret file",
        "passwd.py": "symbolic link",
        "old.env -> settings_copy.py": "secret file",
    }
    held = repr([(c.new_text, c.hunks) for c in changes.files])
    assert "hunter2" not in held and "BEGIN" not in held and "A=1" not in held
