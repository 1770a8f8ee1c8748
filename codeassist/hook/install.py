"""Write and remove `.git/hooks/pre-commit`; an existing hook is kept and run first."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import git

from codeassist.errors import UserError
from codeassist.git.revisions import open_repo

MARKER = "# codeassist-pre-commit-hook v1"
CHAINED_NAME = "pre-commit.before-codeassist"


@dataclass
class HookStatus:
    path: Path
    action: str  # installed | updated | uninstalled | restored | absent
    chained: Path | None = None


def hooks_dir(repo: git.Repo) -> Path:
    """The folder git runs hooks from (honours core.hooksPath and worktrees)."""
    raw = repo.git.rev_parse("--git-path", "hooks")
    path = Path(raw)
    if not path.is_absolute():
        path = Path(repo.working_tree_dir or ".") / path
    return path.resolve()


def codeassist_command() -> list[str]:
    """How the hook starts this codeassist: its installed script, else this Python."""
    script = shutil.which("codeassist")
    if script:
        return [str(Path(script).resolve())]
    return [sys.executable, "-m", "codeassist.cli.main"]


def hook_script(command: list[str], *, strict: bool) -> str:
    """The shell script of the pre-commit hook."""
    program = shlex.quote(command[0])
    rest = " ".join(shlex.quote(part) for part in command[1:])
    strict_flag = " --strict" if strict else ""
    missing_exit = "1" if strict else "0"
    return f"""#!/bin/sh
{MARKER}
# Reviews the staged changes with codeassist before each commit. It reads the index and never
# changes it or the working tree. Skip it once with `git commit --no-verify`; remove it with
# `codeassist hook uninstall` (a hook that was here before is kept as {CHAINED_NAME}
# and runs first).
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{CHAINED_NAME}" ]; then
    "$hooks_dir/{CHAINED_NAME}" "$@" || exit $?
fi
codeassist={program}
if ! command -v "$codeassist" >/dev/null 2>&1; then
    codeassist=codeassist
fi
if ! command -v "$codeassist" >/dev/null 2>&1; then
    echo "codeassist: not found, commit not reviewed" \
        "(reinstall it, or run 'codeassist hook uninstall')" >&2
    exit {missing_exit}
fi
exec "$codeassist" {rest + " " if rest else ""}review --staged --hook{strict_flag}
"""


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _write_executable(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".codeassist-tmp")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(temp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    os.replace(temp, path)


def install_hook(
    start: Path, *, strict: bool = False, command: list[str] | None = None
) -> HookStatus:
    """Install the pre-commit hook in the repository around start, chaining any existing one."""
    repo = open_repo(start)
    try:
        folder = hooks_dir(repo)
    finally:
        repo.close()
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / "pre-commit"
    chained = folder / CHAINED_NAME
    script = hook_script(command or codeassist_command(), strict=strict)
    if hook.exists() or hook.is_symlink():
        if _is_ours(hook):
            _write_executable(hook, script)
            return HookStatus(hook, "updated", chained if chained.exists() else None)
        if chained.exists() or chained.is_symlink():
            raise UserError(
                f"{hook} is not codeassist's and {chained} exists too; move one of them away, "
                f"then run `codeassist hook install` again."
            )
        os.replace(hook, chained)  # keeps its mode, contents and any symlink as it was
        _write_executable(hook, script)
        return HookStatus(hook, "installed", chained)
    _write_executable(hook, script)
    return HookStatus(hook, "installed", None)


def uninstall_hook(start: Path) -> HookStatus:
    """Remove codeassist's pre-commit hook and put back the hook it chained, if any."""
    repo = open_repo(start)
    try:
        folder = hooks_dir(repo)
    finally:
        repo.close()
    hook = folder / "pre-commit"
    chained = folder / CHAINED_NAME
    if not hook.exists():
        return HookStatus(hook, "absent")
    if not _is_ours(hook):
        raise UserError(f"{hook} was not written by codeassist; it is left as it is.")
    hook.unlink()
    if chained.exists() or chained.is_symlink():
        os.replace(chained, hook)
        return HookStatus(hook, "restored", hook)
    return HookStatus(hook, "uninstalled")
