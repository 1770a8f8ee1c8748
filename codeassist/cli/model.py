"""`codeassist model ...`: checkpoints (tiny test model, quantization, memory plan)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from codeassist.cli.common import not_built

app = typer.Typer(
    help="Model checkpoints: make the tiny test model, quantize, plan memory.", no_args_is_help=True
)


@app.command("make-tiny")
def make_tiny(
    directory: Path = typer.Argument(..., help="Folder to write the checkpoint into."),
    seed: int = typer.Option(0, help="Random seed of the weights."),
) -> None:
    """Write a tiny random-weight Gemma 4 checkpoint (tests, benchmarks; outputs are noise)."""
    from codeassist.gemma4.tiny import make_tiny_checkpoint

    start = time.perf_counter()
    make_tiny_checkpoint(directory, seed=seed)
    typer.echo(
        f"wrote tiny Gemma 4 checkpoint to {directory} in {time.perf_counter() - start:.1f} s"
    )


@app.command(
    "quantize", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def quantize(ctx: typer.Context) -> None:
    """(not built yet: issue 3)"""
    not_built("model quantize", 3)


@app.command("plan", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def plan(ctx: typer.Context) -> None:
    """(not built yet: issue 3)"""
    not_built("model plan", 3)
