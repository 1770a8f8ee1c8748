"""Callers of changed code (retrieval/callers.py): the one function review and refactor use."""

from __future__ import annotations

from retrieval import RepoIndex, callers_of_changes, estimate_tokens
from tests.helpers.git_repo import repo_with_files

LONG_BODY = "".join(f"    step_{n} = {n}\n" for n in range(40))
FILES = {
    "app/ratio.py": "def ratio(a, b):\n    return a / b\n\n\ndef unused_helper():\n    return 1\n",
    "app/report.py": (
        "from app.ratio import ratio\n\n\n"
        "def share(done, total):\n"
        "    # ratio of what is done\n"
        "    return ratio(done, total)\n\n\n"
        "def long_report(x):\n" + LONG_BODY + "    return ratio(x, 2)\n"
    ),
    "app/notes.py": "# ratio is explained elsewhere\nNOTE = 'see ratio'\n",
}


def _index(tmp_path):
    return RepoIndex.open(repo_with_files(tmp_path / "r", FILES), None)


def test_callers_whole_or_around_the_use(tmp_path):
    index = _index(tmp_path)
    found = callers_of_changes(index, {"app/ratio.py": [(2, 2)]})
    spans = [(c.path, c.start_line, c.end_line, c.name) for c in found]
    use = 10 + len(LONG_BODY.splitlines())  # `return ratio(x, 2)` in long_report
    assert spans == [
        ("app/report.py", 4, 6, "ratio"),  # share(): short, whole
        ("app/report.py", use - 12, use, "ratio"),  # long_report(): the lines around the use
    ]  # not the import, nor notes.py's comment and string
    assert all(c.changed_path == "app/ratio.py" for c in found)


def test_no_callers_for_unused_or_unchanged(tmp_path):
    index = _index(tmp_path)
    assert callers_of_changes(index, {"app/ratio.py": [(5, 6)]}) == []  # unused_helper
    assert callers_of_changes(index, {"app/ratio.py": [(3, 3)]}) == []  # a blank line


def test_context_for_changes_puts_callers_first_within_their_share(tmp_path):
    index = _index(tmp_path)
    ctx = index.context_for_changes(
        {"app/ratio.py": [(2, 2)]}, budget=400, count_tokens=estimate_tokens
    )
    kinds = [i.kind for i in ctx.items]
    callers = [i for i in ctx.items if i.kind == "caller"]
    assert callers and kinds[: len(callers)] == ["caller"] * len(callers)
    assert sum(i.tokens for i in callers) <= 400 * 0.4
    assert any(i.path == "app/ratio.py" and i.start_line <= 1 < 2 <= i.end_line for i in ctx.items)
    assert ctx.used <= 400
