"""`codeassist context`: print what retrieval would put in the prompt at a position."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from codeassist.cli.index import open_index, repo_root
from codeassist.config import load_settings
from codeassist.errors import UserError
from retrieval import PackedContext, PathError, RepoIndex, estimate_tokens

_POSITION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def token_counter(root: Path) -> tuple[Callable[[str], int], str]:
    """The model tokenizer's counter when `model.path` has a tokenizer.json, else the estimator."""
    settings = load_settings(repo=root)
    model = settings.model.path
    if model:
        tok_file = Path(model).expanduser() / "tokenizer.json"
        if tok_file.is_file():
            try:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(tok_file))
                return (lambda s: len(tok.encode(s, add_special_tokens=False).ids)), str(tok_file)
            except Exception:  # a broken tokenizer file: fall back, and say so
                pass
    return estimate_tokens, "estimate (retrieval.tokens.estimate_tokens)"


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
    if buffer is None and idx.tags(rel) is None and not (idx.root / rel).is_file():
        raise UserError(f"{path}: no such file in {idx.root}; pass an existing file or --buffer")
    lines = buffer.split("\n") if buffer is not None else idx.lines(rel)
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
    idx = open_index(root, show_progress=sys.stderr.isatty())
    count, _how = token_counter(root)
    if batch is not None:
        try:
            lines = batch.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--batch {batch}: cannot read it ({exc}); pass a JSONL file") from None
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                case = json.loads(raw)
                ctx = _query(
                    idx,
                    str(case["path"]),
                    int(case["line"]),
                    int(case["col"]) if case.get("col") is not None else None,
                    case.get("buffer"),
                    int(case.get("budget", budget)),
                    count,
                    explain,
                )
                print(json.dumps(_as_json(ctx, explain)), flush=True)
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"line {n}: {type(exc).__name__}: {exc}; expected path, line, col, budget"
                print(json.dumps({"error": msg}), flush=True)
            except UserError as exc:
                print(json.dumps({"error": f"line {n}: {exc}"}), flush=True)
        return
    m = _POSITION.match(position)
    if not m:
        raise UserError(f"{position}: expected PATH:LINE or PATH:LINE:COL (e.g. app.py:12:5)")
    text = None
    if buffer is not None:
        try:
            text = buffer.read_text("utf-8", "replace")
        except OSError as exc:
            raise UserError(f"--buffer {buffer}: cannot read it ({exc.strerror})") from None
    target = Path(m["path"]).expanduser()
    if not target.is_absolute():
        # relative to the current directory when it is inside the repository, else to its root
        here = Path.cwd().resolve()
        target = here / target if here.is_relative_to(root) else root / target
    ctx = _query(
        idx,
        str(target),
        int(m["line"]),
        int(m["col"]) if m["col"] else None,
        text,
        budget,
        count,
        explain,
    )
    if as_json:
        print(json.dumps(_as_json(ctx, explain), indent=None))
    else:
        _print_text(ctx, explain)
