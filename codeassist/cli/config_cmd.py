"""`codeassist config`: the effective settings and where each came from."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from codeassist.cli.common import make_console
from codeassist.config import load_settings


def config(
    repo: Path = typer.Option(
        None,
        "--repo",
        help="Repository whose settings apply (default: git root of the current directory).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {key: {value, source}}."),
) -> None:
    """Print the effective settings and the source of each value."""
    settings = load_settings(repo=repo)
    rows = settings.items()
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, indent=2))
        return
    table = Table("setting", "value", "source", box=None, pad_edge=False)
    for key, value, source in rows:
        table.add_row(key, escape(json.dumps(value)), escape(source))
    make_console().print(table)
