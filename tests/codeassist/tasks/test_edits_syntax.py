"""tree-sitter checks: an edit may not break a file that parsed, in any grammar we ship."""

from __future__ import annotations

import pytest

from codeassist.tasks.edits import EditRefused
from codeassist.tasks.syntax_check import check_edit_syntax, error_lines, grammar_for_path

CASES = [
    ("a.py", "def f(x):\n    return x\n", "def f(x:\n    return x\n"),
    ("a.js", "function f(x) {\n  return x;\n}\n", "function f(x) {\n  return x;\n"),
    ("a.ts", "const f = (x: number): number => x;\n", "const f = (x: number): => x;\n"),
    ("a.go", "package a\n\nfunc f() int {\n\treturn 1\n}\n", "package a\n\nfunc f() int {\n"),
    ("a.rs", "fn f() -> i32 {\n    1\n}\n", "fn f() -> i32 {\n    1\n"),
    ("A.java", "class A {\n  int f() { return 1; }\n}\n", "class A {\n  int f() { return 1 }\n}\n"),
    ("a.c", "int f(void) {\n  return 1;\n}\n", "int f(void) {\n  return 1\n}\n"),
    ("a.rb", "def f\n  1\nend\n", "def f\n  1\n"),
]


@pytest.mark.parametrize(("path", "good", "broken"), CASES)
def test_breaking_edit_is_refused_and_clean_edit_passes(path, good, broken):
    grammar = grammar_for_path(path)
    assert grammar is not None
    assert error_lines(good, grammar) == []
    assert error_lines(broken, grammar)
    check_edit_syntax(path, good, good + "\n")
    with pytest.raises(EditRefused, match="syntax errors"):
        check_edit_syntax(path, good, broken)


def test_file_that_was_already_broken_is_not_blocked():
    check_edit_syntax("a.py", "def f(:\n", "def f(:\n    pass\n")


def test_unknown_language_is_not_checked():
    assert grammar_for_path("notes.txt") is None
    check_edit_syntax("notes.txt", "a", "((((")


def test_shebang_decides_the_language():
    grammar = grammar_for_path("tool", "#!/usr/bin/env python3\nprint(1)\n")
    assert grammar is not None and grammar.name == "python"


def test_refusal_names_the_line():
    with pytest.raises(EditRefused, match=r"a\.py \(line 3"):
        check_edit_syntax("a.py", "x = 1\ny = 2\n", "x = 1\ny = 2\nz = (\n")
