"""Code completion at a cursor: context, prompt, model call, post-processing.

Gemma 4 has no fill-in-the-middle tokens (docs/prompt-format.md), so the prompt is a chat: retrieved
repository context first, then the code after the cursor, then the code before the cursor
pre-written into the model turn so that the model continues it. The parts that change per
keystroke come last, so the daemon's prefix cache reuses everything before them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from codeassist.config import CompletionSettings
from codeassist.gemma4.prompt import render_chat
from codeassist.tasks.postprocess import FENCE, clean_suggestion, suggestion_complete
from retrieval.languages import language_for
from retrieval.tokens import estimate_tokens

Mode = Literal["line", "block"]
CountTokens = Callable[[str], int]

# Share of the prompt budget for the code before / after the cursor; context gets the rest.
PREFIX_SHARE = 0.45
SUFFIX_SHARE = 0.15
# Tokens kept free for the fixed instructions and rounding of the token estimate.
PROMPT_OVERHEAD_TOKENS = 160
# The first line of the prefix window snaps to multiples of this, so consecutive keystrokes
# render the same prompt up to the cursor and the prefix cache reuses it.
WINDOW_GRID_LINES = 16
MAX_WINDOW_LINES = 2000
# Characters one token may stand for, at most in practice: a prompt part longer than its
# budget times this is cut by characters before it is counted (a 50 MB line is never counted).
MAX_CHARS_PER_TOKEN = 16
# What post-processing sees around the cursor (indentation, open brackets, the next line).
AROUND_CURSOR_CHARS = 20_000
LINE_MODE_MAX_TOKENS = 48

SYSTEM_PROMPT = (
    "You are a code completion engine inside an editor. The user shows code from the "
    "repository and the code that follows the cursor. Your reply starts with the code before "
    "the cursor: continue it exactly where it stops with the code that belongs at the cursor, "
    "then close the code block with ```. Write only code, no explanations."
)


@dataclass
class CompletionInput:
    path: str  # repository-relative path (labels the prompt, keys retrieval)
    text: str  # the buffer as the editor has it, saved or not
    line: int  # 0-based
    col: int  # 0-based, in code points, clamped to the line's length
    language: str = ""  # editor language id; the file extension decides when empty


@dataclass
class ContextPiece:
    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    text: str
    kind: str = ""  # retrieval's item kind; "outline": members' signatures, bodies elided


# Outline items (retrieval) are a class's or file's members with bodies left out.
OUTLINE_NOTE = (
    "Items marked (outline) list a class's or file's members; a `[body elided]` comment stands "
    "for code left out: do not reproduce it or complete it."
)


@dataclass
class Windows:
    prefix: str  # code before the cursor that goes into the model turn
    suffix: str  # code after the cursor shown in the user turn
    first_line: int  # 0-based line where prefix starts
    last_line: int  # 0-based line where suffix ends
    cursor_line: int


@dataclass
class PreparedCompletion:
    prompt: str
    mode: Mode
    before: str  # text before the cursor (its last AROUND_CURSOR_CHARS)
    after: str  # text after the cursor (its first AROUND_CURSOR_CHARS)
    max_tokens: int
    stop: list[str]
    temperature: float
    prompt_tokens: int  # estimate
    context: list[ContextPiece] = field(default_factory=list)


@dataclass
class Completion:
    text: str  # what to insert at the cursor ("" for nothing)
    mode: Mode
    finish_reason: str | None
    raw: str


def split_at(text: str, line: int, col: int) -> tuple[str, str] | None:
    """(before, after) the 0-based line/col; None if line is past the end. col is clamped."""
    if line < 0 or col < 0:
        return None
    parts = text.split("\n", line)
    if len(parts) <= line:
        return None
    line_start = len(text) - len(parts[-1])
    line_end = text.find("\n", line_start)
    if line_end < 0:
        line_end = len(text)
    offset = min(line_start + col, line_end)
    return text[:offset], text[offset:]


def completion_mode(after: str) -> Mode:
    """Single line when code follows the cursor on its line, else multi-line."""
    return "line" if after.split("\n", 1)[0].strip() else "block"


def prompt_budget(budget_tokens: int, max_tokens: int, context_limit: int | None) -> int:
    """The prompt's token budget: the setting, never more than the memory plan's context."""
    if context_limit is None or context_limit <= 0:
        return max(0, budget_tokens)
    return max(0, min(budget_tokens, context_limit - max_tokens - PROMPT_OVERHEAD_TOKENS))


def fit_tokens(text: str, budget: int, count_tokens: CountTokens, *, keep: str) -> str:
    """The part of text nearest the cursor that fits budget tokens ("end" or "start" kept).

    Cut by characters first (budget x MAX_CHARS_PER_TOKEN), so that a huge line is never
    counted whole; then counted, and shortened in proportion until it fits.
    """
    if budget <= 0:
        return ""
    limit = budget * MAX_CHARS_PER_TOKEN
    if len(text) > limit:
        text = text[-limit:] if keep == "end" else text[:limit]
    while text:
        tokens = count_tokens(text)
        if tokens <= budget:
            break
        size = min(len(text) - 1, len(text) * budget // tokens)
        text = text[len(text) - size :] if keep == "end" else text[:size]
    return text


def _lines_back(text: str, end: int, budget: int, used: int, count_tokens: CountTokens):
    """(start offsets, tokens used) of the whole lines before offset end (a line break) that
    fit the budget, nearest first; a line too long to fit is not counted at all."""
    starts: list[int] = []
    while end > 0 and len(starts) < MAX_WINDOW_LINES:
        start = text.rfind("\n", 0, end - 1) + 1 if end > 1 else 0
        room = budget - used - 1
        if end - 1 - start > room * MAX_CHARS_PER_TOKEN:
            break
        cost = count_tokens(text[start : end - 1]) + 1
        if cost > room + 1:
            break
        used += cost
        starts.append(start)
        end = start
    return starts, used


def cut_windows(
    before: str,
    after: str,
    *,
    prefix_budget: int,
    suffix_budget: int,
    count_tokens: CountTokens,
) -> Windows:
    """The code before/after the cursor that fits the budgets, in whole lines.

    The cursor's line is always in, cut to the budget around the cursor when it alone is too
    long. The prefix window's first line snaps to a grid so that it stays put while the user
    types.
    """
    cursor_line = before.count("\n")
    line_start = before.rfind("\n") + 1
    head = fit_tokens(before[line_start:], prefix_budget, count_tokens, keep="end")
    starts: list[int] = []
    if len(head) == len(before) - line_start:  # the whole start of the line fits
        starts, _ = _lines_back(before, line_start, prefix_budget, count_tokens(head), count_tokens)
    first_line = cursor_line - len(starts)
    if starts and first_line > 0:
        snapped = -(-first_line // WINDOW_GRID_LINES) * WINDOW_GRID_LINES
        if snapped < cursor_line:
            starts = starts[: cursor_line - snapped]
            first_line = snapped
    prefix = before[starts[-1] : line_start] + head if starts else head

    line_end = after.find("\n")
    line_end = len(after) if line_end < 0 else line_end
    tail = fit_tokens(after[:line_end], suffix_budget, count_tokens, keep="start")
    suffix, kept = tail, 1
    if len(tail) == line_end:  # the whole rest of the line fits
        used = count_tokens(tail)
        position = line_end
        while position < len(after) and kept < MAX_WINDOW_LINES:
            end = after.find("\n", position + 1)
            end = len(after) if end < 0 else end
            room = suffix_budget - used - 1
            if end - position - 1 > room * MAX_CHARS_PER_TOKEN:
                break
            cost = count_tokens(after[position + 1 : end]) + 1
            if cost > room + 1:
                break
            used += cost
            kept += 1
            position = end
        suffix = after[:position]
    return Windows(prefix, suffix, first_line, cursor_line + kept - 1, cursor_line)


def language_tag(path: str, language: str = "") -> str:
    """The code-fence tag for a file."""
    return language or language_for(path) or ""


def drop_overlapping(
    items: Sequence[ContextPiece], path: str, windows: Windows
) -> list[ContextPiece]:
    """Context pieces minus those of the edited file that repeat lines already in the prompt."""
    first, last = windows.first_line + 1, windows.last_line + 1  # 1-based like ContextItem
    return [
        item
        for item in items
        if item.path != path or item.end_line < first or item.start_line > last
    ]


def _context_text(tag: str, context: Sequence[ContextPiece]) -> str:
    """Context grouped per file (in rank order of first appearance), labelled by lines."""
    if not context:
        return "No other code from the repository is needed."
    by_path: dict[str, list[ContextPiece]] = {}
    for item in context:
        by_path.setdefault(item.path, []).append(item)
    blocks = []
    for path, items in by_path.items():
        items = sorted(items, key=lambda i: i.start_line)
        # An outline's text is not its lines start..end: it is labelled as what it is.
        spans = ", ".join(
            f"{i.start_line}-{i.end_line}" + (" (outline)" if i.kind == "outline" else "")
            for i in items
        )
        body = "\n...\n".join(i.text.rstrip("\n") for i in items)
        blocks.append(f"{path} lines {spans}:\n{FENCE}{tag}\n{body}\n{FENCE}")
    note = f"{OUTLINE_NOTE}\n\n" if any(i.kind == "outline" for i in context) else ""
    return note + "Code from the repository:\n\n" + "\n\n".join(blocks)


def fit_context(
    context: Sequence[ContextPiece], room: int, count_tokens: CountTokens
) -> list[ContextPiece]:
    """The best-ranked context pieces whose rendering (labels included) fits room tokens."""
    kept: list[ContextPiece] = []
    used = 0
    seen: set[str] = set()
    for item in context:
        if len(item.text) > (room - used) * MAX_CHARS_PER_TOKEN:
            continue  # cannot fit: not worth counting
        cost = count_tokens(item.text) + 2
        if item.path not in seen:
            cost += count_tokens(f"{item.path} lines 1-1:\n{FENCE}\n{FENCE}\n\n") + 2
        if item.kind == "outline":
            cost += 4  # " (outline)" in the label
            if not any(k.kind == "outline" for k in kept):
                cost += count_tokens(OUTLINE_NOTE) + 2
        if used + cost > room:
            continue  # a smaller, lower-ranked piece may still fit
        kept.append(item)
        seen.add(item.path)
        used += cost + 4  # the line range in the label
    return kept


def render_prompt(path: str, tag: str, context: Sequence[ContextPiece], windows: Windows) -> str:
    """The full prompt text: context, then code after the cursor, then code before it."""
    user = (
        f"{_context_text(tag, context)}\n\nThe file being edited is {path}. "
        f"The code after the cursor is:\n{FENCE}{tag}\n{windows.suffix}\n{FENCE}\n\n"
        "Continue the code in your reply from the cursor."
    )
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    return render_chat(
        messages, enable_thinking=False, model_prefix=f"{FENCE}{tag}\n{windows.prefix}"
    )


class ContextMemo:
    """The last retrieved context per file, reused while the cursor stays on the same line.

    Keeping the context fixed between keystrokes keeps the prompt's start fixed, which is what
    the daemon's prefix cache reuses.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[Any, ...], list[ContextPiece]]] = {}

    def get(self, path: str, key: tuple[Any, ...]) -> list[ContextPiece] | None:
        entry = self._last.get(path)
        return entry[1] if entry is not None and entry[0] == key else None

    def put(self, path: str, key: tuple[Any, ...], pieces: list[ContextPiece]) -> None:
        self._last[path] = (key, pieces)


