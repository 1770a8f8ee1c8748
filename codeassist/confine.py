"""The one confinement rule: which files may reach a prompt, for every command.

A file may be read for a prompt only when it is inside one of the allowed roots (the workspace
folders, or the repository) after every symlink is resolved, and neither its name nor the name
of the file it resolves to looks like a secret (retrieval's list: `.env*`, keys, credentials).
Anything else is skipped and named in the result with the reason this module gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from retrieval.files import is_secret

SECRET = "secret file"
OUTSIDE = "outside the workspace"
SYMLINK = "symbolic link"  # a link stored in git: its text is a path, not code


def confine(path: str | Path, roots: Iterable[str | Path]) -> str | None:
    """Why path must not reach a prompt (SECRET or OUTSIDE), or None when it may.

    A relative path is taken relative to the first root. No root at all: everything is outside.
    """
    roots = [Path(r).expanduser() for r in roots]
    if not roots:
        return OUTSIDE
    given = Path(path).expanduser()
    if not given.is_absolute():
        given = roots[0] / given
    if is_secret(given.name):
        return SECRET
    try:
        real = given.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return OUTSIDE
    if is_secret(real.name):
        return SECRET
    for root in roots:
        try:
            real_root = root.resolve()
        except (OSError, RuntimeError):
            continue
        if real.is_relative_to(real_root):
            return None
    return OUTSIDE


def confine_relative(path: str, root: str | Path) -> str | None:
    """confine() for a repository-relative '/'-path (from git), checked against root.

    The name alone is judged when the file does not exist on disk (a deleted or staged file).
    """
    if is_secret(path.rsplit("/", 1)[-1]):
        return SECRET
    if path.startswith("/") or ".." in path.split("/"):
        return OUTSIDE
    full = Path(root) / path
    if not os.path.lexists(full):
        return None
    return confine(full, [root])
