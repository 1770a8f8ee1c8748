"""Refactor actions on a selection or the symbol at the cursor, run with thinking off.

Offers are computed without the model (tree-sitter only), so an editor can list them on every
selection; the model runs only in `run_refactor`, for the action the user picked. The model's
answer becomes plain `FileEdit`s that keep the file's indentation and line endings, and an edit
that would break a file's syntax is refused.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from codeassist.config import RefactorSettings
from codeassist.gemma4.prompt import render_chat
from codeassist.tasks import code_targets, rename, same_code
from codeassist.tasks.edits import (
    EditRefused,
    FileEdit,
    Span,
    TextEdit,
    apply_edits,
    indent_unit,
    line_ending,
    reindent,
    replace_lines,
    split_lines,
    text_in,
    whole_lines,
    with_line_ending,
)
from codeassist.tasks.model_code import answer_text, extract_code
from codeassist.tasks.review_prompt import OUTLINE_NOTE
from codeassist.tasks.syntax_check import Grammar, check_edit_syntax, grammar_for_path
from retrieval.tokens import estimate_tokens

log = logging.getLogger(__name__)


class Action(StrEnum):
    EXTRACT_FUNCTION = "extract_function"
    SIMPLIFY = "simplify"
    ADD_DOCSTRING = "add_docstring"
    ADD_TYPES = "add_type_annotations"
    RENAME = "rename_symbol"
    REWRITE = "rewrite"


TITLES = {
    Action.EXTRACT_FUNCTION: "Extract function",
    Action.SIMPLIFY: "Simplify",
    Action.ADD_DOCSTRING: "Add docstring",
    Action.ADD_TYPES: "Add type annotations",
    Action.RENAME: "Rename symbol (all references in the workspace)",
    Action.REWRITE: "Rewrite with instruction…",
}

_TASKS = {
    Action.SIMPLIFY: (
        "Simplify this code without changing what it does: remove redundancy and use clearer, "
        "more direct constructs."
    ),
    Action.ADD_DOCSTRING: (
        "Add a docstring (or the language's documentation comment) to every function and class "
        "in this code that lacks one. Change nothing else."
    ),
    Action.ADD_TYPES: (
        "Add type annotations to the parameters and return values of the functions in this "
        "code. Change nothing else."
    ),
    Action.EXTRACT_FUNCTION: (
        "Extract this code into a new function with a name that says what it does. Reply with "
        "two fenced code blocks: first the new function's complete definition, then the code "
        "that replaces the selected lines by a call to it."
    ),
}

_SYSTEM = (
    "You are a precise refactoring tool inside a code editor. Reply with code only, in fenced "
    "code blocks, without explanations. Keep the code's behaviour unless the task asks "
    "otherwise, and follow the style of the surrounding code."
)

_WINDOW_LINES = 40  # lines of the file shown on each side of the code being changed


@dataclass(frozen=True)
class Offer:
    """An action the editor may list; span is what it replaces (the symbol, for a rename)."""

    action: Action
    title: str
    span: Span
    symbol: str = ""


@dataclass
class RefactorRequest:
    path: str  # absolute path of the file
    text: str  # its current text (the editor buffer)
    version: int | None  # the editor's document version the edit is computed for
    action: Action
    span: Span  # the offer's span
    instruction: str = ""  # Action.REWRITE
    new_name: str = ""  # Action.RENAME; empty: the model suggests one
    root: str = ""  # workspace root (for retrieval and paths in prompts)


@dataclass
class RefactorResult:
    title: str
    edits: list[FileEdit]
    new_name: str = ""
    notes: list[str] = field(default_factory=list)


def offers(path: str, text: str, selection: Span) -> list[Offer]:
    """The refactors that apply to a selection (or cursor), computed without the model."""
    grammar = grammar_for_path(path, text)
    result = []
    if grammar is not None and selection.start_line == selection.end_line:
        symbol = code_targets.identifier_at(
            text, grammar, selection.start_line, selection.start_col
        )
        if (
            symbol is not None
            and symbol.name not in _NOT_RENAMED
            and (selection.is_empty or selection == symbol.span)
        ):
            result.append(Offer(Action.RENAME, TITLES[Action.RENAME], symbol.span, symbol.name))
    target = _target_span(text, grammar, selection)
    if target is None:
        return result
    if not selection.is_empty and text_in(text, selection).strip():
        result.append(Offer(Action.EXTRACT_FUNCTION, TITLES[Action.EXTRACT_FUNCTION], target))
    for action in (Action.SIMPLIFY, Action.ADD_DOCSTRING, Action.ADD_TYPES, Action.REWRITE):
        result.append(Offer(action, TITLES[action], target))
    return result


# Names that are not the user's symbols: renaming them "everywhere" would rewrite every method.
_NOT_RENAMED = frozenset({"self", "cls", "this", "super", "Self"})


def _target_span(text: str, grammar: Grammar | None, selection: Span) -> Span | None:
    """Whole lines of a non-blank selection, else the innermost definition around the cursor."""
    if not selection.is_empty and text_in(text, selection).strip():
        return whole_lines(text, selection)
    if grammar is None:
        return None
    around = code_targets.enclosing_definitions(text, grammar, selection)
    return around[0].span if around else None


def run_refactor(
    request: RefactorRequest,
    *,
    client: Any,
    settings: RefactorSettings,
    index: Any = None,
    read: Callable[[str], rename.Document] | None = None,
    count_tokens: Callable[[str], int] | None = None,
    cancel: threading.Event | None = None,
    context: list[Any] | None = None,
) -> RefactorResult:
    """Run one refactor through the model; EditRefused (with a clear message) when unsafe.

    context: retrieval items already gathered (see gather_context); None gathers them here.
    """
    count = count_tokens or estimate_tokens
    grammar = grammar_for_path(request.path, request.text)
    if request.action is Action.RENAME:
        return _run_rename(request, client, settings, index, read, grammar, cancel)
    selected = text_in(request.text, request.span)
    if count(selected) > settings.max_tokens:
        raise EditRefused(
            f"the selection (about {count(selected)} tokens) is larger than the answer the model "
            f"may write ([refactor] max_tokens = {settings.max_tokens}); select less code or raise "
            f"the setting. Nothing was changed."
        )
    if context is None:
        context, notes = gather_context(request, index, settings.budget_tokens, count)
    else:
        notes = []
    messages, prefilled = build_messages(request, grammar, context)
    output = _ask(client, messages, settings, cancel, prefilled=prefilled)
    edits = edits_from_output(request, grammar, output, prefilled=bool(prefilled))
    return RefactorResult(TITLES[request.action], edits, notes=notes)


def _fence_tag(grammar: Grammar | None) -> str:
    return grammar.name if grammar else ""


def _relative(request: RefactorRequest) -> str:
    if request.root:
        try:
            return Path(request.path).relative_to(request.root).as_posix()
        except ValueError:
            pass
    return Path(request.path).name


def build_messages(
    request: RefactorRequest, grammar: Grammar | None, context: list[Any]
) -> tuple[list[dict[str, str]], str]:
    """(chat messages, text pre-written into the model turn) for a refactor request."""
    tag = _fence_tag(grammar)
    lines = split_lines(request.text)
    span = request.span
    parts = []
    if context:
        parts.append("Related code from the repository (read-only):")
        if any(item.kind == "outline" for item in context):
            parts.append(OUTLINE_NOTE.strip())
        for item in context:
            parts.append(
                f"{item.path} lines {item.start_line}-{item.end_line}:\n```{tag}\n"
                f"{item.text.rstrip()}\n```"
            )
    first = max(0, span.start_line - _WINDOW_LINES)
    last = min(len(lines), span.end_line + 1 + _WINDOW_LINES)
    before = "\n".join(lines[first : span.start_line])
    after = "\n".join(lines[span.end_line + 1 : last])
    target = "\n".join(lines[span.start_line : span.end_line + 1])
    parts.append(
        f"File {_relative(request)}, the code around the selection:\n```{tag}\n{before}\n"
        f"<<<selected lines {span.start_line + 1}-{span.end_line + 1}>>>\n{after}\n```"
    )
    if request.action is Action.REWRITE:
        instruction = request.instruction.strip()
        if not instruction:
            raise EditRefused("'Rewrite with instruction' needs an instruction; type one.")
        task = f"Rewrite the selected code as follows: {instruction}"
    else:
        task = _TASKS[request.action]
    parts.append(f"The selected lines:\n```{tag}\n{target}\n```")
    if request.action is Action.EXTRACT_FUNCTION:
        parts.append(f"Task: {task}")
        prefix = ""
    else:
        parts.append(
            f"Task: {task}\nReply with the complete replacement for the selected lines, in one "
            f"fenced code block."
        )
        prefix = f"```{tag}\n"
    messages = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
    return messages, prefix


def _ask(
    client: Any,
    messages: list[dict[str, str]],
    settings: RefactorSettings,
    cancel: threading.Event | None,
    *,
    prefilled: str = "",
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    whole: bool = True,
) -> str:
    """The model's answer; with whole, EditRefused when it was cut off at max_tokens.

    Cut-off code can still parse (a prefix of the statements) and would silently drop the
    rest of the selection, so it is never used.
    """
    prompt = render_chat(messages, enable_thinking=False, model_prefix=prefilled)
    if stop is None:
        stop = ["\n```"] if prefilled else []
    result = client.complete(
        prompt,
        max_tokens=max_tokens or settings.max_tokens,
        temperature=settings.temperature,
        stop=stop or None,
        priority="normal",
        cancel=cancel,
    )
    if cancel is not None and cancel.is_set():
        raise EditRefused("the refactor was cancelled; nothing was changed.")
    if whole and result.finish_reason == "length":
        limit = max_tokens or settings.max_tokens
        raise EditRefused(
            f"refused: the model's answer was cut off at {limit} tokens, so it is incomplete; "
            f"nothing was changed. Select less code or raise [refactor] max_tokens."
        )
    return result.text


def edits_from_output(
    request: RefactorRequest, grammar: Grammar | None, output: str, *, prefilled: bool
) -> list[FileEdit]:
    """The checked edits for a model answer (EditRefused: no code, no change, broken syntax)."""
    text = request.text
    if request.action is Action.EXTRACT_FUNCTION:
        function, call = extract_code(output, count=2)
        edits = [replace_lines(text, request.span, call)]
        edits.insert(0, _insert_function(text, grammar, request.span, function))
    else:
        (code,) = extract_code(output, prefilled_fence=prefilled)
        edits = [replace_lines(text, request.span, code)]
    after = apply_edits(text, edits)
    if after == text:
        raise EditRefused("the model suggested no change to this code; nothing was changed.")
    check_edit_syntax(request.path, text, after)
    if grammar is not None and grammar.name == "python":
        guard = _GUARDS.get(request.action)
        if guard is not None:
            guard(text_in(text, edits[0].span), edits[0].new_text)
    return [FileEdit(request.path, request.version, edits)]


# Actions that promise to change nothing but comments or types, checked where we can (Python).
_GUARDS = {
    Action.ADD_DOCSTRING: same_code.check_only_docstrings_added,
    Action.ADD_TYPES: same_code.check_only_annotations_added,
}


def _insert_function(text: str, grammar: Grammar | None, span: Span, function: str) -> TextEdit:
    if grammar is not None:
        line, indent = code_targets.new_function_line(text, grammar, span)
    else:
        line, indent = whole_lines(text, span).start_line, ""
    eol = line_ending(text)
    blank = 2 if grammar is not None and grammar.name == "python" and not indent else 1
    body = reindent(function.strip("\r\n"), indent, indent_unit(text))
    new_text = with_line_ending(body, eol) + eol * (blank + 1)
    return TextEdit(Span(line, 0, line, 0), new_text)


_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def suggest_name(
    request: RefactorRequest,
    grammar: Grammar | None,
    client: Any,
    settings: RefactorSettings,
    cancel: threading.Event | None,
) -> str:
    """A new name for the symbol at request.span, asked of the model (where to edit is not)."""
    old = text_in(request.text, request.span)
    lines = split_lines(request.text)
    first = max(0, request.span.start_line - _WINDOW_LINES)
    window = "\n".join(lines[first : request.span.start_line + _WINDOW_LINES])
    tag = _fence_tag(grammar)
    messages = [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": (
                f"File {_relative(request)}:\n```{tag}\n{window}\n```\n\nSuggest a clearer name "
                f"for `{old}` (line {request.span.start_line + 1}) that follows the file's naming "
                f"style. Reply with the name only."
            ),
        },
    ]
    answer = _ask(client, messages, settings, cancel, max_tokens=24, stop=["\n"], whole=False)
    match = _NAME.search(answer_text(answer).strip().strip("`"))
    if match is None:
        raise EditRefused(
            "the model did not suggest a usable name; use your editor's rename "
            "(textDocument/rename) to type one."
        )
    return match.group(0)


def _run_rename(
    request: RefactorRequest,
    client: Any,
    settings: RefactorSettings,
    index: Any,
    read: Callable[[str], rename.Document] | None,
    grammar: Grammar | None,
    cancel: threading.Event | None,
) -> RefactorResult:
    if index is None:
        raise EditRefused(
            "renaming needs the repository index, which is not ready yet; try again in a moment."
        )
    old = text_in(request.text, request.span)
    new = request.new_name or suggest_name(request, grammar, client, settings, cancel)
    rename.check_new_name(old, new, grammar.name if grammar else None)
    locations = index_locations(index, request.root, old, read)
    return plan_symbol_rename(request, new, locations, read)


def plan_symbol_rename(
    request: RefactorRequest,
    new: str,
    locations: list[rename.Location],
    read: Callable[[str], rename.Document] | None = None,
) -> RefactorResult:
    """Rename the symbol at request.span to new at exactly locations (from the index)."""
    old = text_in(request.text, request.span)
    grammar = grammar_for_path(request.path, request.text)
    here = rename.Location(request.path, request.span.start_line, request.span.start_col)
    if here not in locations:
        raise EditRefused(
            f"the index does not know '{old}' at line {request.span.start_line + 1} (it may be "
            f"a local name, or the file is not indexed yet); nothing was renamed."
        )

    def read_current(path: str) -> rename.Document:
        if path == request.path:
            return rename.Document(request.text, request.version)
        return (read or read_from_disk)(path)

    edits = rename.plan_rename(old, new, locations, read_current, grammar.name if grammar else None)
    return RefactorResult(f"Rename '{old}' to '{new}'", edits, new_name=new)


def read_from_disk(path: str) -> rename.Document:
    try:
        return rename.Document(Path(path).read_text(encoding="utf-8"), None)
    except (OSError, UnicodeDecodeError) as error:
        raise EditRefused(
            f"cannot read {path} ({error.__class__.__name__}); nothing was renamed."
        ) from None


def index_locations(
    index: Any, root: str, name: str, read: Callable[[str], rename.Document] | None = None
) -> list[rename.Location]:
    """Every place the retrieval index knows name: its references and its definitions' names.

    EditRefused when the repository defines no such name (a builtin or a library's name).
    """
    read = read or read_from_disk
    definitions = index.definitions(name)
    if not definitions:
        raise EditRefused(
            f"'{name}' is not defined in this repository (a builtin or a library name?); "
            f"renaming it would break the code that uses it. Nothing was renamed."
        )
    found = set()
    for ref in index.references(name):
        found.add(rename.Location(_absolute(root, ref.path), ref.line - 1, ref.col))
    for definition in definitions:
        path = _absolute(root, definition.path)
        lines = split_lines(read(path).text)
        target = name.encode("utf-8")
        # The name sits on one of the header lines, at a byte column.
        for line in range(definition.start_line - 1, definition.signature_end_line):
            data = lines[line].encode("utf-8") if line < len(lines) else b""
            if data[definition.col : definition.col + len(target)] == target:
                col = len(data[: definition.col].decode("utf-8", "replace"))
                found.add(rename.Location(path, line, col))
                break
    return sorted(found)


def _absolute(root: str, path: str) -> str:
    return str(Path(path) if Path(path).is_absolute() else Path(root) / path)


def gather_context(
    request: RefactorRequest, index: Any, budget: int, count: Callable[[str], int]
) -> tuple[list[Any], list[str]]:
    """Callers of the code being changed, then what retrieval ranks for it, within budget.

    The budget is for context; the file window and the selection are counted against it.
    """
    if index is None:
        return [], []
    relative = _relative(request)
    span = request.span
    lines = split_lines(request.text)
    shown = "\n".join(
        lines[max(0, span.start_line - _WINDOW_LINES) : span.end_line + _WINDOW_LINES]
    )
    target = "\n".join(lines[span.start_line : span.end_line + 1])
    budget = max(0, budget - count(shown) - count(target))
    if budget == 0:
        return [], []
    try:
        index.update_buffer(request.path, request.text)
        # the callers of the code being changed come first (retrieval.callers_of_changes)
        packed = index.context_for_changes(
            {relative: [(span.start_line + 1, span.end_line + 1)]},
            budget=budget,
            count_tokens=count,
        )
    except Exception as error:  # the refactor still works without context
        log.warning("retrieval context failed for %s: %s", request.path, error)
        return [], [f"no repository context ({error.__class__.__name__}: {error})"]
    items = [
        item
        for item in packed.items
        if not _overlaps(item.path, item.start_line, item.end_line, relative, span)
    ]
    return items, []


def _overlaps(path: str, start: int, end: int, relative: str, span: Span) -> bool:
    """Whether 1-based lines start..end of path overlap the request's span."""
    return path == relative and start <= span.end_line + 1 and end >= span.start_line + 1
