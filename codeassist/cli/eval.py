"""`codeassist eval retrieval REPO`: retrieval pass rates beside the baselines."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import typer

from codeassist.config import load_settings
from codeassist.errors import UserError
from codeassist.repo_index import open_index
from retrieval import estimate_tokens

app = typer.Typer(help="Measure quality on a real repository.", no_args_is_help=True)


def _budgets(text: str) -> list[int]:
    try:
        out = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise UserError(f"--budgets {text}: expected comma-separated token counts") from None
    if not out or any(b <= 0 for b in out):
        raise UserError(f"--budgets {text}: expected positive token counts, e.g. 1024,4096")
    return out


@app.command("retrieval")
def retrieval_eval(
    repo: Path = typer.Argument(..., help="A repository (Python; TS/JS with --typescript)."),
    cases: int = typer.Option(100, "--cases", help="Cases of each group to build."),
    budgets: str = typer.Option("1024,4096,16384", "--budgets", help="Token budgets."),
    aider_python: str = typer.Option(
        None, "--aider-python", help="Python of a separate venv with aider-chat 0.86.2."
    ),
    aider_cases: int = typer.Option(
        None, "--aider-cases", help="Cases of each group for Aider (seconds each)."
    ),
    seed: int = typer.Option(0, "--seed", help="Case sampling seed."),
    typescript: Path = typer.Option(
        None,
        "--typescript",
        help="typescript.js (from `npm pack typescript`): build TS/JS cases with its checker.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
) -> None:
    """Cases from REPO's own cross-file uses (Python: `ast`; TS/JS: the TypeScript checker).

    Two groups, reported apart: imported names (`f(`, `mod.f(`, `Class.m(`) and member access
    (`x.method(`, the buffer cut after `x.`). A case passes at a budget when the packed
    context shows the needed definition's header line (hdr) or its whole span (span).
    Tokens are counted with the estimator.
    """
    from retrieval.evaluation.cases import build_cases, build_ts_cases
    from retrieval.evaluation.run import as_json as results_json
    from retrieval.evaluation.run import evaluate, table

    root = repo.expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{repo}: not a directory; pass a repository root")
    wanted = _budgets(budgets)
    t0 = time.perf_counter()
    if typescript is not None:
        if not typescript.is_file():
            raise UserError(f"--typescript {typescript}: no such file; pass lib/typescript.js")
        try:
            built = build_ts_cases(root, cases, typescript, seed=seed)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise UserError(f"--typescript: node could not build cases ({exc})") from None
    else:
        built = build_cases(root, cases, seed=seed)
    if not built:
        raise UserError(f"{repo}: found no cross-file uses of definitions to test with")
    typer.echo(f"{len(built)} cases from {root} ({time.perf_counter() - t0:.1f}s)", err=True)
    idx = open_index(root, load_settings(repo=root))
    results = evaluate(idx, built, wanted, estimate_tokens, aider_python, aider_cases)
    typer.echo(table(results, wanted))
    if as_json:
        typer.echo(json.dumps(results_json(results, wanted)))
