"""Post-processing rules, each on a real example of what a model writes at a cursor."""

from __future__ import annotations

from codeassist.tasks.postprocess import (
    already_present,
    balance_brackets,
    clean_suggestion,
    cut_at_block_end,
    first_line_only,
    open_brackets,
    strip_markers,
    strip_unprintable,
    suggestion_complete,
    trim_suffix_repeat,
)


def test_markers_and_fences_end_the_suggestion():
    assert strip_markers("return a + b\n```\nThis adds.") == "return a + b\n"
    assert strip_markers("x = 1<turn|>") == "x = 1"
    assert strip_markers("x = 1<eos>junk") == "x = 1"


def test_single_line_mode_keeps_the_first_line():
    assert first_line_only("name, default=None)\n    pass") == "name, default=None)"


def test_suffix_repeat_on_the_same_line_is_dropped():
    # `print(|)` with the editor's auto-closed paren: the model writes the paren again.
    assert trim_suffix_repeat('"done")', "    print(", ")\n") == '"done"'
    # `x = |  # comment` style: model repeats ` = 5` that already follows.
    assert trim_suffix_repeat("timeout = 5", "    ", "= 5\n") == "timeout "


def test_suffix_repeat_keeps_a_paren_the_suggestion_needs():
    # `print(|)`: suggestion `len(items)` must keep its own ')' (the line's ')' closes print).
    assert trim_suffix_repeat("len(items)", "print(", ")\n") == "len(items)"


def test_suffix_repeat_stops_at_existing_next_line():
    before = "def total(items):\n    result = 0\n    "
    after = "\n    return result\n"
    raw = "for item in items:\n        result += item\n    return result"
    assert trim_suffix_repeat(raw, before, after) == ("for item in items:\n        result += item")


def test_block_ends_at_dedent():
    before = "class Point:\n    def norm(self):\n        "
    raw = "return (self.x ** 2 + self.y ** 2) ** 0.5\n\n    def __repr__(self):\n        pass"
    assert cut_at_block_end(raw, before) == "return (self.x ** 2 + self.y ** 2) ** 0.5"


def test_block_after_a_colon_is_the_indented_body():
    before = "def area(r):"
    raw = "\n    return 3.14159 * r * r\n\ndef perimeter(r):\n    return 2 * 3.14159 * r"
    assert cut_at_block_end(raw, before) == "\n    return 3.14159 * r * r"


def test_brace_block_keeps_its_closing_line():
    before = "function add(a, b) {"
    raw = "\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}"
    assert cut_at_block_end(raw, before) == "\n  return a + b;\n}"


def test_open_brackets_ignore_strings_and_comments():
    stack, quote = open_brackets('x = foo("(", [1, 2]  # ) ignored\n    ')
    assert stack == ["("]
    assert quote is None
    assert open_brackets("s = 'abc(")[1] == "'"


def test_unmatched_closer_cuts_the_suggestion():
    # Nothing is open before the cursor, so ')' closes nothing: cut there.
    assert balance_brackets("value) + 1", "x = ", "line") == "value"
    # The prefix's '(' may be closed by the suggestion.
    assert balance_brackets("a, b) + 1", "x = max(", "line") == "a, b) + 1"
    # ']' cannot close '('.
    assert balance_brackets("a]", "f(", "line") == "a"


def test_brackets_the_suggestion_leaves_open_are_backed_off():
    # Truncated by max_tokens in the middle of a call.
    assert balance_brackets("compute(a, b", "x = ", "line") == "compute"
    raw = "total = 0\nfor row in rows:\n    total += sum(row[1:"
    assert balance_brackets(raw, "", "block") == "total = 0\nfor row in rows:"


def test_whitespace_only_is_nothing():
    assert clean_suggestion("   \n\t\n", before="x = ", after="\n", mode="block") == ""
    assert already_present("  ", "")


def test_text_already_after_the_cursor_is_nothing():
    assert already_present("return x", "  return x\n")
    assert clean_suggestion("items)", before="len(", after="items)\n", mode="line") == ""


def test_clean_suggestion_end_to_end_line_mode():
    raw = "key, None)\n    return value\n```"
    assert clean_suggestion(raw, before="value = d.get(", after=")\n", mode="line") == ("key, None")


def test_clean_suggestion_end_to_end_block_mode():
    before = "def mean(xs):\n    "
    raw = "if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n\n\nprint(mean([1]))"
    assert clean_suggestion(raw, before=before, after="\n", mode="block") == (
        "if not xs:\n        return 0.0\n    return sum(xs) / len(xs)"
    )


def test_control_characters_replacement_chars_and_fillers_never_reach_the_buffer():
    raw = "total\x0e = wi\x12dth\ufffd + <unused7>height<pad>\r\n    return\u202e total"
    text = clean_suggestion(raw, before="def f(width, height):\n    ", after="\n", mode="block")
    assert text == "total = width + height\n    return total"
    assert strip_unprintable("a\tb\nc") == "a\tb\nc"  # tabs and newlines are code
    assert strip_unprintable("naïve = 'é' + '→'") == "naïve = 'é' + '→'"


def test_a_line_suggestion_is_complete_at_the_end_of_its_line():
    assert not suggestion_complete("width, hei", before="area(", after=")\n", mode="line")
    assert suggestion_complete("width, height)\n    x", before="area(", after=")\n", mode="line")
    assert suggestion_complete("width```", before="area(", after=")\n", mode="line")


def test_a_block_suggestion_is_complete_when_the_block_closes():
    before = "def total(items):\n    result = 0\n    for item in items:\n        "
    done = "result += item\n    return result"
    assert not suggestion_complete("result += item\n", before=before, after="\n", mode="block")
    assert not suggestion_complete(
        "result += item\n        ", before=before, after="\n", mode="block"
    )
    # The dedent is known from the first non-blank character of the next line.
    assert suggestion_complete(done[:-5], before=before, after="\n", mode="block")
    assert suggestion_complete("x = 1<eos>", before=before, after="\n", mode="block")
    # Reaching code that already follows the cursor also ends it.
    after = "\n        log(item)\n"
    assert not suggestion_complete(
        "total += 1\n        log(it", before=before, after=after, mode="block"
    )
    assert suggestion_complete(
        "total += 1\n        log(item)\n", before=before, after=after, mode="block"
    )


def test_more_text_after_completion_never_changes_the_suggestion():
    before = "def total(items):\n    result = 0\n    for item in items:\n        "
    answer = "result += item\n        count += 1\n    return result\n\ndef other():\n    pass\n"
    for end in range(1, len(answer) + 1):
        if suggestion_complete(answer[:end], before=before, after="\n", mode="block"):
            early = clean_suggestion(answer[:end], before=before, after="\n", mode="block")
            full = clean_suggestion(answer, before=before, after="\n", mode="block")
            assert early == full == "result += item\n        count += 1"
            break
    else:
        raise AssertionError("never complete")
