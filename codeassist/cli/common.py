"""Helpers shared by the CLI modules."""

from __future__ import annotations

from typing import IO, NoReturn

import typer
from rich.console import Console
from rich.markup import escape


def make_console(
    *, stderr: bool = False, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """A console for text that holds user and repository data: no emoji codes (`:-1:` stays
    text), no guessed highlighting; markup only where we write it (escape() the rest)."""
    return Console(
        stderr=stderr,
        file=file,
        width=width,
        emoji=False,
        highlight=False,
        soft_wrap=width is None,
    )


err_console = make_console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit (2: usage or input error)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)
