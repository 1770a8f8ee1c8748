"""`codeassist review [REV | A..B] [--staged] [PATH...]`: review a change with the model."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codeassist.cli.common import err_console, make_console
from codeassist.config import Settings, check_endpoint_allowed, load_settings, uses_daemon
from codeassist.errors import UserError
from codeassist.git import RULE, changes_from_git
from codeassist.git.changes import ChangeSet
from codeassist.report import FORMATS, MACHINE_FORMATS, print_text
from codeassist.tasks.review import ReviewProgress, ReviewResult, plan_review, review
from codeassist.tasks.review_findings import severity_reaches
from codeassist.tasks.review_prompt import ReviewPrompt, dry_run_report, dumps

FAIL_ON = ("error", "warning", "info", "never")

NO_MODEL = (
    "no model is configured, so nothing can review this change. Either point codeassist at a "
    'local Gemma 4 checkpoint: set `[model] path = "/models/gemma-4-26b-a4b-it"` in '
    "~/.config/codeassist/config.toml (or CODEASSIST_MODEL_PATH=DIR, or --model DIR); or at an "
    "OpenAI-compatible server (llama.cpp, Ollama, vLLM): set `[model] endpoint = "
    '"http://127.0.0.1:8080/v1"` (or CODEASSIST_MODEL_ENDPOINT=URL, or --endpoint URL). '
    "`codeassist review --dry-run` shows what would be sent without any model."
)

HELP = (
    "Review a change with the local model and print findings.\n\n"
    f"{RULE}\n\n"
    "PATH... limits the review to those files or folders. Exit status: 1 when a finding reaches "
    "--fail-on, 0 otherwise, 2 for usage errors (unknown revision, not a git repository, no "
    "changes, no model configured)."
)


def _split_args(args: list[str], positional_rev: bool) -> tuple[str | None, list[str]]:
    if not args:
        return None, []
    if not positional_rev:
        return None, list(args)
    return args[0], list(args[1:])


def _settings(repo: Path, overrides: dict[str, object]) -> Settings:
    return load_settings(repo=repo, overrides=overrides)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UserError(f"{name} {value!r} is not one of {', '.join(choices)}.")
    return value


def ensure_model_configured(settings: Settings) -> None:
    """UserError with the how-to when no model is configured and no daemon is running, or
    when the endpoint is off this machine without the user's consent."""
    check_endpoint_allowed(settings)
    if not uses_daemon(settings) or settings.model.path:
        return
    try:
        from codeassist.client.daemon_start import read_health, socket_path_of

        if read_health(socket_path_of(settings)) is not None:
            return
    except (ImportError, UserError):
        pass
    raise UserError(NO_MODEL)


def print_dry_run(prompt: ReviewPrompt, changes: ChangeSet, console: Console) -> None:
    """What would be sent: files, line ranges, tokens per part, total against the budget."""
    table = Table(
        title=f"codeassist review --dry-run: {escape(changes.label)}", title_justify="left"
    )
    table.add_column("part")
    table.add_column("what")
    table.add_column("lines")
    table.add_column("tokens", justify="right")
    rows: dict[tuple[str, str], tuple[list[tuple[int, int]], int]] = {}
    for part in prompt.parts:
        key = (part.kind, part.path or part.label)  # related code: one row per file
        ranges, tokens = rows.get(key, ([], 0))
        rows[key] = (ranges + part.ranges, tokens + part.tokens)
    for (kind, what), (ranges, tokens) in rows.items():
        lines = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in sorted(ranges))
        table.add_row(kind, escape(what), lines, f"{tokens:,}")
    console.print(table)
    share = 100 * prompt.used / prompt.budget if prompt.budget else 0
    console.print(
        f"total: {prompt.used:,} of {prompt.budget:,} prompt tokens ({share:.0f}% of the budget)"
    )
    for path, why in changes.not_reviewed():
        console.print(f"not reviewed: {escape(path)} ({why})")
    if prompt.omitted:
        console.print(f"changed lines that did not fit ({len(prompt.omitted)}), not reviewed:")
        for item in prompt.omitted:
            console.print(f"  - {escape(item)}")
    if prompt.context_omitted:
        console.print(
            f"related code left out for lack of room: {len(prompt.context_omitted)} pieces"
        )
    console.print("No model was called.")


