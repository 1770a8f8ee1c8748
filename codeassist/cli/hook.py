"""`codeassist hook install|uninstall`: the plain git pre-commit hook."""

from __future__ import annotations

from pathlib import Path

import typer

from codeassist.hook import install_hook, uninstall_hook

app = typer.Typer(
    help="The git pre-commit hook that runs `codeassist review --staged`.", no_args_is_help=True
)


@app.command("install")
def install(
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Stop the commit when the model is unavailable or too slow (default: warn).",
    ),
    repo: Path | None = typer.Option(None, "--repo", help="Repository (default: current dir)."),
) -> None:
    """Write .git/hooks/pre-commit; an existing hook is kept and runs first."""
    status = install_hook((repo or Path.cwd()).resolve(), strict=strict)
    typer.echo(f"{status.action} {status.path}")
    if status.chained:
        typer.echo(f"the hook that was there runs first: {status.chained}")
    typer.echo("time budget: review.hook_time_budget_s; skip once with `git commit --no-verify`.")


@app.command("uninstall")
def uninstall(
    repo: Path | None = typer.Option(None, "--repo", help="Repository (default: current dir)."),
) -> None:
    """Remove codeassist's pre-commit hook (and put back the one it chained)."""
    status = uninstall_hook((repo or Path.cwd()).resolve())
    messages = {
        "absent": f"no pre-commit hook at {status.path}; nothing to do",
        "uninstalled": f"removed {status.path}",
        "restored": f"removed codeassist's hook; the earlier hook is back at {status.path}",
    }
    typer.echo(messages[status.action])
