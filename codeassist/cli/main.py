"""Entry point: builds the typer app from one module per command group."""

from __future__ import annotations

import logging
import sys

import typer
from rich.markup import escape

from codeassist import __version__
from codeassist.cli import config_cmd, daemon, doctor, model, serve
from codeassist.cli import context as context_cmd
from codeassist.cli import eval as eval_cmd
from codeassist.cli import hook as hook_cmd
from codeassist.cli import index as index_cmd
from codeassist.cli import review as review_cmd
from codeassist.cli.common import err_console
from codeassist.cli.lsp import lsp as lsp_command
from codeassist.errors import UserError

app = typer.Typer(
    name="codeassist",
    help="A private coding assistant: Gemma 4 on your own machine. Nothing leaves it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codeassist {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A private coding assistant: Gemma 4 on your own machine. Nothing leaves it."""


app.command("config")(config_cmd.config)
app.command("doctor")(doctor.doctor)
app.add_typer(model.app, name="model")
app.command("serve")(serve.serve)
app.add_typer(daemon.app, name="daemon")
app.command("review", help=review_cmd.HELP)(review_cmd.review_command)
app.add_typer(hook_cmd.app, name="hook")
app.command("lsp")(lsp_command)
app.command("index")(index_cmd.index)
app.command("context")(context_cmd.context)
app.add_typer(eval_cmd.app, name="eval")


class _WarningsToStderr(logging.Handler):
    """Warnings meant for the person at the terminal (ignored repository settings, a cache that
    cannot be used), printed as one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[bold yellow]codeassist:[/] {escape(record.getMessage())}")


def _show_warnings() -> None:
    handler = _WarningsToStderr(logging.WARNING)
    for name in ("codeassist.config", "codeassist.repo_index"):
        logging.getLogger(name).addHandler(handler)
    # Other log records reach people only where a command says so (the daemon's log file, the
    # language server's log), never through logging's bare last-resort printer: a command
    # prints what it means to print, once.
    logging.getLogger("codeassist").addHandler(logging.NullHandler())


def main() -> None:
    _show_warnings()
    try:
        app()
    except UserError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
