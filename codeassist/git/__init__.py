"""Reading changes from git: which versions to compare, the diff, right-side line numbers."""

from codeassist.git.changes import ChangeSet, DiffLine, FileChange, Hunk, split_lines
from codeassist.git.read import changes_from_git, read_changes
from codeassist.git.revisions import RULE, DiffSpec, open_repo, resolve_spec

__all__ = [
    "RULE",
    "ChangeSet",
    "DiffLine",
    "DiffSpec",
    "FileChange",
    "Hunk",
    "changes_from_git",
    "open_repo",
    "read_changes",
    "resolve_spec",
    "split_lines",
]
