"""Completion prompt building, windows, modes, budget and the type-through cache (pure parts)."""

from __future__ import annotations

from dataclasses import dataclass

from codeassist.config import CompletionSettings
from codeassist.gemma4.tokens import BOS, EMPTY_THOUGHT, THINK, TURN_OPEN
from codeassist.tasks.complete import (
    WINDOW_GRID_LINES,
    CompletionInput,
    ContextMemo,
    ContextPiece,
    completion_mode,
    cut_windows,
    drop_overlapping,
    prepare_completion,
    prompt_budget,
    split_at,
)
from codeassist.tasks.typethrough import TypeThroughCache


def count(text: str) -> int:
    """A deterministic stand-in for a tokenizer: one token per 4 characters."""
    return (len(text) + 3) // 4


@dataclass
class Item:
    path: str
    start_line: int
    end_line: int
    text: str


@dataclass
class Packed:
    items: list


class RecordingIndex:
    """A retrieval index double that records its calls (retrieval has its own tests)."""

    def __init__(self, items):
        self.items = items
        self.calls = []

    def context_for_position(self, path, line, col, *, buffer, budget, count_tokens, open_buffers):
        self.calls.append((path, line, col, budget))
        return Packed(self.items)


SOURCE = "import os\n\n\ndef size(path):\n    return os.path.getsize(path)\n\n\nprint(size('x'))\n"


def test_split_at_positions():
    assert split_at("ab\ncd", 1, 1) == ("ab\nc", "d")
    assert split_at("ab\ncd", 1, 99) == ("ab\ncd", "")  # col clamped to the line
    assert split_at("ab\ncd", 0, 2) == ("ab", "\ncd")
    assert split_at("ab\ncd", 2, 0) is None  # past the last line
    assert split_at("", 0, 0) == ("", "")
    assert split_at("ab", -1, 0) is None


def test_mode_single_line_mid_line_multi_line_at_end_or_empty_block():
    assert completion_mode("foo)\n") == "line"
    assert completion_mode("\n    return x\n") == "block"
    assert completion_mode("   \n") == "block"
    assert completion_mode("") == "block"


def test_budget_never_exceeds_the_memory_plan():
    assert prompt_budget(3072, 128, None) == 3072
    assert prompt_budget(3072, 128, 1_000_000) == 3072
    assert prompt_budget(3072, 128, 2048) < 2048 - 128
    assert prompt_budget(3072, 128, 100) == 0


def test_prompt_order_context_then_suffix_then_prefix_in_model_turn():
    items = [Item("lib/util.py", 3, 4, "def helper():\n    return 1")]
    index = RecordingIndex(items)
    inp = CompletionInput("app.py", SOURCE, 4, 11)  # after "    return "
    prepared = prepare_completion(inp, CompletionSettings(), index=index, count_tokens=count)
    prompt = prepared.prompt
    assert prompt.startswith(BOS)
    ctx = prompt.index("lib/util.py lines 3-4")
    suffix = prompt.index("os.path.getsize(path)\n\n\nprint(size('x'))")
    model_turn = prompt.index(f"{TURN_OPEN}model\n{EMPTY_THOUGHT}")
    assert ctx < suffix < model_turn
    # The model turn is pre-written up to the cursor, thinking off, and ends there.
    assert prompt.endswith("def size(path):\n    return ")
    assert THINK not in prompt
    assert prepared.mode == "line" and "\n" in prepared.stop
    [(path, line, col, budget)] = index.calls
    assert (path, line, col) == ("app.py", 5, 11)
    # the context gets what the code around the cursor and the instructions leave
    assert 0 < budget < CompletionSettings().budget_tokens - 160


def test_block_mode_at_end_of_line():
    inp = CompletionInput("app.py", SOURCE, 3, 15)  # end of "def size(path):"
    prepared = prepare_completion(inp, CompletionSettings(), count_tokens=count)
    assert prepared.mode == "block"
    assert "\n" not in prepared.stop
    assert prepared.max_tokens == CompletionSettings().max_tokens


