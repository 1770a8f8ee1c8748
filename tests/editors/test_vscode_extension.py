"""The VS Code extension: its npm tests (pure + the real `codeassist lsp`) and its .vsix package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"
# Captured before the autouse fixture points HOME at a temporary directory: npm keeps its
# download cache there, and a fresh cache would fetch every package again.
_REAL_HOME = os.environ.get("HOME", "")

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None,
    reason="npm is not installed: the extension is built only where Node is",
)


def _npm_env() -> dict[str, str]:
    env = dict(os.environ)
    if _REAL_HOME and "npm_config_cache" not in env:
        env["npm_config_cache"] = str(Path(_REAL_HOME) / ".npm")
    # `codeassist` on PATH: the one installed next to this interpreter (the project's venv).
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _run(args: list[str], timeout: float, env: dict[str, str] | None = None):
    return subprocess.run(
        args,
        cwd=EXTENSION,
        env=env or _npm_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    out = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{out}"


@pytest.fixture(scope="module")
def compiled_extension() -> Path:
    """node_modules installed from the lock file (if absent) and the TypeScript compiled."""
    lock = EXTENSION / "package-lock.json"
    marker = EXTENSION / "node_modules" / ".package-lock.json"
    if not marker.is_file() or marker.stat().st_mtime < lock.stat().st_mtime:
        _check(_run(["npm", "ci", "--no-audit", "--no-fund"], timeout=600), "npm ci")
    _check(_run(["npm", "run", "compile"], timeout=300), "npm run compile")
    return EXTENSION


@pytest.mark.timeout(900)
def test_npm_test_passes_against_the_real_server(compiled_extension, daemon_settings):
    """eslint, pure tests, and the protocol test of `codeassist lsp` on the tiny model."""
    env = _npm_env()
    env["CODEASSIST_TEST_MODEL"] = daemon_settings.model.path
    env["CODEASSIST_TEST_DAEMON_SOCKET"] = daemon_settings.daemon.socket
    proc = _run(["npm", "test"], timeout=600, env=env)
    _check(proc, "npm test")
    assert "# fail 0" in proc.stdout or "ℹ fail 0" in proc.stdout, proc.stdout[-3000:]
    assert "lspServer" in proc.stdout or "inline completion" in proc.stdout, (
        "the LSP integration test did not run"
    )


def test_vsix_holds_the_compiled_extension_and_readme(compiled_extension, tmp_path):
    vsix = tmp_path / "codeassist.vsix"
    _check(
        _run(["npm", "run", "package", "--", "--out", str(vsix)], timeout=300),
        "vsce package",
    )
    names = set(zipfile.ZipFile(vsix).namelist())
    for wanted in (
        "extension/package.json",
        "extension/out/extension.js",
        "extension/out/client.js",
        "extension/node_modules/vscode-languageclient/package.json",
    ):
        assert wanted in names, f"{wanted} missing from the .vsix"
    assert any(n.lower() == "extension/readme.md" for n in names), "README missing from the .vsix"
    assert not any(n.startswith("extension/src/") or "/out/test/" in n for n in names), (
        "sources or tests were packaged"
    )
    readme = next(n for n in names if n.lower() == "extension/readme.md")
    assert "codeassist" in zipfile.ZipFile(vsix).read(readme).decode()
