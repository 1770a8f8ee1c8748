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


LOCALS = """total = 0


def describe(path, items):
    total = len(path)
    for item in items:
        total += item
    obj.total = report(total=total)

    def inner():
        nonlocal total
        total = 1

    def shadow():
        total = 2
        return total

    squares = [total * x for x in items]
    return f"{path}: {total}"


def other(total):
    return total
"""


def _at(text: str, line: int, word: str, nth: int = 0):
    from codeassist.tasks.edits import Span

    source = text.split("\n")[line]
    col = -1
    for _ in range(nth + 1):
        col = source.index(word, col + 1)
    return Span(line, col, line, col + len(word))


def test_local_variable_is_renamed_within_its_function_by_the_syntax_tree():
    from codeassist.tasks.rename import local_occurrences, plan_local_rename

    spans = local_occurrences("m.py", LOCALS, _at(LOCALS, 4, "total"))
    assert spans is not None and not any(o.shorthand for o in spans)
    edit = plan_local_rename("m.py", Document(LOCALS, 3), spans, "total", "size")
    after = apply_edits(LOCALS, edit.edits)
    assert edit.version == 3
    # The module's total, the attribute, the keyword name, the shadowing function and the
    # other function's parameter keep their names; the closure that says nonlocal follows.
    assert after == (
        LOCALS.replace("    total = len(path)", "    size = len(path)")
        .replace("        total += item", "        size += item")
        .replace("report(total=total)", "report(total=size)")
        .replace("nonlocal total\n        total = 1", "nonlocal size\n        size = 1")
        .replace("[total * x", "[size * x")
        .replace("{total}", "{size}")
    )
    # Asking at any occurrence gives the same scope.
    assert local_occurrences("m.py", LOCALS, _at(LOCALS, 18, "total")) == spans


def test_parameters_are_local_and_module_names_are_not():
    from codeassist.tasks.rename import local_occurrences

    parameter = local_occurrences("m.py", LOCALS, _at(LOCALS, 21, "total"))
    assert [o.span for o in parameter] == [_at(LOCALS, 21, "total"), _at(LOCALS, 22, "total")]
    assert local_occurrences("m.py", LOCALS, _at(LOCALS, 0, "total")) is None  # module level
    assert local_occurrences("m.py", LOCALS, _at(LOCALS, 3, "describe")) is None
    assert local_occurrences("m.py", LOCALS, _at(LOCALS, 7, "total")) is None  # obj.total
    imported = "def f():\n    import os\n    return os.sep\n"
    assert local_occurrences("m.py", imported, _at(imported, 2, "os")) is None
    declared_global = "def f():\n    global n\n    n = 1\n"
    assert local_occurrences("m.py", declared_global, _at(declared_global, 2, "n")) is None
    assert local_occurrences("m.go", "func f(a int) int { return a }", _at("x", 0, "x")) is None


def test_empty_new_name_is_refused_at_once():
    with pytest.raises(EditRefused, match="empty"):
        check_new_name("total", "", "python")


SCRIPT = """const top = 1;
function area(width, height = 2, ...rest) {
  let total = width * height;
  for (let i = 0; i < 3; i++) { total += i; }
  for (const item of rest) { const total = item; }
  if (width) { var wide = total; }
  const shape = {total, key: total};
  const {total: copied} = shape;
  shape.total = total;
  const grow = (by) => total + by + wide;
  return total + top;
}
function other(total) { return total; }
"""


@pytest.mark.parametrize("path", ["shapes.js", "shapes.ts"])
def test_javascript_locals_follow_block_and_function_scopes(path):
    from codeassist.tasks.rename import local_occurrences, plan_local_rename

    found = local_occurrences(path, SCRIPT, _at(SCRIPT, 2, "total"))
    assert found is not None
    edit = plan_local_rename(path, Document(SCRIPT, None), found, "total", "sum")
    # The loop's own const, the property keys and the other function keep their names; the
    # shorthand `{total}` keeps its key.
    assert apply_edits(SCRIPT, edit.edits) == (
        SCRIPT.replace("let total = width", "let sum = width")
        .replace("{ total += i; }", "{ sum += i; }")
        .replace("var wide = total", "var wide = sum")
        .replace("{total, key: total}", "{total: sum, key: sum}")
        .replace("shape.total = total", "shape.total = sum")
        .replace("total + by", "sum + by")
        .replace("return total + top", "return sum + top")
    )
    # `var` is the function's, wherever it is declared; module names are the index's.
    wide = local_occurrences(path, SCRIPT, _at(SCRIPT, 9, "wide"))
    assert [o.span for o in wide] == [_at(SCRIPT, 5, "wide"), _at(SCRIPT, 9, "wide")]
    assert local_occurrences(path, SCRIPT, _at(SCRIPT, 0, "top")) is None
    assert local_occurrences(path, SCRIPT, _at(SCRIPT, 10, "top")) is None
    assert local_occurrences(path, SCRIPT, _at(SCRIPT, 8, "total")) is None  # shape.total
