"""Eval cases (`codeassist eval retrieval`): what the `ast` generator counts as each group."""

from __future__ import annotations

from retrieval.evaluation.cases import IMPORTED_NAME, MEMBER_ACCESS, build_cases
from retrieval.evaluation.run import covers_header, shown_spans
from retrieval.model import ContextItem, PackedContext
from tests.helpers.git_repo import repo_with_files

FILES = {
    "lib/__init__.py": "",
    "lib/store.py": (
        "class Store:\n"
        "    def fetch_rows(self, key):\n"
        "        return []\n\n"
        "    def extend(self, rows):\n"  # a list's method name too: never a case
        "        pass\n\n"
        "    def read(self):\n"  # a file's method name too: never a case
        "        pass\n"
    ),
    "lib/base.py": "class Base:\n    def helper_step(self):\n        return 1\n",
    "lib/util.py": "def shout(text):\n    return text.upper()\n",
    "app/__init__.py": "",
    "app/main.py": (
        "import io\n"
        "from lib.base import Base\n"
        "from lib.util import shout\n\n\n"
        "def run(store, fp):\n"
        "    rows = store.fetch_rows(1)\n"  # member access: unique method, untyped receiver
        "    items = []\n"
        "    items.extend(rows)\n"  # a list: excluded
        "    data = io.BytesIO()\n"
        "    data.read()\n"  # an object from outside the repository: excluded
        "    return shout(rows)\n"  # imported name
        "\n\n"
        "class Job(Base):\n"
        "    def go(self):\n"
        "        return self.helper_step()\n"  # member access through self (a base's method)
    ),
}


def test_groups_and_exclusions(tmp_path):
    root = repo_with_files(tmp_path / "r", FILES)
    cases = build_cases(root, 10)
    got = {(c.group, c.symbol, c.target.path, c.target.header_line) for c in cases}
    assert got == {
        (MEMBER_ACCESS, "fetch_rows", "lib/store.py", 2),
        (MEMBER_ACCESS, "helper_step", "lib/base.py", 2),
        (IMPORTED_NAME, "shout", "lib/util.py", 1),
    }
    (member,) = [c for c in cases if c.symbol == "fetch_rows"]
    assert member.buffer.endswith("    rows = store.")  # cut right after the receiver's dot
    assert member.line == 7 and member.col == len("    rows = store.")


def test_outline_items_count_only_the_lines_they_show():
    outline = ContextItem("a.py", 1, 30, 5, "outline", 1.0, "...", shown=[(1, 2), (10, 10)])
    spans = shown_spans(PackedContext(100, 5, [outline]))
    assert spans == [("a.py", 1, 2), ("a.py", 10, 10)]
    from retrieval.evaluation.cases import Target

    assert covers_header(spans, Target("a.py", "f", 10, 10, 12))
    assert not covers_header(spans, Target("a.py", "g", 20, 20, 25))  # elided: not shown
