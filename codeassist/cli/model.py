"""`codeassist model ...`: checkpoints (tiny test model, quantization, memory plan)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from codeassist.cli.common import fail

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


@app.command("quantize")
def quantize(
    src: str = typer.Argument(..., help="Gemma 4 checkpoint folder (or a cached Hugging Face id)."),
    dst: Path = typer.Argument(..., help="New (or empty) folder for the 4-bit checkpoint."),
    double_quant: bool = typer.Option(False, "--double-quant", help="Also quantize block scales."),
    device: str = typer.Option("auto", help="Where to quantize: auto, cuda or cpu."),
) -> None:
    """Write an NF4 copy of a checkpoint (experts included), shard by shard."""
    from codeassist.engine.prequantize import quantize_checkpoint
    from codeassist.errors import UserError

    start = time.perf_counter()
    try:
        summary = quantize_checkpoint(
            src, dst, double_quant=double_quant, device=device, progress=typer.echo
        )
    except UserError as error:
        fail(str(error))
    typer.echo(
        f"wrote {summary['destination']}: {summary['out_bytes'] / 1e9:.2f} GB of tensors "
        f"(from {summary['in_bytes'] / 1e9:.2f} GB) in {time.perf_counter() - start:.1f} s"
    )


@app.command("plan")
def plan(
    model: str = typer.Argument(
        "",
        help="gemma-4-26b-a4b, gemma-4-31b, gemma-4-e4b, gemma-4-e2b or a checkpoint folder "
        "(default: [model] path, else gemma-4-26b-a4b).",
    ),
    gpu_memory: str = typer.Option("", "--gpu-memory", help="GPU memory, e.g. 24GiB."),
    context: int = typer.Option(0, "--context", help="Context length to size the KV cache for."),
    double_quant: bool = typer.Option(False, "--double-quant", help="Plan with double quant."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Memory plan from the config alone: weights, KV cache, activations, largest context."""
    import json

    from codeassist.config import load_settings
    from codeassist.engine.plan import memory_plan
    from codeassist.errors import UserError
    from codeassist.sizes import parse_size

    try:
        settings = load_settings()
        name = model or settings.model.path or "gemma-4-26b-a4b"
        size = gpu_memory or settings.engine.gpu_memory
        result = memory_plan(
            name,
            parse_size(size) if size else None,
            context or None,
            double_quant=double_quant or settings.engine.double_quant,
            prefill_chunk=settings.engine.prefill_chunk,
            prefix_cache_bytes=settings.engine.prefix_cache_mib * 2**20,
        )
    except UserError as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    gib = 2**30
    rows = [
        ("model", result.model),
        ("GPU memory", f"{result.gpu_memory_bytes / gib:.1f} GiB"),
        (
            "weights, NF4",
            f"{result.weights_bytes / 1e9:.2f} GB ({result.weights_bytes / gib:.2f} GiB)",
        ),
        ("weights, bf16", f"{result.weights_bytes_bf16 / 1e9:.2f} GB"),
        (
            "KV per token",
            f"{result.kv_bytes_per_token / 1024:.0f} KiB in the window, "
            f"{result.kv_bytes_per_token_beyond_window / 1024:.0f} KiB beyond it",
        ),
        (f"KV at {result.context:,} tokens", f"{result.kv_bytes_at_context / gib:.2f} GiB"),
        (
            f"activations per {result.prefill_chunk}-token chunk",
            f"{result.activation_bytes_per_chunk / gib:.2f} GiB",
        ),
        ("runtime reserve", f"{result.reserve_bytes / gib:.2f} GiB"),
        ("prefix cache budget", f"{result.prefix_cache_bytes / gib:.2f} GiB"),
        ("largest context that fits", f"{result.max_context:,} tokens"),
    ]
    for label, value in rows:
        typer.echo(f"{label:>34}: {value}")
    if not result.fits:
        typer.echo(f"{result.context:,} tokens do not fit; use at most {result.max_context:,}.")