def retrieve_context(
    index: Any,
    inp: CompletionInput,
    *,
    budget: int,
    count_tokens: CountTokens,
    open_buffers: dict[str, str] | None,
) -> list[ContextPiece]:
    """Context from a retrieval.RepoIndex for the cursor (1-based line for retrieval)."""
    if index is None or budget <= 0:
        return []
    packed = index.context_for_position(
        inp.path,
        inp.line + 1,
        inp.col,
        buffer=inp.text,
        budget=budget,
        count_tokens=count_tokens,
        open_buffers=open_buffers,
    )
    return [
        ContextPiece(i.path, i.start_line, i.end_line, i.text, getattr(i, "kind", ""))
        for i in packed.items
    ]


CALIBRATION_CHARS = 20_000


def calibrated_counter(exact: CountTokens | None, sample: str) -> CountTokens:
    """The estimator scaled to the model's tokenizer, measured once on sample.

    Exact tokenizers are too slow to run over every line on every keystroke; the scaled
    estimate keeps budgets in the model's tokens at the estimator's speed.
    """
    estimate = estimate_tokens
    sample = sample[:CALIBRATION_CHARS]
    if exact is None or not sample.strip():
        return estimate
    ratio = exact(sample) / max(1, estimate(sample))
    return lambda text: math.ceil(estimate(text) * ratio)