class _Progress:
    """Elapsed time and tokens on stderr while the model works."""

    def __init__(self, label: str, show_thinking: bool) -> None:
        self.label = label
        self.show_thinking = show_thinking
        self.live = err_console.is_terminal and not show_thinking
        self.status = None
        self.started = time.monotonic()
        self.stage = ""
        self.state: ReviewProgress | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def __enter__(self) -> _Progress:
        self.started = time.monotonic()
        if self.live:
            self.status = err_console.status(f"Reviewing {escape(self.label)}...")
            self.status.__enter__()
            # The first token of a long prompt can take minutes: keep the clock moving.
            threading.Thread(target=self._tick, daemon=True).start()
        return self

    def _tick(self) -> None:
        while not self.stop.wait(0.5):
            self._render()

    def _render(self) -> None:
        with self.lock:
            state = self.state
            if state is None or self.status is None or self.stop.is_set():
                return
            what = {"context": "gathering context", "repair": "asking again for valid JSON"}.get(
                state.stage, "thinking" if state.thinking else "writing findings"
            )
            if state.stage == "model" and state.generated_tokens == 0:
                what = f"reading the prompt ({state.prompt_tokens:,} tokens)"
            minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
            self.status.update(
                f"{minutes:02d}:{seconds:02d} reviewing {escape(self.label)} · {what} · "
                f"{state.generated_tokens:,} tokens generated"
            )

    def update(self, state: ReviewProgress) -> None:
        first_model_call = state.stage == "model" and self.stage != "model"
        changed = state.stage != self.stage
        self.stage = state.stage
        self.state = state
        if not self.live:
            if first_model_call:
                err_console.print(
                    f"Reviewing {escape(self.label)}: {state.prompt_tokens:,} prompt tokens, "
                    f"thinking on..."
                )
            return
        if changed or state.generated_tokens % 8 == 0:
            self._render()

    def thinking(self, text: str) -> None:
        err_console.out(text, style="dim", end="", highlight=False)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        with self.lock:
            if self.status is not None:
                self.status.__exit__(None, None, None)
        if self.show_thinking:
            err_console.print()
        if self.state is not None and exc[0] is None:
            err_console.print(
                f"[dim]Review took {time.monotonic() - self.started:.1f} s, "
                f"{self.state.generated_tokens:,} tokens generated.[/]"
            )


def check_output_path(output: Path) -> None:
    """UserError now, before any model runs, when the report could not be written to output."""
    where = f"--output {output}"
    if output.is_dir():
        raise UserError(f"{where} is a folder; give a file path, e.g. {output / 'review.sarif'}")
    folder = output.parent
    if not folder.is_dir():
        raise UserError(f"{where}: the folder {folder} does not exist; create it first")
    if output.exists() and not os.access(output, os.W_OK):
        raise UserError(f"{where}: the file exists and is not writable; check its permissions")
    if not output.exists() and not os.access(folder, os.W_OK):
        raise UserError(f"{where}: cannot create files in {folder}; check its permissions")


def _write(text: str, output: Path | None) -> None:
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
            err_console.print(f"wrote {escape(str(output))}")
            return
        except OSError as error:  # it changed since it was checked: keep the report anyway
            _warn(f"could not write {output} ({error.strerror}); the report follows on stdout")
    sys.stdout.write(text)
    sys.stdout.flush()


def _warn(message: str) -> None:
    err_console.print(f"[bold yellow]codeassist:[/] {escape(message)}")


