"""Renames edit exactly the given locations, across files, and refuse stale or bad names."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeassist.tasks.edits import EditRefused, apply_edits
from codeassist.tasks.refactor import read_from_disk
from codeassist.tasks.rename import Document, Location, check_new_name, plan_rename


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("def load(path):\n    return path\n\n# load is documented here\n")
    b.write_text("from a import load\n\nload('x')\nunload = 1\n")
    return a, b


def test_rename_touches_exactly_the_locations(files):
    a, b = files
    locations = [
        Location(str(a), 0, 4),
        Location(str(b), 0, 14),
        Location(str(b), 2, 0),
        Location(str(b), 2, 0),  # duplicates from definitions + references count once
    ]
    plans = plan_rename("load", "read_config", locations, read_from_disk, "python")
    assert [p.path for p in plans] == [str(a), str(b)]
    assert all(p.version is None for p in plans)
    texts = {p.path: apply_edits(read_from_disk(p.path).text, p.edits) for p in plans}
    # The comment and `unload` are not references: they stay as they were.
    assert texts[str(a)] == "def read_config(path):\n    return path\n\n# load is documented here\n"
    assert texts[str(b)] == "from a import read_config\n\nread_config('x')\nunload = 1\n"


def test_open_buffer_version_is_used(files):
    a, _ = files

    def read(path):
        return Document("x = 1\ndef load(): pass\n", 12)

    (plan,) = plan_rename("load", "fetch", [Location(str(a), 1, 4)], read, "python")
    assert plan.version == 12


def test_location_that_no_longer_holds_the_name_refuses_everything(files):
    a, b = files
    with pytest.raises(EditRefused, match=r"b\.py:2 no longer holds 'load'"):
        plan_rename(
            "load", "fetch", [Location(str(a), 0, 4), Location(str(b), 1, 0)], read_from_disk
        )
    assert "def load(path)" in a.read_text()


@pytest.mark.parametrize(
    ("new", "message"),
    [("load", "same as the old"), ("2fast", "not a valid identifier"), ("class", "reserved")],
)
def test_bad_new_names(new, message):
    with pytest.raises(EditRefused, match=message):
        check_new_name("load", new, "python")


def test_no_locations_is_a_clear_refusal():
    with pytest.raises(EditRefused, match="knows no occurrences"):
        plan_rename("load", "fetch", [], read_from_disk)


def test_rename_through_the_real_index_skips_strings_and_comments(tmp_path):
    from codeassist.config import RefactorSettings
    from codeassist.tasks.edits import Span
    from codeassist.tasks.refactor import Action, RefactorRequest, run_refactor
    from retrieval import RepoIndex

    (tmp_path / "a.py").write_text(
        "import functools\n\n\n@functools.cache\ndef load(path):\n    return path\n"
    )
    (tmp_path / "b.py").write_text('from a import load\n\nprint(load("y"))  # load\nx = "load"\n')
    index = RepoIndex.open(tmp_path)
    buffer = (tmp_path / "b.py").read_text() + "load(1)\n"  # unsaved text of the open file
    index.update_buffer("b.py", buffer)
    request = RefactorRequest(
        str(tmp_path / "b.py"),
        buffer,
        3,
        Action.RENAME,
        Span(2, 6, 2, 10),
        new_name="fetch",
        root=str(tmp_path),
    )
    result = run_refactor(request, client=None, settings=RefactorSettings(), index=index)
    texts = {}
    for plan in result.edits:
        base = buffer if plan.path == request.path else Path(plan.path).read_text()
        texts[plan.path] = apply_edits(base, plan.edits)
        assert plan.version == (3 if plan.path == request.path else None)
    assert texts[str(tmp_path / "a.py")].count("def fetch(path):") == 1
    assert texts[str(tmp_path / "b.py")] == (
        'from a import fetch\n\nprint(fetch("y"))  # load\nx = "load"\nfetch(1)\n'
    )
    assert result.new_name == "fetch"


def test_names_the_repository_does_not_define_are_not_renamed(tmp_path):
    from codeassist.tasks.refactor import index_locations, offers
    from retrieval import RepoIndex

    (tmp_path / "a.py").write_text("class A:\n    def run(self):\n        print(self)\n")
    index = RepoIndex.open(tmp_path)
    with pytest.raises(EditRefused, match="'print' is not defined in this repository"):
        index_locations(index, str(tmp_path), "print")
    text = (tmp_path / "a.py").read_text()
    from codeassist.tasks.edits import Span

    on_self = offers(str(tmp_path / "a.py"), text, Span(2, 15, 2, 15))
    assert not any(o.symbol == "self" for o in on_self)
    assert any(o.symbol == "print" for o in offers(str(tmp_path / "a.py"), text, Span(2, 9, 2, 9)))
