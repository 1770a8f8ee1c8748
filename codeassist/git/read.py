"""Read a ChangeSet from git: the file list, each file's hunks and its reviewed text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import git

from codeassist.confine import SYMLINK, confine_relative
from codeassist.errors import UserError
from codeassist.git.changes import ChangeSet, FileChange
from codeassist.git.revisions import EMPTY_TREE, DiffSpec, open_repo, resolve_spec
from codeassist.git.unified import parse_hunks

_NULL_SHA = "0" * 40
_STATUS = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}
_DIFF_OPTIONS = ["-M", "--no-color", "--no-ext-diff", "--no-textconv", "--ignore-submodules=all"]


def _side_args(spec: DiffSpec) -> list[str]:
    base = spec.base or EMPTY_TREE
    if spec.target is None:
        return ["--cached", base]
    return [base, spec.target]


def _pathspec(repo: git.Repo, paths: Sequence[str]) -> list[str]:
    if not paths:
        return []
    root = Path(repo.working_tree_dir or ".").resolve()
    out = []
    for raw in paths:
        full = Path(raw).resolve()
        try:
            out.append(full.relative_to(root).as_posix() or ".")
        except ValueError:
            raise UserError(
                f"path '{raw}' is outside the repository {root}; give paths inside it."
            ) from None
    return ["--", *out]


def _git_bytes(repo: git.Repo, *args: str) -> bytes:
    return repo.git.diff(*args, stdout_as_string=False)


_Entry = tuple[str, str, str, str | None, str | None, int | None, str]


def _parse_raw(data: bytes) -> list[_Entry]:
    """(status letter, old sha, new sha, old path, new path, similarity, new mode) per
    `--raw -z` entry."""
    fields = data.split(b"\0")
    entries = []
    i = 0
    while i < len(fields) and fields[i].startswith(b":"):
        meta = fields[i][1:].decode().split()
        old_mode, new_mode, old_sha, new_sha, status = meta[:5]
        letter, score = status[0], status[1:]
        first = fields[i + 1].decode("utf-8", "surrogateescape")
        if letter in "RC":
            second = fields[i + 2].decode("utf-8", "surrogateescape")
            i += 3
            old_path, new_path = first, second
        else:
            i += 2
            old_path = None if letter == "A" else first
            new_path = None if letter == "D" else first
        if "160000" in (old_mode, new_mode):
            continue  # submodule pointer: no reviewable text
        entries.append(
            (letter, old_sha, new_sha, old_path, new_path, int(score) if score else None, new_mode)
        )
    return entries


def _binary_paths(data: bytes) -> set[str]:
    """New-side (or only) paths that `--numstat -z` marks as binary."""
    fields = data.split(b"\0")
    binary = set()
    i = 0
    while i < len(fields) and fields[i]:
        added, deleted, path = fields[i].split(b"\t", 2)
        if path:
            names, i = [path], i + 1
        else:  # rename or copy: the two paths follow
            names, i = [fields[i + 1], fields[i + 2]], i + 3
        if added == b"-" and deleted == b"-":
            binary.update(n.decode("utf-8", "surrogateescape") for n in names)
    return binary


def _sections(patch: bytes) -> list[bytes]:
    parts = []
    for chunk in (b"\n" + patch).split(b"\ndiff --git ")[1:]:
        parts.append(b"diff --git " + chunk)
    return parts


def _blob_text(repo: git.Repo, sha: str) -> bytes:
    return repo.odb.stream(bytes.fromhex(sha)).read()


def _kept_out(root: Path, old_path: str | None, new_path: str | None, new_mode: str) -> str:
    """Why a changed file stays out of the review (codeassist.confine), or ""."""
    if new_mode == "120000":
        return SYMLINK
    for path in (new_path, old_path):  # a secret renamed to an innocent name is still a secret
        if path is not None:
            reason = confine_relative(path, root)
            if reason is not None:
                return reason
    return ""


def read_changes(
    repo: git.Repo, spec: DiffSpec, paths: Sequence[str] = (), *, context_lines: int = 3
) -> ChangeSet:
    """The changes between spec's two sides, optionally limited to paths."""
    sides = _side_args(spec)
    limit = _pathspec(repo, paths)
    raw = _git_bytes(repo, "--raw", "-z", "--no-abbrev", *_DIFF_OPTIONS, *sides, *limit)
    numstat = _git_bytes(repo, "--numstat", "-z", *_DIFF_OPTIONS, *sides, *limit)
    patch = _git_bytes(repo, f"-U{context_lines}", *_DIFF_OPTIONS, *sides, *limit)
    entries = [e for e in _parse_raw(raw) if e[0] != "U"]
    binary = _binary_paths(numstat)
    sections = _sections(patch)
    if len(sections) != len(entries):
        sections = []  # unexpected layout: read each file's patch on its own below
    root = Path(repo.working_tree_dir or ".")
    files = []
    for index, entry in enumerate(entries):
        letter, _old_sha, new_sha, old_path, new_path, score, new_mode = entry
        skipped = _kept_out(root, old_path, new_path, new_mode)
        if skipped:
            # Not even its hunks are kept: a secret's text must not reach any prompt or log.
            files.append(
                FileChange(
                    path=new_path,
                    old_path=old_path,
                    status=_STATUS.get(letter, "modified"),
                    similarity=score if letter in "RC" else None,
                    skipped=skipped,
                )
            )
            continue
        if sections:
            section = sections[index]
        else:
            names = [p for p in (old_path, new_path) if p]
            section = _git_bytes(repo, f"-U{context_lines}", *_DIFF_OPTIONS, *sides, "--", *names)
        is_binary = (new_path or old_path) in binary or b"\nBinary files " in section
        new_text = None
        if new_path is not None and not is_binary and new_sha != _NULL_SHA:
            data = _blob_text(repo, new_sha)
            if b"\0" in data[:8000]:
                is_binary = True
            else:
                new_text = data.decode("utf-8", "replace")
        hunks = [] if is_binary else parse_hunks(section.decode("utf-8", "replace"))
        files.append(
            FileChange(
                path=new_path,
                old_path=old_path,
                status=_STATUS.get(letter, "modified"),
                binary=is_binary,
                hunks=hunks,
                new_text=new_text,
                similarity=score if letter in "RC" else None,
            )
        )
    return ChangeSet(root=root, label=spec.label, base=spec.base, target=spec.target, files=files)


def changes_from_git(
    start: Path,
    rev: str | None = None,
    *,
    staged: bool = False,
    root: bool = False,
    paths: Sequence[str] = (),
) -> ChangeSet:
    """Open the repository around start, resolve what to compare, and read the changes."""
    repo = open_repo(start)
    try:
        spec = resolve_spec(repo, rev, staged=staged, root=root)
        return read_changes(repo, spec, paths)
    finally:
        repo.close()
