"""`--format text`: findings grouped by file, with the code lines they point at."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape

from codeassist.git.changes import ChangeSet
from codeassist.report.lines import reviewed_lines
from codeassist.tasks.review import ReviewResult

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_MAX_CODE_LINES = 8


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(result: ReviewResult) -> str:
    """One line: how many findings of each severity (plain text, no markup)."""
    counts = {s: sum(1 for f in result.findings if f.severity == s) for s in _STYLE}
    files = len({f.path for f in result.findings})
    parts = [_plural(n, s) for s, n in counts.items() if n]
    return f"{_plural(len(result.findings), 'finding')} in {_plural(files, 'file')}" + (
        f" ({', '.join(parts)})" if parts else ""
    )


def _print_not_reviewed(changes: ChangeSet, console: Console) -> None:
    for path, why in changes.not_reviewed():
        console.print(f"[dim]not reviewed: {escape(path)} ({escape(why)})[/]")


def print_text(result: ReviewResult, changes: ChangeSet, console: Console) -> None:
    """Print the review for a person."""
    if result.status == "cancelled":
        console.print("[yellow]Review cancelled[/]: no findings.")
        return
    if result.status == "no_valid_findings":
        console.print(
            f"[bold yellow]The model did not return valid findings[/] for {escape(changes.label)}: "
            f"{escape(result.problem)}."
        )
        if result.raw_output_path:
            console.print(f"Its raw output is saved in {escape(str(result.raw_output_path))}")
        console.print("Nothing was reviewed; run again, or try another model or a smaller change.")
        _print_not_reviewed(changes, console)
        return
    for path, group in groupby(result.findings, key=lambda f: f.path):
        lines = reviewed_lines(changes, path)
        console.print(f"\n[bold underline]{escape(path)}[/]")
        for finding in group:
            where = (
                f"{finding.line}"
                if finding.end_line == finding.line
                else f"{finding.line}-{finding.end_line}"
            )
            style = _STYLE[finding.severity]
            console.print(
                f"  [{style}]{finding.severity}[/] [dim]{escape(finding.category)}[/] "
                f"line {where}: {escape(finding.message)}"
            )
            shown = range(
                finding.line, min(finding.end_line, finding.line + _MAX_CODE_LINES - 1) + 1
            )
            width = len(str(finding.end_line))
            for n in shown:
                if n <= len(lines):
                    console.print(f"    [dim]{n:>{width}} │[/] {escape(lines[n - 1])}")
            if finding.end_line > shown[-1]:
                console.print(
                    f"    [dim]{'':>{width}} │ ... ({finding.end_line - shown[-1]} more)[/]"
                )
            if finding.suggestion:
                console.print("    [green]suggested:[/]")
                for text in finding.suggestion.rstrip("\n").split("\n"):
                    console.print(f"    [dim]{'':>{width}} │[/] [green]{escape(text)}[/]")
    console.print()
    if result.findings:
        console.print(f"[bold]{summary_line(result)}[/] for {escape(changes.label)}.")
    else:
        console.print(f"[bold green]No findings[/] for {escape(changes.label)}.")
    if result.reanchored:
        console.print(
            f"[dim]{_plural(result.reanchored, 'finding')} moved to the line "
            f"whose code it quoted.[/]"
        )
    if result.dropped:
        console.print(
            f"[dim]{_plural(len(result.dropped), 'finding')} dropped because it pointed at no line "
            f"of the reviewed diff:[/]"
        )
        for dropped in result.dropped[:10]:
            console.print(f"[dim]  - {escape(dropped.reason)}[/]")
        if result.raw_output_path:
            console.print(f"[dim]Raw model output: {escape(str(result.raw_output_path))}[/]")
    _print_not_reviewed(changes, console)
    if result.prompt and result.prompt.omitted:
        console.print(
            f"[yellow]Not reviewed (did not fit the {result.prompt.budget}-token budget):[/]"
        )
        for item in result.prompt.omitted[:20]:
            console.print(f"  - {escape(item)}")
        if len(result.prompt.omitted) > 20:
            console.print(f"  ... and {len(result.prompt.omitted) - 20} more")
