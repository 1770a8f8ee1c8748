"""The `codeassist` command line: thin typer adapters over the packages' functions."""
