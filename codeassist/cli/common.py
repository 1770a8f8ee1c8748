"""Helpers shared by the CLI modules."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit (2: usage or input error)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def not_built(command: str, issue: int) -> NoReturn:
    """For a command whose issue has not landed: say so and exit 2, never pretend."""
    err_console.print(
        f"codeassist {command}: not built yet (tracked in issue {issue}); nothing was done."
    )
    raise typer.Exit(2)
