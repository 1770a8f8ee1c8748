"""Parsing recorded model answers into code (the tiny model emits noise, so these are recorded)."""

from __future__ import annotations

import pytest

from codeassist.tasks.edits import EditRefused
from codeassist.tasks.model_code import code_blocks, extract_code

FENCED_WITH_PROSE = """Here is the simplified version:

```python
def total(xs):
    return sum(xs)
```

This uses the built-in `sum`."""

PREFILLED = """def total(xs):
    return sum(xs)
```
The loop was replaced by sum()."""

RAW = """
def total(xs):
    return sum(xs)
"""

WITH_THINKING = """<|channel>thought
The loop is a sum.<channel|>```python
def total(xs):
    return sum(xs)
```<turn|>"""

TRUNCATED = """```python
def total(xs):
    result = 0
    for x in xs:"""

TWO_BLOCKS = """```python
def scaled(value, factor):
    return value * factor
```

```python
y = scaled(x, 2)
```"""

TILDES = "~~~js\nconst a = 1;\n~~~\n"

FOUR_BACKTICKS = "````markdown\n```python\nx = 1\n```\n````\n"


def test_fenced_block_inside_prose():
    assert extract_code(FENCED_WITH_PROSE) == ["def total(xs):\n    return sum(xs)"]


def test_prefilled_fence_ends_at_the_closing_fence():
    assert extract_code(PREFILLED, prefilled_fence=True) == ["def total(xs):\n    return sum(xs)"]


def test_prefilled_fence_the_model_opened_again():
    again = "```python\n" + PREFILLED
    assert extract_code(again, prefilled_fence=True) == ["def total(xs):\n    return sum(xs)"]


def test_raw_code_without_fences():
    assert extract_code(RAW) == ["def total(xs):\n    return sum(xs)"]


def test_thinking_and_stop_tokens_are_removed():
    assert extract_code(WITH_THINKING) == ["def total(xs):\n    return sum(xs)"]


def test_truncated_block_is_kept_open():
    (block,) = code_blocks(TRUNCATED)
    assert not block.closed
    assert block.code.endswith("for x in xs:")


def test_two_blocks_for_extract_function():
    function, call = extract_code(TWO_BLOCKS, count=2)
    assert function.startswith("def scaled(")
    assert call == "y = scaled(x, 2)"


def test_tilde_fence_and_longer_fence():
    assert extract_code(TILDES) == ["const a = 1;"]
    assert code_blocks(FOUR_BACKTICKS)[0].code == "```python\nx = 1\n```"


@pytest.mark.parametrize("answer", ["", "   \n", "<|channel>thought\nhmm<channel|>"])
def test_empty_answer_is_refused(answer):
    with pytest.raises(EditRefused, match="did not return the code"):
        extract_code(answer)


def test_one_block_when_two_are_needed_is_refused():
    with pytest.raises(EditRefused, match="expected 2 code blocks, got 1"):
        extract_code(FENCED_WITH_PROSE, count=2)
