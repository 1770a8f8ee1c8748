"""`codeassist context`: print what retrieval would put in the prompt at a position."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from codeassist.cli.index import open_index, repo_root
from codeassist.config import load_settings
from codeassist.confine import confine
from codeassist.errors import UserError
from codeassist.token_count import token_counter
from retrieval import PackedContext, PathError, RepoIndex
from retrieval.build import read_for_index

log = logging.getLogger(__name__)

_POSITION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def _as_json(ctx: PackedContext, explain: bool) -> dict:
    items = []
    for it in ctx.items:
        d = {
            "path": it.path,
            "start_line": it.start_line,
            "end_line": it.end_line,
            "tokens": it.tokens,
            "kind": it.kind,
            "score": it.score,
            # the lines the text really holds: an outline shows a class's header and member
            # signatures, not every line of start_line..end_line
            "shown": [list(r) for r in (it.shown or [(it.start_line, it.end_line)])],
        }
        if explain:
            d["reason"] = it.reason
        items.append(d)
    out = {"budget": ctx.budget, "used": ctx.used, "items": items}
    if explain:
        out["omitted"] = ctx.omitted
    return out


def _query(
    idx: RepoIndex,
    path: str,
    line: int,
    col: int | None,
    buffer: str | None,
    budget: int,
    count: Callable[[str], int],
    explain: bool,
) -> PackedContext:
    """col is 1-based here (as in PATH:LINE:COL); None means the end of the line."""
    if budget < 0:
        raise UserError(f"--budget {budget}: must be zero or more tokens")
    try:
        rel = idx.relpath(path)
    except PathError as exc:
        raise UserError(str(exc)) from None
    reason = confine(idx.root / rel, [idx.root])
    if reason is not None:
        raise UserError(f"{path}: refused ({reason}); codeassist never reads it for a prompt")
    if buffer is not None:
        if len(buffer) > idx.max_file_bytes:
            raise UserError(
                f"{path}: the buffer is larger than the index reads ([retrieval] max_file_bytes "
                f"= {idx.max_file_bytes:,}); nothing to retrieve for it"
            )
        lines = buffer.split("\n")
    elif idx.tags(rel) is not None:
        lines = idx.lines(rel)
    else:
        lines = _unindexed_lines(idx, path, rel)
    if line < 1 or line > max(len(lines), 1):
        real = len(lines) - (1 if len(lines) > 1 and lines[-1] == "" else 0)
        raise UserError(f"{path}:{line}: the file has {real} lines; pass a line inside it")
    text = lines[line - 1] if lines else ""
    c = len(text) if col is None else max(col - 1, 0)
    try:
        return idx.context_for_position(
            rel,
            line,
            min(c, len(text)),
            buffer=buffer,
            budget=budget,
            count_tokens=count,
            explain=explain,
        )
    except PathError as exc:
        raise UserError(str(exc)) from None


def _unindexed_lines(idx: RepoIndex, path: str, rel: str) -> list[str]:
    """The lines of a file the index does not hold, read as the index would (bounded), or a
    UserError saying why the index refuses it (too large, binary, minified, unreadable)."""
    if not (idx.root / rel).is_file():
        raise UserError(f"{path}: no such file in {idx.root}; pass an existing file or --buffer")
    result, data = read_for_index(idx.root, rel, idx.max_file_bytes)
    if data is None and result.skip != "not a supported language":
        limit = f" (over [retrieval] max_file_bytes = {idx.max_file_bytes:,} bytes)"
        raise UserError(
            f"{path}: not indexed: {result.skip}{limit if result.skip == 'too large' else ''}; "
            f"codeassist context answers for files the index reads"
        )
    if data is None:  # text in a language without a grammar: lexical context still works
        with open(idx.root / rel, "rb") as file:
            data = file.read(idx.max_file_bytes + 1)
        if len(data) > idx.max_file_bytes or b"\0" in data[:8192]:
            raise UserError(f"{path}: not indexed (too large or binary)")
    return data.decode("utf-8", "replace").split("\n")


def _batch_line(
    idx: RepoIndex, n: int, raw: str, budget: int, count: Callable[[str], int], explain: bool
) -> dict[str, Any]:
    """The answer to one --batch line: the packed context, or {"error": what was wrong}."""
    try:
        case = json.loads(raw)
        if not isinstance(case, dict):
            raise _BadCase("expected a JSON object")
        path, line, col = case.get("path"), case.get("line"), case.get("col")
        text, limit = case.get("buffer"), case.get("budget", budget)
        if not isinstance(path, str) or not path:
            raise _BadCase("'path' must be a non-empty string")
        for name, value, optional in (
            ("line", line, False),
            ("col", col, True),
            ("budget", limit, False),
        ):
            if (value is None and not optional) or (
                value is not None and (not isinstance(value, int) or isinstance(value, bool))
            ):
                raise _BadCase(f"'{name}' must be an integer")
        if text is not None and not isinstance(text, str):
            raise _BadCase("'buffer' must be a string (the unsaved text) or absent")
        return _as_json(_query(idx, path, line, col, text, limit, count, explain), explain)
    except json.JSONDecodeError as exc:
        return {"error": f"line {n}: not JSON ({exc})"}
    except (_BadCase, UserError) as exc:
        return {"error": f"line {n}: {exc}"}
    except Exception as exc:  # one odd case must not stop the batch
        log.exception("context --batch line %d", n)
        return {"error": f"line {n}: {type(exc).__name__}: {exc}"}


class _BadCase(ValueError):
    """A --batch line that is not {"path", "line", "col"?, "buffer"?, "budget"?}."""


def _read_buffer(buffer: Path, limit: int) -> str:
    try:
        size = buffer.stat().st_size
        if size > limit:
            raise UserError(
                f"--buffer {buffer}: {size:,} bytes, over what the index reads ([retrieval] "
                f"max_file_bytes = {limit:,}); nothing to retrieve for it"
            )
        with open(buffer, "rb") as file:
            return file.read(limit + 1).decode("utf-8", "replace")
    except OSError as exc:
        raise UserError(f"--buffer {buffer}: cannot read it ({exc.strerror})") from None


def _print_text(ctx: PackedContext, explain: bool) -> None:
    for it in ctx.items:
        label = f"# {it.path}:{it.start_line}-{it.end_line} ({it.kind}, {it.tokens} tokens"
        label += f", score {it.score})"
        typer.echo(label)
        if explain and it.reason:
            typer.echo(f"#   why: {it.reason}")
        typer.echo(it.text)
        typer.echo("")
    typer.echo(f"# {ctx.used} of {ctx.budget} tokens used, {len(ctx.items)} items", err=True)


def context(
    position: str = typer.Argument(None, help="PATH:LINE[:COL] (1-based; COL default: end)."),
    buffer: Path = typer.Option(None, "--buffer", help="File holding the unsaved text of PATH."),
    budget: int = typer.Option(4096, "--budget", help="Token budget."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the code."),
    explain: bool = typer.Option(False, "--explain", help="Say why each item was chosen."),
    repo: Path = typer.Option(None, "--repo", help="Repository root (default: git root)."),
    batch: Path = typer.Option(
        None,
        "--batch",
        help='JSONL of {"path","line","col" (1-based),"buffer"?,"budget"}: one JSON line out each.',
    ),
) -> None:
    """Print what retrieval would put in the prompt at a position."""
    root = repo_root(repo)
    if batch is None and position is None:
        raise UserError("give PATH:LINE[:COL] or --batch CASES.jsonl")
    settings = load_settings(repo=root)
    if batch is not None:
        try:
            cases = batch.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--batch {batch}: cannot read it ({exc}); pass a JSONL file") from None
        idx = open_index(root, settings, show_progress=sys.stderr.isatty())
        count = token_counter(settings)
        for n, raw in enumerate(cases, 1):
            if raw.strip():
                print(json.dumps(_batch_line(idx, n, raw, budget, count, explain)), flush=True)
        return
    m = _POSITION.match(position)
    if not m:
        raise UserError(f"{position}: expected PATH:LINE or PATH:LINE:COL (e.g. app.py:12:5)")
    text = None if buffer is None else _read_buffer(buffer, settings.retrieval.max_file_bytes)
    target = Path(m["path"]).expanduser()
    if not target.is_absolute():
        # relative to the current directory when it is inside the repository, else to its root
        here = Path.cwd().resolve()
        target = here / target if here.is_relative_to(root) else root / target
    idx = open_index(root, settings, show_progress=sys.stderr.isatty())
    ctx = _query(
        idx,
        str(target),
        int(m["line"]),
        int(m["col"]) if m["col"] else None,
        text,
        budget,
        token_counter(settings),
        explain,
    )
    if as_json:
        print(json.dumps(_as_json(ctx, explain), indent=None))
    else:
        _print_text(ctx, explain)