def prepare_completion(
    inp: CompletionInput,
    settings: CompletionSettings,
    *,
    index: Any = None,
    count_tokens: CountTokens | None = None,
    context_limit: int | None = None,
    open_buffers: dict[str, str] | None = None,
    memo: ContextMemo | None = None,
) -> PreparedCompletion | None:
    """Everything needed for the model call; None if the position is outside the text."""
    split = split_at(inp.text, inp.line, inp.col)
    if split is None:
        return None
    before, after = split
    count = count_tokens or estimate_tokens
    mode = completion_mode(after)
    max_tokens = (
        settings.max_tokens if mode == "block" else min(settings.max_tokens, LINE_MODE_MAX_TOKENS)
    )
    budget = prompt_budget(settings.budget_tokens, max_tokens, context_limit)
    windows = cut_windows(
        before,
        after,
        prefix_budget=int(budget * PREFIX_SHARE),
        suffix_budget=int(budget * SUFFIX_SHARE),
        count_tokens=count,
    )
    context_budget = budget - count(windows.prefix) - count(windows.suffix) - PROMPT_OVERHEAD_TOKENS
    key = (inp.line, windows.first_line, windows.last_line, context_budget // 256)
    context = memo.get(inp.path, key) if memo is not None else None
    if context is None:
        context = retrieve_context(
            index, inp, budget=context_budget, count_tokens=count, open_buffers=open_buffers
        )
        context = fit_context(drop_overlapping(context, inp.path, windows), context_budget, count)
        if memo is not None:
            memo.put(inp.path, key, context)
    prompt = render_prompt(inp.path, language_tag(inp.path, inp.language), context, windows)
    stop = [FENCE, "\n"] if mode == "line" else [FENCE]
    return PreparedCompletion(
        prompt=prompt,
        mode=mode,
        before=before[-AROUND_CURSOR_CHARS:],
        after=after[:AROUND_CURSOR_CHARS],
        max_tokens=max_tokens,
        stop=stop,
        temperature=settings.temperature,
        prompt_tokens=count(prompt),
        context=context,
    )


def finish_completion(prepared: PreparedCompletion, raw: str) -> str:
    """The model's raw continuation turned into the text to insert."""
    return clean_suggestion(raw, before=prepared.before, after=prepared.after, mode=prepared.mode)


class _StopWhenEither(threading.Event):
    """Set by the caller's cancel or by this call's own stop (the client polls is_set())."""

    def __init__(self, caller: threading.Event | None) -> None:
        super().__init__()
        self.caller = caller

    def is_set(self) -> bool:
        return super().is_set() or (self.caller is not None and self.caller.is_set())


def call_model(
    client: Any, prepared: PreparedCompletion, cancel: threading.Event | None = None
) -> tuple[str, str | None]:
    """(raw text, finish reason) of one interactive raw-completion call.

    The answer is watched while it streams: once the suggestion is complete (the line ends in
    line mode, the block closes in block mode) the request is cancelled, so the model stops
    generating; the finish reason is then "complete".
    """
    stop = _StopWhenEither(cancel)
    received: list[str] = []

    def on_delta(kind: str, text: str) -> None:
        if kind != "answer" or stop.is_set():
            return
        received.append(text)
        raw = "".join(received)
        if suggestion_complete(
            raw, before=prepared.before, after=prepared.after, mode=prepared.mode
        ):
            stop.set()

    result = client.complete(
        prepared.prompt,
        max_tokens=prepared.max_tokens,
        temperature=prepared.temperature,
        stop=prepared.stop,
        priority="interactive",
        cancel=stop,
        on_delta=on_delta,
    )
    stopped_here = threading.Event.is_set(stop) and not (cancel is not None and cancel.is_set())
    return result.text, "complete" if stopped_here else result.finish_reason


def complete(
    inp: CompletionInput,
    settings: CompletionSettings,
    client: Any,
    *,
    index: Any = None,
    count_tokens: CountTokens | None = None,
    context_limit: int | None = None,
    cancel: threading.Event | None = None,
) -> Completion | None:
    """One completion at inp's cursor (the CLI path; the language server runs the same steps)."""
    prepared = prepare_completion(
        inp, settings, index=index, count_tokens=count_tokens, context_limit=context_limit
    )
    if prepared is None:
        return None
    raw, reason = call_model(client, prepared, cancel)
    return Completion(finish_completion(prepared, raw), prepared.mode, reason, raw)
