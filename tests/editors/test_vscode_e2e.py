"""The VS Code extension in a real VS Code (code-server in Chromium, through Playwright).

Runs editors/vscode/e2e/run_e2e.py when its install is cached (editors/vscode/e2e/install.sh,
about 10 minutes the first time; CODEASSIST_E2E_CACHE names another cache folder). Without the
cache it is skipped, saying how to install it: the install is too slow for every test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "e2e"
CACHE = Path(os.environ.get("CODEASSIST_E2E_CACHE", E2E / ".cache"))
PYTHON = CACHE / "venv" / "bin" / "python"
CODE_SERVER = CACHE / "code-server" / "node_modules" / ".bin" / "code-server"

pytestmark = pytest.mark.skipif(
    not (PYTHON.is_file() and CODE_SERVER.is_file() and Path("/usr/bin/chromium").is_file()),
    reason="the VS Code e2e install is not cached: run editors/vscode/e2e/install.sh",
)


@pytest.mark.timeout(900)
def test_ghost_text_tab_code_actions_review_and_refactor_in_code_server():
    proc = subprocess.run(
        [str(PYTHON), str(E2E / "run_e2e.py"), "--python", sys.executable],
        capture_output=True,
        text=True,
        timeout=840,
        stdin=subprocess.DEVNULL,
    )
    output = (proc.stdout + proc.stderr)[-6000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and summary["ok"], output
    for step in (
        "ghost_text",
        "accept_with_tab",
        "code_actions_ctrl_dot",
        "review_findings",
        "refactor_add_docstring",
    ):
        assert step in summary["seconds"], output
    shots = {p.name for p in (E2E / "screenshots").glob("*.png")}
    assert any("ghost_text" in s for s in shots) and any("review_findings" in s for s in shots)
