"""confine: no secret file and nothing outside the allowed roots, symlinks resolved."""

from __future__ import annotations

import os

import pytest

from codeassist.confine import OUTSIDE, SECRET, confine, confine_relative


@pytest.fixture
def tree(tmp_path):
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src" / "app.py").write_text("x = 1\n")
    (work / ".env").write_text("TOKEN=1\n")
    (work / "id_rsa").write_text("key\n")
    (tmp_path / "outside.py").write_text("secret = 1\n")
    (tmp_path / "outside.env").write_text("A=1\n")
    os.symlink(tmp_path / "outside.py", work / "src" / "link.py")
    os.symlink(work / ".env", work / "src" / "notes.txt")
    os.symlink("/etc", work / "etc")
    os.symlink(work / "src" / "app.py", work / ".env.local")  # judged by its own name too
    return tmp_path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("work/src/app.py", None),
        ("work/.env", SECRET),
        ("work/id_rsa", SECRET),
        ("work/src/link.py", OUTSIDE),  # a link out of the workspace
        ("work/src/notes.txt", SECRET),  # an innocent name for a secret
        ("work/.env.local", SECRET),  # a secret's name for innocent code
        ("work/etc/passwd", OUTSIDE),
        ("outside.py", OUTSIDE),
        ("work/src/../../outside.py", OUTSIDE),
        ("work/src/../src/app.py", None),
    ],
)
def test_absolute_paths(tree, path, reason):
    assert confine(tree / path, [tree / "work"]) == reason


def test_relative_paths_and_several_roots(tree):
    assert confine("src/app.py", [tree / "work"]) is None
    assert confine("../outside.py", [tree / "work"]) == OUTSIDE
    assert confine(tree / "outside.py", [tree / "work", tree]) is None
    assert confine("/etc/shadow", [tree / "work"]) == OUTSIDE
    assert confine(tree / "work" / "src" / "app.py", []) == OUTSIDE


def test_repository_relative_paths_from_git(tree):
    root = tree / "work"
    assert confine_relative("src/app.py", root) is None
    assert confine_relative("deleted/file.py", root) is None  # judged by name alone
    assert confine_relative("config/.env.production", root) == SECRET
    assert confine_relative("keys/server.pem", root) == SECRET
    assert confine_relative("src/link.py", root) == OUTSIDE
    assert confine_relative("../x.py", root) == OUTSIDE
