"""'Add docstring' and 'Add type annotations' may not change anything else (recorded answers)."""

from __future__ import annotations

import pytest

from codeassist.tasks.edits import EditRefused, Span, apply_edits
from codeassist.tasks.refactor import Action, RefactorRequest, edits_from_output
from codeassist.tasks.same_code import check_only_annotations_added, check_only_docstrings_added
from codeassist.tasks.syntax_check import grammar_for_path

METHOD = "    def total(self, rows):\n        return sum(r.amount for r in rows)\n"
SOURCE = "class Report:\n" + METHOD


def run(action, answer):
    request = RefactorRequest("/r/report.py", SOURCE, 1, action, Span(1, 0, 2, 42), root="/r")
    (edit,) = edits_from_output(request, grammar_for_path("report.py"), answer, prefilled=True)
    return apply_edits(SOURCE, edit.edits)


def test_docstring_only_passes_and_a_changed_body_is_refused():
    good = (
        'def total(self, rows):\n    """Sum of the amounts."""\n'
        "    return sum(r.amount for r in rows)\n```"
    )
    assert '        """Sum of the amounts."""\n' in run(Action.ADD_DOCSTRING, good)
    sneaky = good.replace("r.amount", "r.amount or 0")
    with pytest.raises(EditRefused, match="changed code while adding docstrings"):
        run(Action.ADD_DOCSTRING, sneaky)


def test_annotations_only_pass_and_a_renamed_parameter_is_refused():
    good = "def total(self, rows: list[Row]) -> int:\n    return sum(r.amount for r in rows)\n```"
    assert "def total(self, rows: list[Row]) -> int:" in run(Action.ADD_TYPES, good)
    renamed = good.replace("rows", "items")
    with pytest.raises(EditRefused, match="changed code while adding type annotations"):
        run(Action.ADD_TYPES, renamed)


def test_annotated_assignments_and_typing_imports_count_as_annotations():
    before = "def f(a):\n    x = a\n    return x\n"
    after = (
        "from typing import Any\n\n\ndef f(a: Any) -> Any:\n    y: int\n    x: Any = a\n"
        "    return x\n"
    )
    check_only_annotations_added(before, after)
    check_only_docstrings_added("x = 1\n", '"""Module."""\nx = 1\n')


def test_fragments_that_do_not_parse_alone_are_left_to_the_syntax_check():
    check_only_docstrings_added("    else:\n        x = 1\n", "    else:\n        x = 2\n")
