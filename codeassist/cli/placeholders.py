"""Commands whose issues have not landed yet: each says so and exits 2.

When a command (or command group) is built, its module under codeassist/cli/ registers it in
main.py and its entry here is deleted.
"""

from __future__ import annotations

import typer

from codeassist.cli.common import not_built

# command or group -> issue that builds it
PENDING = {
}


def _pending(name: str, issue: int):
    def command(ctx: typer.Context) -> None:
        not_built(name, issue)

    command.__doc__ = f"(not built yet: issue {issue})"
    return command


def register(app: typer.Typer) -> None:
    settings = {"allow_extra_args": True, "ignore_unknown_options": True}
    for name, issue in PENDING.items():
        app.command(name, context_settings=settings)(_pending(name, issue))
