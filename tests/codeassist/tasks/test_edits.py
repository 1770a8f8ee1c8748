"""Text edits keep the file's line endings and indentation, and refuse bad positions."""

from __future__ import annotations

import pytest

from codeassist.tasks.edits import (
    EditRefused,
    Span,
    TextEdit,
    apply_edits,
    indent_unit,
    line_ending,
    reindent,
    replace_lines,
    whole_lines,
)


def test_line_ending_is_the_dominant_one():
    assert line_ending("a\r\nb\r\nc\n") == "\r\n"
    assert line_ending("a\nb\n") == "\n"
    assert line_ending("no newline") == "\n"
    assert line_ending("old\rmac\rfile\r\n") == "\r"


def test_indent_unit_detects_tabs_two_and_four_spaces():
    assert indent_unit("def f():\n\tif x:\n\t\treturn 1\n") == "\t"
    assert indent_unit("function f() {\n  if (x) {\n    return 1;\n  }\n}\n") == "  "
    assert indent_unit("def f():\n    if x:\n        return 1\n") == "    "


def test_reindent_translates_the_models_unit_into_the_files():
    model = "if x:\n    y = 1\n    if y:\n        z = 2\n"
    assert reindent(model, "\t", "\t") == "\tif x:\n\t\ty = 1\n\t\tif y:\n\t\t\tz = 2\n"
    assert reindent(model, "  ", "  ") == "  if x:\n    y = 1\n    if y:\n      z = 2\n"


def test_reindent_keeps_relative_nesting_of_dedented_model_output():
    model = "        a = 1\n        if a:\n            b = 2"
    assert reindent(model, "    ", "    ") == "    a = 1\n    if a:\n        b = 2"


def test_apply_edits_in_any_order_and_refuses_overlaps():
    text = "one\ntwo\nthree\n"
    edits = [TextEdit(Span(2, 0, 2, 5), "THREE"), TextEdit(Span(0, 0, 0, 3), "ONE")]
    assert apply_edits(text, edits) == "ONE\ntwo\nTHREE\n"
    with pytest.raises(EditRefused, match="overlap"):
        apply_edits(text, [TextEdit(Span(0, 0, 1, 2), "x"), TextEdit(Span(1, 0, 1, 1), "y")])


def test_position_past_the_end_is_refused_with_a_message():
    with pytest.raises(EditRefused, match="outside the document"):
        apply_edits("a\n", [TextEdit(Span(5, 0, 5, 0), "x")])


def test_whole_lines_excludes_a_line_the_selection_only_touches_at_column_zero():
    text = "a = 1\nb = 2\nc = 3\n"
    assert whole_lines(text, Span(0, 2, 2, 0)) == Span(0, 0, 1, 5)
    assert whole_lines(text, Span(1, 3, 1, 4)) == Span(1, 0, 1, 5)


def test_replace_lines_keeps_crlf_and_tab_indentation():
    text = "def f(x):\r\n\ty = x + 0\r\n\treturn y\r\n"
    edit = replace_lines(text, Span(1, 1, 2, 9), "y = x\nreturn y\n")
    after = apply_edits(text, [edit])
    assert after == "def f(x):\r\n\ty = x\r\n\treturn y\r\n"
