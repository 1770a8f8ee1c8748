"""The index: cache reuse, incremental updates, lookups, bad paths."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from retrieval import PathError, RepoIndex
from retrieval.cache import SCHEMA
from tests.helpers.git_repo import repo_with_files
from tests.helpers.sample_code import APP_FILES


def test_cache_reuse_across_content_identical_files(tmp_path):
    cache = tmp_path / "cache"
    a = repo_with_files(tmp_path / "a", APP_FILES)
    first = RepoIndex.open(a, cache)
    assert first.summary.parsed == len(APP_FILES)
    first.close()
    # a second repository with the same contents (another clone, a branch): nothing is parsed
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / "pkg" / "copy_of_util.py").write_text(APP_FILES["pkg/util.py"])
    second = RepoIndex.open(b, cache)
    assert second.summary.parsed == 0
    assert second.summary.cache_hits == second.summary.files
    db = sqlite3.connect(cache / "tags.sqlite")
    (rows,) = db.execute("SELECT COUNT(*) FROM tags").fetchone()
    assert rows == len({v for v in APP_FILES.values()})  # one entry per distinct content


def test_warm_start_reads_no_file(tmp_path):
    root = repo_with_files(tmp_path / "r", APP_FILES)
    RepoIndex.open(root, tmp_path / "cache").close()
    again = RepoIndex.open(root, tmp_path / "cache")
    assert again.summary.unchanged == again.summary.files
    assert again.summary.parsed == 0


@pytest.mark.parametrize("damage", ["garbage", "foreign"])
def test_corrupt_or_foreign_cache_is_rebuilt(tmp_path, damage):
    root = repo_with_files(tmp_path / "r", APP_FILES)
    cache = tmp_path / "cache"
    cache.mkdir()
    db_path = cache / "tags.sqlite"
    if damage == "garbage":
        db_path.write_bytes(b"this is not a database" * 100)
    else:
        db = sqlite3.connect(db_path)
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('schema', 'someone-else-1')")
        db.commit()
        db.close()
    idx = RepoIndex.open(root, cache)
    assert idx.summary.cache_rebuilt
    assert idx.definitions("Account")
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == SCHEMA


def test_lookups(app_repo):
    idx = RepoIndex.open(app_repo, None)
    accounts = {(d.path, d.kind) for d in idx.definitions("Account")}
    assert accounts == {("pkg/models.py", "class"), ("web/account.ts", "class")}
    (dep,) = idx.definitions("deposit")
    assert (dep.kind, dep.scope, dep.start_line, dep.end_line) == ("method", "Account", 11, 14)
    ts = [d for d in idx.definitions("total")]
    assert ts and ts[0].path == "web/account.ts" and ts[0].scope == "Account"
    refs = idx.references("fmt_money")
    assert {(r.path, r.line) for r in refs} == {
        ("pkg/util.py", 1),
        ("pkg/service.py", 2),
        ("pkg/service.py", 8),
    }
    path, line, col, end = refs[0]  # unpacks as a tuple for rename
    assert end - col == len("fmt_money")
    encl = idx.enclosing_definition("pkg/models.py", 13)
    assert encl is not None and encl.name == "deposit"
    assert idx.enclosing_definition(str(app_repo / "pkg/models.py"), 1) is None


def test_buffer_update_is_incremental(app_repo):
    idx = RepoIndex.open(app_repo, None)
    idx.maps()
    text = (app_repo / "pkg/util.py").read_text() + "\n\ndef brand_new(x):\n    return x\n"
    idx.update_buffer("pkg/util.py", text)
    (new,) = idx.definitions("brand_new")
    assert new.path == "pkg/util.py"
    assert "def brand_new(x):" in idx.lines("pkg/util.py")  # the buffer, not the disk
    assert "brand_new" not in (app_repo / "pkg/util.py").read_text()  # disk untouched
    idx.update_buffer(str(app_repo / "pkg/util.py"), None)
    assert idx.definitions("brand_new") == []
    assert len(idx.definitions("fmt_money")) == 1


def test_files_using_found_by_name_or_from_the_whole_map_agree(app_repo, monkeypatch):
    """A few names are looked up file by file, many through the inverted map: same answers,
    and an edit is seen by both."""
    from retrieval import index as index_module

    by_name = RepoIndex.open(app_repo, None)
    whole = RepoIndex.open(app_repo, None)
    monkeypatch.setattr(index_module, "FEW_NAMES", 0)  # `whole` inverts every file at once
    names = ["fmt_money", "Account", "deposit", "total", "missing_name"]
    expected = {n: dict(whole.files_using(n)) for n in names}
    monkeypatch.setattr(index_module, "FEW_NAMES", 32)
    assert {n: by_name.files_using(n) for n in names} == expected
    assert expected["fmt_money"] == {"pkg/service.py": 2, "pkg/util.py": 1}
    assert expected["missing_name"] == {}
    text = (app_repo / "pkg/models.py").read_text() + "\nfmt_money(fmt_money(1))\n"
    for idx in (by_name, whole):
        idx.update_buffer("pkg/models.py", text)
        assert idx.files_using("fmt_money")["pkg/models.py"] == 2


def test_update_file_after_edit_on_disk(app_repo, tmp_path):
    idx = RepoIndex.open(app_repo, tmp_path / "cache")
    idx.maps()
    (app_repo / "pkg/util.py").write_text("def renamed_helper():\n    pass\n")
    idx.update_file("pkg/util.py")
    assert idx.definitions("fmt_money") == []
    assert idx.definitions("renamed_helper")[0].path == "pkg/util.py"
    (app_repo / "pkg/util.py").unlink()
    idx.update_file("pkg/util.py")
    assert idx.definitions("renamed_helper") == []


def test_refresh_picks_up_changes(app_repo, tmp_path):
    cache = tmp_path / "cache"
    RepoIndex.open(app_repo, cache).close()
    (app_repo / "pkg/extra.py").write_text("def extra():\n    pass\n")
    idx = RepoIndex.open(app_repo, cache)
    assert idx.summary.parsed == 1
    assert idx.definitions("extra")


def test_bad_paths_and_lines(app_repo, tmp_path):
    idx = RepoIndex.open(app_repo, None)
    with pytest.raises(PathError, match="outside the repository"):
        idx.update_buffer(str(tmp_path / "elsewhere.py"), "x = 1")
    with pytest.raises(PathError, match="outside the repository"):
        idx.relpath("../escape.py")
    with pytest.raises(PathError, match="past the end"):
        idx.context_for_position("pkg/util.py", 999, 0, buffer=None, budget=100, count_tokens=len)
    with pytest.raises(PathError, match="not a directory"):
        RepoIndex.open(tmp_path / "missing", None)


def test_buffer_edits_reparse_incrementally_and_match_a_fresh_index(app_repo):
    idx = RepoIndex.open(app_repo, None)
    idx.maps()
    path = "pkg/util.py"
    text = (app_repo / path).read_text()
    idx.update_buffer(path, text)
    assert idx.maps().refs  # built now, so the edits below must keep it in step
    # keystrokes: a new function typed a character at a time, then a line deleted
    for i in range(1, 25):
        idx.update_buffer(path, text + "\ndef typed_fn(y):\n    return y"[:i])
    idx.update_buffer(path, text + "\ndef typed_fn(y):\n    return y\n")
    final = "\n".join(text.split("\n")[1:]) + "\ndef typed_fn(y):\n    return y\n"
    idx.update_buffer(path, final)
    assert idx._parsed[path].data == final.encode()  # the kept tree follows the buffer
    fresh = RepoIndex.open(app_repo, None)
    fresh.update_buffer(path, final)
    assert idx.tags(path) == fresh.tags(path)
    names = {d.name for d in fresh.definitions("typed_fn")} | {"fmt_money"}
    for name in sorted(names):
        assert idx.definitions(name) == fresh.definitions(name)
    assert idx.maps().df == fresh.maps().df  # document frequencies kept in step
    mine = {n: m[path] for n, m in idx.maps().refs.items() if path in m}
    assert mine == {n: m[path] for n, m in fresh.maps().refs.items() if path in m}
    assert "typed_fn" in mine and "typed_f" not in mine  # names half-typed are gone again
    idx.update_buffer(path, None)
    assert path not in idx._parsed
    assert idx.definitions("typed_fn") == []


def test_a_dropped_index_is_freed_without_the_cycle_collector(app_repo):
    """Its bulk-loaded objects are frozen for the collector, so no cycle may hold an index."""
    import gc
    import weakref

    from retrieval import estimate_tokens

    idx = RepoIndex.open(app_repo, None)
    assert idx.maps().refs
    text = (app_repo / "pkg/util.py").read_text()
    idx.update_buffer("pkg/util.py", text + "\nx = 1\n")
    idx.context_for_position(
        "pkg/util.py", 2, 0, buffer=None, budget=512, count_tokens=estimate_tokens
    )
    dropped = weakref.ref(idx)
    gc.disable()
    try:
        del idx
        assert dropped() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_pagerank_memo_is_dropped_when_the_graph_changes(app_repo, monkeypatch):
    from retrieval import rank_graph
    from retrieval.rank_graph import _pagerank, personalized_pagerank

    computed = []
    monkeypatch.setattr(
        rank_graph, "_pagerank", lambda index, seeds: computed.append(1) or _pagerank(index, seeds)
    )
    idx = RepoIndex.open(app_repo, None)
    seeds = {"pkg/service.py": 1.0}
    first = personalized_pagerank(idx, seeds)
    assert "pkg/util.py" in first and "pkg/models.py" in first
    assert personalized_pagerank(idx, seeds) == first
    assert len(computed) == 1  # the second answer came from the memo
    # service.py stops using util.py: util drops out of its PageRank at once
    text = (app_repo / "pkg/service.py").read_text()
    idx.update_buffer("pkg/service.py", text.replace("fmt_money", "str"))
    after = personalized_pagerank(idx, seeds)
    assert len(computed) == 2  # the edit dropped the memo
    assert "pkg/util.py" not in after
    idx.caches.neighbors.clear()
    assert after == _pagerank(idx, seeds)  # the same as computed from scratch


def test_cached_tags_equal_a_fresh_parse(app_repo, tmp_path):
    from retrieval.parse import parse_source

    RepoIndex.open(app_repo, tmp_path / "cache").close()
    warm = RepoIndex.open(app_repo, tmp_path / "cache")
    tags = warm.tags("pkg/models.py")
    assert isinstance(tags.raw_terms, tuple)  # term lists: not decoded by a warm start
    assert tags.def_names == ["Account", "__init__", "deposit", "withdraw", "open_account"]
    fresh = parse_source((app_repo / "pkg/models.py").read_bytes(), "python")
    assert tags == fresh
    assert tags.defs[2].name == "deposit" and tags.defs[2].parent == 0
    assert warm.definitions("deposit")[0].scope == "Account"


def test_caches_are_dropped_in_one_place(app_repo):
    from retrieval import estimate_tokens

    idx = RepoIndex.open(app_repo, None)
    idx.context_for_position(
        "pkg/service.py", 6, 4, buffer=None, budget=500, count_tokens=estimate_tokens
    )
    caches = idx.caches
    assert caches.neighbors and caches.pagerank and caches.links
    assert "pkg/service.py" in caches.neighbors and "fmt_money" in caches.links
    idx.update_buffer("pkg/util.py", "def fmt_cents(c):\n    return str(c)\n")
    assert not caches.pagerank  # any edit: every PageRank is stale
    assert "fmt_money" not in caches.links  # names whose definitions changed: edges redone
    assert "pkg/service.py" in caches.neighbors  # other files' edges are kept
    assert idx.recent_paths() == ["pkg/util.py"]
    personalized_pagerank = __import__("retrieval.rank_graph").rank_graph.personalized_pagerank
    personalized_pagerank(idx, {"pkg/service.py": 1.0})
    idx.forget_recent()  # a new session: no recent edits, and PageRanks seeded by them go
    assert idx.recent_paths() == [] and not caches.pagerank
    idx.refresh()
    assert not (caches.neighbors or caches.pagerank or caches.links)


def test_cache_is_owner_only(app_repo, tmp_path):
    import os
    import stat

    cache = tmp_path / "new" / "cache"
    old = os.umask(0o022)  # the usual umask would give 0755 folders and 0644 files
    try:
        idx = RepoIndex.open(app_repo, cache)
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    names = sorted(f.name for f in cache.iterdir())
    assert names == ["tags.sqlite", "tags.sqlite-shm", "tags.sqlite-wal"]  # open, WAL mode
    for f in cache.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    idx.close()
    # a file an older version left world-readable is tightened when opened
    (cache / "tags.sqlite").chmod(0o644)
    RepoIndex.open(app_repo, cache).close()
    assert stat.S_IMODE((cache / "tags.sqlite").stat().st_mode) == 0o600
