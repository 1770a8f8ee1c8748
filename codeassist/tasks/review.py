"""The review task: a ChangeSet in, checked findings out. Plain functions, no CLI, no LSP.

Thinking is on (review is the one task that thinks), priority "batch" so that completions
overtake it, JSON findings checked against the diff, one repair attempt for a malformed answer,
then a clear "no valid findings" result with the raw text saved to a file.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from codeassist import paths
from codeassist.config import Settings, uses_daemon
from codeassist.confine import confine
from codeassist.errors import UserError
from codeassist.git.changes import ChangeSet, split_lines
from codeassist.sizes import parse_size
from codeassist.tasks.review_findings import (
    ANSWER_SCHEMA,
    Checked,
    Dropped,
    Finding,
    InvalidAnswer,
    check_findings,
    extract_findings,
)
from codeassist.tasks.review_prompt import (
    ContextProvider,
    ReviewPrompt,
    build_prompt,
    repair_messages,
)
from codeassist.token_count import token_counter

DEFAULT_CONTEXT_TOKENS = 32768  # the window assumed when neither a setting nor a memory plan says
ANSWER_RESERVE_TOKENS = 256  # turn markers and rounding between our count and the model's


@dataclass
class ReviewProgress:
    stage: str  # context | model | repair | done
    elapsed_s: float
    prompt_tokens: int = 0
    generated_tokens: int = 0
    thinking: bool = False


@dataclass
class ReviewResult:
    status: str  # ok | no_valid_findings | cancelled
    findings: list[Finding]
    dropped: list[Dropped] = field(default_factory=list)
    reanchored: int = 0
    prompt: ReviewPrompt | None = None
    thinking: str = ""
    answer: str = ""
    problem: str = ""  # why there are no valid findings (status no_valid_findings)
    raw_output_path: Path | None = None
    usage: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    notices: list[str] = field(default_factory=list)  # the client's remarks on the endpoint


def context_window(settings: Settings) -> int:
    """Tokens the model can take: what the running daemon holds, else the memory plan for a
    local checkpoint, else the default."""
    if uses_daemon(settings) and settings.model.path:
        running = _daemon_context(settings)
        if running is not None:
            return running
        from codeassist.engine.plan import context_limit

        memory = settings.engine.gpu_memory
        try:
            return int(context_limit(settings.model.path, parse_size(memory) if memory else None))
        except Exception:  # a bad path or size is reported by the model call itself
            pass
    return DEFAULT_CONTEXT_TOKENS


def _daemon_context(settings: Settings) -> int | None:
    """The context of the daemon already answering on the socket (the review goes to it). It
    sized its K/V storage on the GPU it runs on, so its figure is the true one, and asking
    costs milliseconds, where the plan needs torch to count weights and find the GPU."""
    from codeassist.client.daemon_start import read_health
    from codeassist.client.errors import ModelUnavailable
    from codeassist.daemon_files import socket_path_of

    try:
        health = read_health(socket_path_of(settings), timeout=1.0)
    except (ModelUnavailable, OSError):
        return None
    if not isinstance(health, dict) or health.get("state") != "ready":
        return None  # not running, or still loading (its size is not known yet)
    limit = health.get("max_context")
    return limit if isinstance(limit, int) and limit > 0 else None


def review_budget(settings: Settings) -> int:
    """Prompt tokens for a review: review.budget_tokens, else the window less the answer."""
    if settings.review.budget_tokens > 0:
        return settings.review.budget_tokens
    window = context_window(settings)
    return max(1024, window - settings.review.max_tokens - ANSWER_RESERVE_TOKENS)


def retrieval_context(
    changes: ChangeSet, settings: Settings, count_tokens: Callable[[str], int]
) -> ContextProvider:
    """Related code from the repository index: callers, enclosing code, definitions used."""
    from codeassist.tasks.review_context import index_context

    return index_context(changes.root, changes, count_tokens, settings)


def plan_review(
    changes: ChangeSet,
    settings: Settings,
    *,
    context: ContextProvider | None = None,
    count_tokens: Callable[[str], int] | None = None,
    use_index: bool = True,
) -> ReviewPrompt:
    """Everything up to the model call (what --dry-run shows): the packed prompt."""
    count = count_tokens or token_counter(settings)
    if context is None and use_index:
        context = retrieval_context(changes, settings, count)
    return build_prompt(
        changes,
        budget=review_budget(settings),
        count_tokens=count,
        context=context,
    )


def _response_format(settings: Settings) -> dict[str, Any] | None:
    mode = settings.review.response_format
    if mode not in ("auto", "json_schema", "json_object", "none"):
        raise UserError(
            f"[review] response_format {mode!r} ({settings.source_of('review.response_format')}) "
            "must be auto, json_schema, json_object or none."
        )
    if mode == "auto":
        mode = "none" if uses_daemon(settings) else "json_schema"
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "review_findings", "schema": ANSWER_SCHEMA},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def save_raw_output(label: str, attempts: list[tuple[str, str, str]], problem: str) -> Path:
    """Write what the model said (thinking and answer of each attempt) to a file; its path."""
    folder = paths.state_dir() / "reviews"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", label)[:60]
    path = folder / f"{stamp}-{slug}.txt"
    lines = [f"codeassist review: {label}", f"problem: {problem or 'none'}", ""]
    for name, thinking, answer in attempts:
        lines += [
            f"===== {name}: thinking =====",
            thinking,
            f"===== {name}: answer =====",
            answer,
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _reviewed_file_reader(root: Path, changes: ChangeSet) -> Callable[[str], list[str] | None]:
    def read(path: str) -> list[str] | None:
        change = changes.file(path)
        if change is not None:
            return change.new_lines()
        full = root / path
        if confine(full, [root]) is not None or not full.is_file():
            return None
        try:
            return split_lines(full.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    return read


def review(
    changes: ChangeSet,
    settings: Settings,
    client: Any,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[ReviewProgress], None] | None = None,
    on_thinking: Callable[[str], None] | None = None,
    only_changed: bool = True,
    timeout: float | None = None,
    prompt: ReviewPrompt | None = None,
    context: ContextProvider | None = None,
) -> ReviewResult:
    """Review changes with the model behind client; findings checked against the diff.

    client is a codeassist.client.ModelClient. Raises ModelUnavailable (a UserError) when the
    model cannot be reached or times out; returns status "cancelled" when cancel is set.
    """
    started = time.monotonic()
    state = ReviewProgress("context", 0.0)

    def report(stage: str | None = None) -> None:
        if stage:
            state.stage = stage
        state.elapsed_s = time.monotonic() - started
        if progress:
            progress(state)

    report()
    if prompt is None:
        prompt = plan_review(changes, settings, context=context)
    state.prompt_tokens = prompt.used

    def on_delta(kind: str, text: str) -> None:
        state.generated_tokens += 1
        state.thinking = kind == "thinking"
        if kind == "thinking" and on_thinking:
            on_thinking(text)
        report()

    deadline = None if timeout is None else started + timeout

    def call(messages: list[dict[str, str]], thinking: bool) -> Any:
        remaining = None if deadline is None else max(1.0, deadline - time.monotonic())
        fmt = _response_format(settings)
        kwargs: dict[str, Any] = dict(
            enable_thinking=thinking,
            max_tokens=settings.review.max_tokens,
            priority="batch",
            timeout=remaining,
            cancel=cancel,
            on_delta=on_delta,
        )
        # The client steps response_format down itself when an endpoint refuses it.
        result = client.chat(messages, response_format=fmt, **kwargs)
        notices.extend(n for n in result.notices if n not in notices)
        return result

    usage = {"prompt_tokens": 0, "completion_tokens": 0, "reused_tokens": 0}
    notices: list[str] = []  # what the client says once about the endpoint (e.g. no thinking)

    def add_usage(result: Any) -> None:
        for key in usage:
            usage[key] += int(getattr(result.usage, key, 0) or 0)

    attempts: list[tuple[str, str, str]] = []
    report("model")
    first = call(prompt.messages, True)
    add_usage(first)
    attempts.append(("review", first.thinking or "", first.text or ""))
    if first.finish_reason == "cancelled" or (cancel is not None and cancel.is_set()):
        return ReviewResult(
            "cancelled", [], prompt=prompt, usage=usage, thinking=first.thinking, notices=notices
        )

    checked: Checked | None = None
    problem = ""
    answer = first.text or ""
    try:
        items = extract_findings(answer)
    except InvalidAnswer as error:
        problem = str(error)
        if first.finish_reason == "length":
            problem += f" (the model stopped at the {settings.review.max_tokens}-token limit)"
        report("repair")
        # Thinking stays on: the system and user turns then render exactly as before, so the
        # daemon's prefix cache serves the whole review prompt instead of computing it again.
        second = call(repair_messages(prompt, answer, problem), True)
        add_usage(second)
        attempts.append(("repair", second.thinking or "", second.text or ""))
        if second.finish_reason == "cancelled" or (cancel is not None and cancel.is_set()):
            return ReviewResult("cancelled", [], prompt=prompt, usage=usage, notices=notices)
        try:
            items = extract_findings(second.text or "")
            answer = second.text or ""
        except InvalidAnswer as again:
            problem = f"first answer: {problem}; repair answer: {again}"
            items = None
    if items is not None:
        checked = check_findings(
            items,
            changes,
            only_changed=only_changed,
            read_file=_reviewed_file_reader(changes.root, changes),
        )
    report("done")
    elapsed = time.monotonic() - started
    if checked is not None and checked.dropped and not checked.findings:
        problem = f"all {len(checked.dropped)} findings it returned were invalid: " + "; ".join(
            sorted({d.reason for d in checked.dropped})[:5]
        )
        checked_dropped, checked = checked.dropped, None
    else:
        checked_dropped = []
    if checked is None:
        path = save_raw_output(changes.label, attempts, problem)
        return ReviewResult(
            "no_valid_findings",
            [],
            dropped=checked_dropped,
            prompt=prompt,
            thinking=first.thinking or "",
            answer=answer,
            problem=problem,
            raw_output_path=path,
            usage=usage,
            elapsed_s=elapsed,
            notices=notices,
        )
    raw_path = None
    if checked.dropped:
        raw_path = save_raw_output(
            changes.label, attempts, f"{len(checked.dropped)} findings dropped"
        )
    return ReviewResult(
        "ok",
        checked.findings,
        dropped=checked.dropped,
        reanchored=checked.reanchored,
        prompt=prompt,
        thinking=first.thinking or "",
        answer=answer,
        raw_output_path=raw_path,
        usage=usage,
        elapsed_s=elapsed,
        notices=notices,
    )
