"""Which files get indexed: git's view, ignore files, secrets, binary/huge/minified, symlinks."""

from __future__ import annotations

import os
import sqlite3

from retrieval import RepoIndex
from retrieval.files import IgnoreRules, is_secret, list_files
from tests.helpers.git_repo import repo_with_files, write_files

FILES = {
    "src/app.py": "def main():\n    return 1\n",
    "src/gen/skip.py": "def generated():\n    pass\n",
    "build/out.py": "def built():\n    pass\n",
    ".gitignore": "build/\n*.log\n",
    ".codeassistignore": "src/gen/\n",
    "node_modules/lib/index.js": "function vendored() {}\n",
    "vendor/dep.go": "package dep\nfunc Vendored() {}\n",
    ".env": "SECRET=hunter2\n",
    ".env.local": "SECRET=hunter2\n",
    "certs/server.pem": "-----BEGIN PRIVATE KEY-----\n",
    "keys/deploy.key": "x\n",
    "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    "config/credentials.json": '{"token": "x"}\n',
    "notes.txt": "plain text\n",
}


def test_git_repo_file_set(tmp_path):
    root = repo_with_files(tmp_path / "r", FILES)
    write_files(root, {"src/untracked.py": "def fresh():\n    pass\n", "debug.log": "x\n"})
    files = list_files(root)
    assert "src/app.py" in files
    assert "src/untracked.py" in files  # untracked but not ignored
    assert "src/gen/skip.py" not in files  # .codeassistignore
    assert "build/out.py" not in files  # .gitignore (not committed: ignored before add)
    assert "node_modules/lib/index.js" not in files
    assert "vendor/dep.go" not in files
    for secret in (
        ".env",
        ".env.local",
        "certs/server.pem",
        "keys/deploy.key",
        "id_rsa",
        "config/credentials.json",
    ):
        assert secret not in files
    assert "notes.txt" not in files  # not a supported language


def test_plain_walk_outside_git(tmp_path):
    root = tmp_path / "plain"
    write_files(root, FILES)
    files = list_files(root)
    assert "src/app.py" in files
    assert "build/out.py" not in files  # .gitignore is honoured without git too
    assert "src/gen/skip.py" not in files
    assert not any(is_secret(f) for f in files)
    assert ".env" not in files


def test_secrets_are_never_read_or_remembered(tmp_path):
    root = repo_with_files(tmp_path / "r", FILES)
    cache = tmp_path / "cache"
    idx = RepoIndex.open(root, cache)
    assert idx.paths() == ["src/app.py"]
    idx.close()
    db = sqlite3.connect(cache / "tags.sqlite")
    remembered = {r[0] for r in db.execute("SELECT path FROM stats")}
    assert remembered == {"src/app.py"}


def test_binary_huge_minified_and_symlink_loop(tmp_path):
    root = tmp_path / "r"
    write_files(
        root,
        {
            "ok.py": "def ok():\n    pass\n",
            "blob.py": b"\x00\x01\x02def x(): pass\n",
            "huge.py": "x = 1\n" * 300_000,
            "app.min.js": "function a(){}\n",
            "bundle.js": "var a=1;" * 2000,
            "latin1.py": b"def caf\xe9():\n    return 1\n",
        },
    )
    os.symlink(root, root / "loop")
    os.symlink("/etc/hostname", root / "outside.py")
    idx = RepoIndex.open(root, tmp_path / "cache")
    assert "ok.py" in idx.paths()
    assert "latin1.py" in idx.paths()  # non-UTF-8 text is still indexed
    for skipped in ("blob.py", "huge.py", "app.min.js", "bundle.js", "outside.py"):
        assert skipped not in idx.paths()
    s = idx.summary
    assert s.skipped.get("binary") == 1
    assert s.skipped.get("too large") == 1
    assert s.skipped.get("minified") == 1


def test_unreadable_file_does_not_stop_indexing(tmp_path):
    root = repo_with_files(
        tmp_path / "r", {"a.py": "def a():\n    pass\n", "b.py": "def b(): pass\n"}
    )
    (root / "b.py").unlink()  # tracked by git, gone from disk
    idx = RepoIndex.open(root, tmp_path / "cache")
    assert idx.paths() == ["a.py"]


def test_ignore_rules_negation_and_anchoring():
    rules = IgnoreRules.parse("*.py\n!keep.py\n/top/\n# comment\n")
    assert rules.ignored("a/b.py")
    assert not rules.ignored("a/keep.py")
    assert rules.ignored("top/x.js")
    assert not rules.ignored("a/top/x.js")


def test_git_not_usable_falls_back_to_walk(tmp_path):
    root = repo_with_files(tmp_path / "r", {"a.py": "def a():\n    pass\n"})
    (root / ".git" / "HEAD").write_text("garbage")  # a broken repository
    assert "a.py" in list_files(root)


def test_secret_buffers_are_not_indexed(tmp_path):
    root = repo_with_files(tmp_path / "r", {"a.py": "def a():\n    pass\n"})
    idx = RepoIndex.open(root, None)
    idx.update_buffer("credentials.py", "TOKEN = 'x'\ndef leak():\n    pass\n")
    assert idx.definitions("leak") == []
    idx.update_buffer("ok.py", "def fine():\n    pass\n")
    assert idx.definitions("fine")