def test_prompt_stays_within_budget():
    big = "".join(f"value_{i} = compute({i}, {i + 1})\n" for i in range(5000))
    # Many small pieces: their labels cost tokens too, and must fit the budget as well.
    items = [
        Item(f"lib/mod_{i}.py", i + 1, i + 2, f"def f{i}(x):\n    return x") for i in range(300)
    ]
    settings = CompletionSettings(budget_tokens=1000)
    inp = CompletionInput("big.py", big, 2500, 0)
    index = RecordingIndex(items)
    prepared = prepare_completion(inp, settings, index=index, count_tokens=count)
    assert count(prepared.prompt) <= 1000
    assert 5 < len(prepared.context) < 300  # some context, not all of it
    assert index.calls[0][3] < 1000  # the context got only what the windows left
    # Every piece is labelled by path and lines.
    for piece in prepared.context:
        assert f"{piece.path} lines {piece.start_line}-{piece.end_line}:" in prepared.prompt


def test_consecutive_keystrokes_share_the_prompt_up_to_the_cursor():
    lines = [f"item_{i} = load({i})" for i in range(300)]
    settings = CompletionSettings(budget_tokens=800)
    texts = []
    typed = ""
    for char in "result = ":
        typed += char
        body = "\n".join(lines[:200] + [typed] + lines[200:])
        inp = CompletionInput("a.py", body, 200, len(typed))
        texts.append(prepare_completion(inp, settings, count_tokens=count, memo=ContextMemo()))
    first, last = texts[0].prompt, texts[-1].prompt
    # Everything but the typed characters is identical: the prefix cache reuses it all.
    assert last.startswith(first[:-1])
    assert last[len(first) - 1 :] == "result = "


def test_window_start_snaps_to_grid():
    before = "\n".join(f"line {i}" for i in range(500)) + "\nx"
    windows = cut_windows(before, "", prefix_budget=400, suffix_budget=100, count_tokens=count)
    assert windows.first_line % WINDOW_GRID_LINES == 0
    assert windows.cursor_line == 500
    assert windows.prefix.endswith("line 499\nx")


def test_context_repeating_lines_of_the_window_is_dropped():
    inp_windows = cut_windows(
        "a\nb\nc", "\nd", prefix_budget=100, suffix_budget=100, count_tokens=count
    )
    pieces = [
        ContextPiece("x.py", 1, 2, "a\nb"),  # the edited file, inside the window
        ContextPiece("y.py", 1, 2, "other"),
        ContextPiece("x.py", 50, 60, "far away"),
    ]
    kept = drop_overlapping(pieces, "x.py", inp_windows)
    assert [(p.path, p.start_line) for p in kept] == [("y.py", 1), ("x.py", 50)]


def test_context_memo_reused_on_the_same_line_only():
    index = RecordingIndex([Item("lib/util.py", 1, 1, "X = 1")])
    memo = ContextMemo()
    settings = CompletionSettings()
    for col in (0, 1, 2):
        inp = CompletionInput("app.py", SOURCE, 4, col)
        prepare_completion(inp, settings, index=index, count_tokens=count, memo=memo)
    assert len(index.calls) == 1
    prepare_completion(
        CompletionInput("app.py", SOURCE, 3, 0),
        settings,
        index=index,
        count_tokens=count,
        memo=memo,
    )
    assert len(index.calls) == 2


def test_position_past_the_end_gives_no_prompt():
    assert (
        prepare_completion(
            CompletionInput("a.py", "x\n", 7, 0), CompletionSettings(), count_tokens=count
        )
        is None
    )


def test_type_through_cache_answers_typed_prefix_of_suggestion():
    cache = TypeThroughCache()
    cache.put("doc", "x = ", "\n", "compute(a, b)")
    assert cache.get("doc", "x = ", "\n") == "compute(a, b)"
    assert cache.get("doc", "x = com", "\n") == "pute(a, b)"
    assert cache.get("doc", "x = cx", "\n") is None  # typed something else
    assert cache.get("doc", "x = compute(a, b)", "\n") is None  # all typed: nothing left
    assert cache.get("doc", "x = com", "\nchanged") is None  # text after the cursor changed
    assert cache.get("other", "x = com", "\n") is None
    cache.drop("doc")
    assert cache.get("doc", "x = ", "\n") is None


def test_type_through_cache_ignores_whitespace_only():
    cache = TypeThroughCache()
    cache.put("doc", "a", "", "   ")
    assert cache.get("doc", "a", "") is None
    cache.put("doc", "a", "", "b\n")
    assert cache.get("doc", "ab", "") is None  # only a newline would be left