def review_command(
    args: list[str] = typer.Argument(
        None, metavar="[REV | A..B] [PATH...]", help="What to review (see above), then paths."
    ),
    staged: bool = typer.Option(False, "--staged", help="Review the index against HEAD."),
    root: bool = typer.Option(False, "--root", help="Review all of HEAD (a first commit)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text | json | sarif | rdjsonl"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here."),
    fail_on: str | None = typer.Option(
        None, "--fail-on", help="error | warning | info | never (default: review.fail_on)."
    ),
    only_changed: bool | None = typer.Option(
        None,
        "--only-changed/--any-line",
        help="Keep findings on lines the diff shows (default), or on any line of the files.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be sent to the model; call no model."
    ),
    show_thinking: bool = typer.Option(
        False, "--show-thinking", help="Stream the model's thinking to stderr."
    ),
    budget: int | None = typer.Option(None, "--budget", help="Prompt token budget."),
    model: str | None = typer.Option(None, "--model", help="Local checkpoint directory."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="'daemon' or an OpenAI-compatible base URL."
    ),
    socket: str | None = typer.Option(None, "--socket", help="Daemon socket path."),
    hook: bool = typer.Option(
        False,
        "--hook",
        help="Pre-commit mode: time budget review.hook_time_budget_s; if the model is "
        "unavailable, too slow or returns no valid findings, warn and exit 0.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="With --hook: fail (exit 1) instead of warning."
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds before giving up."),
    repo: Path | None = typer.Option(None, "--repo", help="Repository (default: current dir)."),
) -> None:
    began = time.monotonic()  # --timeout and the hook's budget count from here
    start = (repo or Path.cwd()).resolve()
    fmt = _check_choice("--format", fmt, FORMATS)
    if output is not None:
        check_output_path(output)
    overrides: dict[str, object] = {
        "model.path": model,
        "model.endpoint": endpoint,
        "daemon.socket": socket,
        "review.budget_tokens": budget,
    }
    if hook:
        staged = True
    positional_rev = not (staged or root)
    rev, paths = _split_args(args or [], positional_rev)

    try:
        changes = changes_from_git(start, rev, staged=staged, root=root, paths=paths)
    except UserError as error:
        if hook and "not inside a git repository" not in str(error):
            _warn(f"commit not reviewed: {error}")
            raise typer.Exit(1 if strict else 0) from None
        raise
    settings = _settings(changes.root, overrides)
    threshold = _check_choice("--fail-on", fail_on or settings.review.fail_on, FAIL_ON)
    keep_changed = settings.review.only_changed if only_changed is None else only_changed

    if not changes.reviewable():
        where = f" under {', '.join(paths)}" if paths else ""
        if staged:
            nothing = f"nothing to review: no staged changes{where}"
            hint = "stage files with `git add`, or review a commit: `codeassist review HEAD~1`"
        else:
            nothing = f"nothing to review: {changes.label} has no changes{where}"
            hint = "check the revision or range (`git log --oneline`)"
        if changes.files:
            nothing += f" with text lines ({len(changes.files)} file(s) changed: binary, deleted "
            nothing += "or renamed only)"
        if hook:
            _warn(nothing)
            raise typer.Exit(0)
        raise UserError(f"{nothing}; {hint}.")

    if dry_run:
        prompt = plan_review(changes, settings)
        if fmt == "text":
            print_dry_run(prompt, changes, make_console())
        else:
            _write(
                dumps({"reviewed": changes.label, **dry_run_report(prompt, changes)}) + "\n", output
            )
        raise typer.Exit(0)

    if hook and timeout is None:
        timeout = settings.review.hook_time_budget_s
    result = _run_review(changes, settings, keep_changed, show_thinking, hook, timeout, began)
    if result is None:
        raise typer.Exit(1 if strict else 0)

    if fmt == "text" and output is None:
        print_text(result, changes, make_console())
    elif fmt == "text":
        buffer = io.StringIO()
        print_text(result, changes, make_console(file=buffer, width=100))
        _write(buffer.getvalue(), output)
    else:
        _write(MACHINE_FORMATS[fmt](result, changes), output)

    if result.status != "ok":
        if fmt != "text":
            _warn(f"the model did not return valid findings ({result.problem}).")
            if result.raw_output_path:
                _warn(f"raw model output: {result.raw_output_path}")
        if hook:
            _warn(
                "commit not blocked: the review did not complete."
                + (" (--strict)" if strict else "")
            )
        raise typer.Exit(1 if (strict and hook) else 0)
    if any(severity_reaches(f.severity, threshold) for f in result.findings):
        if hook:
            _warn(
                f"commit stopped: findings at or above '{threshold}'. Fix them, or commit with "
                f"`git commit --no-verify` to skip the review once."
            )
        raise typer.Exit(1)
    raise typer.Exit(0)


def _run_review(
    changes: ChangeSet,
    settings: Settings,
    only_changed: bool,
    show_thinking: bool,
    hook: bool,
    budget: float | None,
    began: float,
) -> ReviewResult | None:
    """The model call with progress; None when a hook run could not complete (warned).

    budget counts from began (the command's start): reading the change is part of it.
    """
    timeout = None if budget is None else max(1.0, budget - (time.monotonic() - began))
    try:
        ensure_model_configured(settings)
        from codeassist.client import ModelUnavailable, client_from_settings
    except UserError as error:
        if hook:
            _warn(f"commit not reviewed: {error}")
            return None
        raise
    cancel = threading.Event()
    timer = threading.Timer(timeout, cancel.set) if timeout else None
    progress = _Progress(changes.label, show_thinking)
    try:
        client = client_from_settings(settings)
        if timer:
            timer.daemon = True
            timer.start()
        with progress:
            result = review(
                changes,
                settings,
                client,
                cancel=cancel,
                progress=progress.update,
                on_thinking=progress.thinking if show_thinking else None,
                only_changed=only_changed,
                timeout=timeout,
            )
    except ModelUnavailable as error:
        if hook:
            _warn(f"commit not reviewed: {error}")
            return None
        raise
    finally:
        if timer:
            timer.cancel()
    for notice in result.notices:
        _warn(notice)
    if result.status == "cancelled":
        message = f"the review ran past its {budget:.0f}-second budget" if budget else "cancelled"
        if hook:
            _warn(f"commit not reviewed: {message}.")
            return None
        raise UserError(f"{message}; raise --timeout or review a smaller change.")
    return result
