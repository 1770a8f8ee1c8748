"""`codeassist index [PATH]`: build or refresh the repository index, with progress."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codeassist import repo_index
from codeassist.cli.common import err_console
from codeassist.config import Settings, load_settings
from codeassist.errors import UserError
from retrieval import RepoIndex


def repo_root(repo: Path | None) -> Path:
    """The repository to work on: `--repo`, else the git root of the current directory."""
    if repo is not None:
        root = repo.expanduser().resolve()
        if not root.is_dir():
            raise UserError(f"--repo {repo}: not a directory; pass the repository's root")
        return root
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip()).resolve()
    except (OSError, subprocess.SubprocessError):
        pass
    return Path.cwd().resolve()


def open_index(
    root: Path, settings: Settings, show_progress: bool = False, console: Console | None = None
) -> RepoIndex:
    """The index of root (shared cache, [retrieval] settings), a progress bar on stderr if asked."""
    console = console or err_console
    warn = _warner(console)
    if not show_progress:
        return repo_index.open_index(root, settings, warn=warn)
    started = time.perf_counter()
    with Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} files/s, {task.fields[hits]} from cache"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("index", total=None, rate="-", hits=0)

        def progress(done: int, total: int, hits: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:.0f}", hits=hits)

        return repo_index.open_index(root, settings, progress=progress, warn=warn)


def _warner(console: Console) -> Callable[[str], None]:
    def warn(message: str) -> None:
        console.print(f"[bold yellow]codeassist:[/] {escape(message)}")

    return warn


def index(
    path: Path = typer.Argument(None, help="Repository root (default: the current git root)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, summary only."),
) -> None:
    """Build or refresh the repository index (tree-sitter tags, cached by content)."""
    root = repo_root(path)
    console = err_console
    idx = open_index(root, load_settings(repo=root), show_progress=not quiet, console=console)
    s = idx.summary
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(s.skipped.items())) or "none"
    typer.echo(
        f"indexed {s.files} files in {s.seconds:.2f}s: {s.parsed} parsed, "
        f"{s.cache_hits} from cache, {s.unchanged} unchanged; {s.definitions} definitions; "
        f"{s.parse_errors} with syntax errors; skipped: {skipped}"
        + ("; cache was damaged or foreign and was rebuilt" if s.cache_rebuilt else "")
    )
    idx.close()