def test_calibrated_counter_scales_the_estimate_to_the_model_tokenizer(tiny_checkpoint):
    from codeassist.tasks.complete import calibrated_counter
    from codeassist.token_count import tokenizer_counter
    from retrieval.tokens import estimate_tokens

    exact = tokenizer_counter(str(tiny_checkpoint))
    assert exact is not None and exact("def f(x):\n    return x") > 0
    sample = SOURCE * 50
    count = calibrated_counter(exact, sample)
    # On the sample itself the calibrated count is the exact one (to rounding).
    assert abs(count(sample) - exact(sample)) <= 1
    other = "class Point:\n    def norm(self):\n        return (self.x ** 2) ** 0.5\n" * 20
    assert abs(count(other) - exact(other)) <= 0.3 * exact(other)
    assert calibrated_counter(None, sample)("abc def") == estimate_tokens("abc def")
    assert tokenizer_counter("") is None
    assert tokenizer_counter(str(tiny_checkpoint / "missing")) is None


# --- every prompt part is cut to its budget before the prompt is built (issue 15 item 4) ---

HUGE = 50 * 2**20  # a 50 MB line, as a minified file or a data blob has


class CountingCounter:
    """The stand-in tokenizer, recording the longest text it was asked to count."""

    def __init__(self) -> None:
        self.longest = 0

    def __call__(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return count(text)


def _prepare_huge(text: str, line: int, col: int, context=()):
    from codeassist.tasks.complete import MAX_CHARS_PER_TOKEN

    counter = CountingCounter()
    settings = CompletionSettings(budget_tokens=2048, max_tokens=64)
    index = RecordingIndex(list(context))
    inp = CompletionInput("big.py", text, line, col)
    prepared = prepare_completion(inp, settings, index=index, count_tokens=counter)
    assert prepared is not None
    # No part is counted (let alone rendered) beyond what its budget could hold.
    assert counter.longest <= settings.budget_tokens * MAX_CHARS_PER_TOKEN, counter.longest
    assert len(prepared.prompt) < settings.budget_tokens * MAX_CHARS_PER_TOKEN
    assert prepared.prompt_tokens <= settings.budget_tokens + 200
    return prepared


def test_a_50_mb_cursor_line_is_cut_around_the_cursor():
    line = "x = [" + "1, " * (HUGE // 3) + "]"
    text = "import os\n" + line + "\nprint(x)\n"
    col = len(line) // 2
    prepared = _prepare_huge(text, 1, col)
    assert prepared.prompt.endswith(line[col - 60 : col])  # the model turn ends at the cursor
    assert line[col : col + 60] in prepared.prompt  # the code after it is shown
    assert prepared.mode == "line"


def test_a_50_mb_line_before_or_after_the_cursor_is_left_out_uncounted():
    blob = "z" * HUGE
    text = f"data = '{blob}'\ndef f(a):\n    return a\n\nvalue = f(1)\n{blob}\n"
    prepared = _prepare_huge(text, 2, len("    return a"))
    assert "def f(a):" in prepared.prompt and "value = f(1)" in prepared.prompt
    assert "zzzz" not in prepared.prompt


def test_a_50_mb_context_piece_is_dropped_uncounted():
    pieces = [Item("huge.py", 1, 1, "q" * HUGE), Item("small.py", 1, 2, "def g():\n    pass")]
    prepared = _prepare_huge(SOURCE, 4, 4, pieces)
    assert "small.py" in prepared.prompt and "qqqq" not in prepared.prompt


def test_outline_context_is_labelled_and_explained():
    outline = Item(
        "lib/shapes.py", 1, 40, "class Shape:\n    def area(self):\n        # [body elided]"
    )
    outline.kind = "outline"
    plain = Item("lib/util.py", 3, 4, "def helper():\n    return 1")
    inp = CompletionInput("app.py", SOURCE, 4, 11)
    prepared = prepare_completion(
        inp, CompletionSettings(), index=RecordingIndex([outline, plain]), count_tokens=count
    )
    assert "lib/shapes.py lines 1-40 (outline):" in prepared.prompt
    assert "[body elided]` comment stands for code left out" in prepared.prompt
    plain_only = prepare_completion(
        inp, CompletionSettings(), index=RecordingIndex([plain]), count_tokens=count
    )
    assert "(outline)" not in plain_only.prompt and "body elided" not in plain_only.prompt
