"""`codeassist lsp`: the language server over stdio (or TCP for debugging)."""

from __future__ import annotations

import importlib
import logging

import typer

from codeassist.cli.common import fail


def lsp(
    stdio: bool = typer.Option(
        False,
        "--stdio",
        help="Talk LSP over stdin/stdout (the default; accepted because editors' clients pass it).",
    ),
    tcp: str = typer.Option(
        "",
        "--tcp",
        help="Listen on HOST:PORT instead of stdio (for debugging).",
        metavar="HOST:PORT",
    ),
    log_file: str = typer.Option("", "--log-file", help="Write the server's log to this file."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    """Run the language server (editors start it; stdio by default)."""
    host, port = "", 0
    if stdio and tcp:
        fail("--stdio and --tcp are two transports; pass one of them.")
    if tcp:
        host, _, port_text = tcp.rpartition(":")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            fail(f"--tcp {tcp!r} is not HOST:PORT; use e.g. --tcp 127.0.0.1:2087.")
        port = int(port_text)
    level = logging.DEBUG if verbose else logging.INFO
    if log_file:
        logging.basicConfig(filename=log_file, level=level)
    else:  # stdout carries the protocol: logs go to stderr
        logging.basicConfig(level=logging.WARNING if not verbose else level)

    # The one place codeassist reaches into lsp (ARCHITECTURE.md: imports point lsp ->
    # codeassist): loaded by name when the command runs, never at import time.
    server = importlib.import_module("lsp.server").create_server()
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()
