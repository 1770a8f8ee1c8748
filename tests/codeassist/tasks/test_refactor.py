"""Refactor offers and turning recorded model answers into checked, well-placed edits."""

from __future__ import annotations

import pytest

from codeassist.gemma4.prompt import render_chat
from codeassist.tasks.edits import EditRefused, Span, apply_edits
from codeassist.tasks.refactor import (
    Action,
    RefactorRequest,
    build_messages,
    edits_from_output,
    offers,
)
from codeassist.tasks.syntax_check import grammar_for_path

SOURCE = """import os


class Report:
    def total(self, rows):
        result = 0
        for row in rows:
            result = result + row.amount
        return result
"""


def request(action, span, text=SOURCE, path="/repo/report.py", **kw):
    return RefactorRequest(path, text, 7, action, span, root="/repo", **kw)


def after(req, output, prefilled=True):
    (file_edit,) = edits_from_output(req, grammar_for_path(req.path), output, prefilled=prefilled)
    assert file_edit.version == req.version and file_edit.path == req.path
    return apply_edits(req.text, file_edit.edits)


def test_offers_for_a_selection_and_for_a_cursor_on_a_name():
    selected = {o.action for o in offers("/repo/report.py", SOURCE, Span(5, 8, 7, 20))}
    assert selected == {
        Action.EXTRACT_FUNCTION,
        Action.SIMPLIFY,
        Action.ADD_DOCSTRING,
        Action.ADD_TYPES,
        Action.REWRITE,
    }
    at_name = offers("/repo/report.py", SOURCE, Span(4, 10, 4, 10))
    rename = [o for o in at_name if o.action is Action.RENAME]
    assert rename[0].symbol == "total" and rename[0].span == Span(4, 8, 4, 13)
    # With only a cursor, the other actions target the enclosing method, as whole lines.
    simplify = next(o for o in at_name if o.action is Action.SIMPLIFY)
    assert simplify.span == Span(4, 0, 8, len("        return result"))
    assert not any(o.action is Action.EXTRACT_FUNCTION for o in at_name)


def test_no_offers_on_blank_top_level_lines_of_unknown_language():
    assert offers("/repo/notes.txt", "\n\n", Span(1, 0, 1, 0)) == []


def test_simplify_replaces_the_method_and_keeps_its_indentation():
    span = offers("/repo/report.py", SOURCE, Span(5, 0, 5, 0))[-1].span
    req = request(Action.SIMPLIFY, span)
    output = "def total(self, rows):\n    return sum(row.amount for row in rows)\n```\n"
    assert after(req, output) == (
        "import os\n\n\nclass Report:\n"
        "    def total(self, rows):\n"
        "        return sum(row.amount for row in rows)\n"
    )


def test_add_docstring_from_a_fenced_answer_with_prose():
    req = request(Action.ADD_DOCSTRING, Span(4, 0, 8, 21))
    output = (
        "Sure:\n```python\ndef total(self, rows):\n"
        '    """Sum of the rows\' amounts."""\n    result = 0\n    for row in rows:\n'
        "        result = result + row.amount\n    return result\n```"
    )
    text = after(req, output, prefilled=False)
    assert '        """Sum of the rows\' amounts."""\n        result = 0\n' in text


def test_extract_function_goes_before_the_class_at_top_level():
    req = request(Action.EXTRACT_FUNCTION, Span(6, 0, 7, 40))
    output = (
        "```python\ndef add_amounts(result, rows):\n    for row in rows:\n"
        "        result = result + row.amount\n    return result\n```\n\n"
        "```python\nresult = add_amounts(result, rows)\n```"
    )
    text = after(req, output, prefilled=False)
    assert text == (
        "import os\n\n\n"
        "def add_amounts(result, rows):\n    for row in rows:\n"
        "        result = result + row.amount\n    return result\n\n\n"
        "class Report:\n    def total(self, rows):\n        result = 0\n"
        "        result = add_amounts(result, rows)\n        return result\n"
    )


def test_extract_function_in_java_stays_inside_the_class():
    java = (
        "class A {\n    int f(int x) {\n        int y = x * 2;\n        return y + 1;\n    }\n}\n"
    )
    req = request(Action.EXTRACT_FUNCTION, Span(2, 0, 2, 22), text=java, path="/repo/A.java")
    output = (
        "```java\nint twice(int x) {\n    return x * 2;\n}\n```\n```java\nint y = twice(x);\n```"
    )
    text = after(req, output, prefilled=False)
    assert text.startswith("class A {\n    int twice(int x) {\n        return x * 2;\n    }\n\n")
    assert "        int y = twice(x);\n" in text


def test_syntax_breaking_answer_is_refused():
    req = request(Action.SIMPLIFY, Span(4, 0, 8, 21))
    with pytest.raises(EditRefused, match="syntax errors"):
        after(req, "def total(self, rows:\n    return sum(rows)\n```")


def test_answer_identical_to_the_code_is_refused():
    req = request(Action.SIMPLIFY, Span(5, 0, 5, 18))
    with pytest.raises(EditRefused, match="no change"):
        after(req, "result = 0\n```")


def test_crlf_and_tabs_of_the_file_are_kept():
    text = SOURCE.replace("    ", "\t").replace("\n", "\r\n")
    req = request(Action.SIMPLIFY, Span(4, 0, 8, 14), text=text)
    output = "def total(self, rows):\n    return sum(r.amount for r in rows)\n```"
    assert after(req, output).endswith(
        "class Report:\r\n\tdef total(self, rows):\r\n\t\treturn sum(r.amount for r in rows)\r\n"
    )


def test_prompt_opens_a_fence_in_the_model_turn_with_thinking_off():
    req = request(Action.ADD_TYPES, Span(4, 0, 8, 21))
    messages, prefix = build_messages(req, grammar_for_path(req.path), [])
    prompt = render_chat(messages, enable_thinking=False, model_prefix=prefix)
    assert prefix == "```python\n"
    assert prompt.endswith("<|turn>model\n<|channel>thought\n<channel|>```python\n")
    assert "report.py" in messages[1]["content"]
    assert "def total(self, rows):" in messages[1]["content"]


def test_rewrite_without_instruction_is_refused():
    req = request(Action.REWRITE, Span(4, 0, 8, 21))
    with pytest.raises(EditRefused, match="needs an instruction"):
        build_messages(req, grammar_for_path(req.path), [])


def test_selection_larger_than_the_answer_limit_is_refused_before_the_model_runs():
    from codeassist.config import RefactorSettings
    from codeassist.tasks.refactor import run_refactor

    req = request(Action.SIMPLIFY, Span(4, 0, 8, 21))
    settings = RefactorSettings(max_tokens=10)
    with pytest.raises(EditRefused, match="larger than the answer the model may write"):
        run_refactor(req, client=None, settings=settings, count_tokens=len)
