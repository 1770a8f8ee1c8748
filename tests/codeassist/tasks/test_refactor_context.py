"""Refactor context from the retrieval index: what the selection uses and who calls it."""

from __future__ import annotations

from pathlib import Path

from codeassist.tasks.edits import Span
from codeassist.tasks.refactor import Action, RefactorRequest, build_messages, gather_context
from codeassist.tasks.syntax_check import grammar_for_path
from retrieval import RepoIndex

SHAPES = "def perimeter(width, height):\n    return 2 * (width + height)\n"
REPORT = (
    "from shapes import perimeter\n\n\n"
    "def report(rooms):\n"
    "    total = 0\n"
    "    for room in rooms:\n"
    "        total = total + perimeter(room.width, room.height)\n"
    "    return total\n"
)
CALLER = "from report import report\n\n\ndef run():\n    return report([])\n"


def test_context_has_the_used_definition_and_the_caller_within_budget(tmp_path: Path):
    (tmp_path / "shapes.py").write_text(SHAPES)
    (tmp_path / "report.py").write_text(REPORT)
    (tmp_path / "main.py").write_text(CALLER)
    index = RepoIndex.open(tmp_path)
    request = RefactorRequest(
        str(tmp_path / "report.py"),
        REPORT,
        1,
        Action.SIMPLIFY,
        Span(3, 0, 7, 16),
        root=str(tmp_path),
    )
    items, notes = gather_context(request, index, budget=2000, count=len)
    assert notes == []
    paths = {item.path for item in items}
    assert "shapes.py" in paths  # the definition the selection uses
    assert items[0].path == "main.py" and items[0].kind == "caller"  # who calls it, first
    assert all(item.path != "report.py" or item.end_line < 4 for item in items)  # not itself
    assert sum(len(item.text) for item in items) <= 2000
    messages, _ = build_messages(request, grammar_for_path("report.py"), items)
    assert "def perimeter(width, height):" in messages[1]["content"]
    assert "shapes.py lines 1-" in messages[1]["content"]


def test_a_budget_of_nothing_gives_no_context(tmp_path: Path):
    (tmp_path / "shapes.py").write_text(SHAPES)
    (tmp_path / "report.py").write_text(REPORT)
    index = RepoIndex.open(tmp_path)
    request = RefactorRequest(
        str(tmp_path / "report.py"),
        REPORT,
        1,
        Action.SIMPLIFY,
        Span(3, 0, 7, 16),
        root=str(tmp_path),
    )
    items, _ = gather_context(request, index, budget=0, count=len)
    assert items == []


def test_outline_items_come_with_their_explanation():
    from codeassist.tasks.review_prompt import OUTLINE_NOTE
    from retrieval import ContextItem

    request = RefactorRequest("/w/report.py", REPORT, 1, Action.SIMPLIFY, Span(3, 0, 7, 16))
    outline = ContextItem(
        "shapes.py", 1, 40, 9, "outline", 1.0, "class A:\n    # [body elided]", ""
    )
    plain = ContextItem("shapes.py", 1, 2, 9, "definition", 1.0, SHAPES, "")
    with_outline, _ = build_messages(request, grammar_for_path("report.py"), [plain, outline])
    assert with_outline[1]["content"].count(OUTLINE_NOTE.strip()) == 1
    without, _ = build_messages(request, grammar_for_path("report.py"), [plain])
    assert OUTLINE_NOTE.strip() not in without[1]["content"]
