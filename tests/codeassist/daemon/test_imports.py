"""The daemon binds its socket before torch loads: nothing on its start-up path imports torch,
and the client and the daemon packages do not import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def test_the_start_up_path_does_not_import_torch():
    modules = imported_after(
        "import codeassist.cli.main, codeassist.daemon.server, codeassist.daemon.app"
    )
    assert "codeassist.daemon.server" in modules
    assert "torch" not in modules and "transformers" not in modules


def imports_of(package: Path) -> set[str]:
    """Every module a package's files import, at module level or inside functions."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    return names


def test_client_and_daemon_do_not_import_each_other():
    client = imports_of(ROOT / "codeassist" / "client")
    daemon = imports_of(ROOT / "codeassist" / "daemon")
    assert not {m for m in client if m.startswith("codeassist.daemon.")}
    assert not {m for m in daemon if m.startswith("codeassist.client")}
    assert "codeassist.daemon_files" in client & daemon  # what both share instead
