"""Outlines (retrieval/outline.py) and how the packer uses them."""

from __future__ import annotations

import pytest

from retrieval import RepoIndex, estimate_tokens
from retrieval.outline import ELIDED_MARKER, FULL, NAMES, SIGNATURES, outline
from retrieval.parse import parse_source
from tests.helpers.git_repo import repo_with_files

PY = '''class Store(Base):
    """Keeps rows.

    More text.
    """

    limit = 10

    @property
    def size(self) -> int:
        """How many rows."""
        return len(self.rows)

    def fetch_rows(
        self, key: str
    ) -> list:
        rows = []
        return rows

    class Meta:
        ordering = ["id"]

        def label(self):
            return "x"
'''

TS = """export class Store {
  private rows: string[] = [];
  size(): number {
    return this.rows.length;
  }
}
"""


def _render(src, lang, name, **kw):
    tags = parse_source(src.encode(), lang)
    lines = src.split("\n")
    return outline(tags, lines, tags.def_names.index(name), **kw), lines


def test_python_outline_full_detail():
    got, lines = _render(PY, "python", "Store")
    assert got.text.split("\n") == [
        "class Store(Base):",
        '    """Keeps rows.',
        "    limit = 10",
        "    @property",
        "    def size(self) -> int:",
        '        """How many rows."""',
        f"        # {ELIDED_MARKER}",
        "    def fetch_rows(",
        "        self, key: str",
        "    ) -> list:",
        f"        # {ELIDED_MARKER}",
        "    class Meta:",
        '        ordering = ["id"]',
        "        def label(self):",
        f"            # {ELIDED_MARKER}",
    ]
    # every other line is the file's own, at the line numbers `shown` says
    shown = [lines[n - 1] for s, e in got.shown for n in range(s, e + 1)]
    assert [t for t in got.text.split("\n") if ELIDED_MARKER not in t] == shown


def test_less_detail_is_shorter():
    full, _ = _render(PY, "python", "Store", detail=FULL)
    sigs, _ = _render(PY, "python", "Store", detail=SIGNATURES)
    names, _ = _render(PY, "python", "Store", detail=NAMES)
    assert '"""How many rows."""' in full.text and '"""How many rows."""' not in sigs.text
    assert ELIDED_MARKER not in names.text and "@property" not in names.text
    assert "    def fetch_rows(" in names.text and "self, key: str" not in names.text
    assert estimate_tokens(names.text) < estimate_tokens(sigs.text) < estimate_tokens(full.text)


def test_expanded_members_are_whole():
    tags = parse_source(PY.encode(), "python")
    lines = PY.split("\n")
    k = tags.def_names.index("fetch_rows")
    got = outline(tags, lines, tags.def_names.index("Store"), frozenset({k}))
    assert "        rows = []\n        return rows" in got.text


def test_typescript_outline_keeps_the_closing_brace():
    got, _ = _render(TS, "typescript", "Store")
    assert got.text.split("\n") == [
        "export class Store {",
        "  private rows: string[] = [];",
        "  size(): number {",
        f"    // {ELIDED_MARKER}",
        "}",
    ]


LIB = "".join(
    f"class Widget{i}:\n"
    + "".join(
        f"    def op_{i}_{j}(self, value):\n"
        + "        value += 1\n" * 4
        + f"        return value + {j}\n\n"
        for j in range(60)
    )
    + "\n"
    for i in range(6)
)

FILES = {
    "lib/__init__.py": "",
    "lib/widgets.py": LIB,
    "lib/helpers.py": "".join(
        f"def helper_{j}(widget):\n" + "    x = widget\n" * 30 + "    return x\n\n\n"
        for j in range(8)
    ),
    "tests/test_widgets.py": "from lib.widgets import Widget0\n\n\n"
    + "".join(
        f"def test_op_{j}():\n    w = Widget0()\n    assert w.op_0_{j}(1)\n\n\n" for j in range(12)
    ),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return RepoIndex.open(repo_with_files(tmp_path_factory.mktemp("r") / "lib", FILES), None)


def _ctx(index, path, buffer, budget):
    lines = buffer.split("\n")
    ctx = index.context_for_position(
        path, len(lines), len(lines[-1]), buffer=buffer, budget=budget,
        count_tokens=estimate_tokens, explain=True,
    )  # fmt: skip
    index.update_buffer(path, None)
    return ctx


def _shown(ctx, path):
    return {
        n
        for i in ctx.items
        if i.path == path
        for s, e in i.shown or [(i.start_line, i.end_line)]
        for n in range(s, e + 1)
    }


def test_receiver_class_comes_as_an_outline(index):
    buf = "from lib.widgets import Widget3\n\n\ndef f(w: Widget3):\n    w."
    ctx = _ctx(index, "app.py", buf, 1500)
    (item,) = [i for i in ctx.items if i.kind == "outline"]
    assert item.path == "lib/widgets.py" and item.text.startswith("class Widget3:")
    assert ctx.used <= 1500
    header_lines = [n for n, t in enumerate(LIB.split("\n"), 1) if "def op_3_" in t]
    assert set(header_lines) <= _shown(ctx, "lib/widgets.py")  # every method's header


def test_a_body_inside_an_outline_expands_it(index):
    buf = "from lib.widgets import Widget3\n\n\ndef f(w: Widget3):\n    w.op_3_4(1)\n    w."
    ctx = _ctx(index, "app.py", buf, 2000)
    outlines = [i for i in ctx.items if i.kind == "outline" and i.path == "lib/widgets.py"]
    assert len(outlines) == 1 and "return value + 4" in outlines[0].text
    spans = [(i.start_line, i.end_line) for i in ctx.items if i.path == "lib/widgets.py"]
    for a in spans:  # nothing shown twice
        assert sum(1 for b in spans if b[0] <= a[1] and a[0] <= b[1]) == 1


def test_large_budgets_outline_the_best_files(index):
    buf = "from lib import helpers, widgets\n\n\ndef f(w):\n    return helpers.helper_2(w)"
    small = _ctx(index, "app.py", buf, 2000)
    assert not any(i.kind == "outline" and i.start_line == 1 for i in small.items)
    big = _ctx(index, "app.py", buf, 8192)
    files = [i.path for i in big.items if i.kind == "outline" and i.start_line == 1]
    assert "lib/widgets.py" in files  # too big to show whole: its outline
    header_lines = [n for n, t in enumerate(LIB.split("\n"), 1) if "def op_" in t]
    assert set(header_lines) <= _shown(big, "lib/widgets.py")


def test_tests_rank_below_library_code_unless_in_a_test(index):
    buf = "from lib.widgets import Widget0\n\n\ndef f():\n    w = Widget0()\n    return w"
    lib = _ctx(index, "app.py", buf, 60)
    assert lib.items and all(not i.path.startswith("tests/") for i in lib.items)
    in_test = _ctx(
        index, "tests/test_more.py", "from tests.test_widgets import test_op_1\n" + buf, 400
    )
    assert any(i.path.startswith("tests/") for i in in_test.items)
