"""What an editor review looks at, as a ChangeSet: a buffer, a selection, or uncommitted work.

Editor reviews see unsaved buffers: the reviewed version of a file is the editor's text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import git

from codeassist.confine import confine
from codeassist.errors import UserError
from codeassist.git.changes import ChangeSet, DiffLine, FileChange, Hunk, split_lines
from codeassist.git.unified import hunks_for_ranges


def file_review(
    root: Path, path: str, text: str, lines: tuple[int, int] | None = None
) -> ChangeSet:
    """A whole buffer (or its 1-based inclusive lines) presented as under review.

    UserError ("not reviewed: PATH (secret file)") for a file confine() keeps out of prompts.
    """
    reason = confine(path, [root])
    if reason is not None:
        raise UserError(f"not reviewed: {path} ({reason}); codeassist never sends it to a model.")
    relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
    all_lines = split_lines(text)
    first, last = lines or (1, max(1, len(all_lines)))
    hunks = hunks_for_ranges(all_lines, [(first, last)])
    label = f"{relative}" if lines is None else f"{relative}:{first}-{last}"
    change = FileChange(relative, relative, "modified", hunks=hunks, new_text=text)
    return ChangeSet(root=root, label=label, base=None, target=None, files=[change])


def diff_hunks(old: str, new: str, context: int = 3) -> list[Hunk]:
    """Unified-diff hunks between two texts, with right-side line numbers."""
    old_lines, new_lines = split_lines(old), split_lines(new)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        hunk = Hunk(first[1] + 1, last[2] - first[1], first[3] + 1, last[4] - first[3])
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for offset in range(a2 - a1):
                    hunk.lines.append(
                        DiffLine(" ", old_lines[a1 + offset], a1 + offset + 1, b1 + offset + 1)
                    )
                continue
            for n in range(a1, a2):
                hunk.lines.append(DiffLine("-", old_lines[n], n + 1, None))
            for n in range(b1, b2):
                hunk.lines.append(DiffLine("+", new_lines[n], None, n + 1))
        hunks.append(hunk)
    return hunks


def uncommitted_review(
    root: Path,
    read: Callable[[str], str | None],
    open_paths: Iterable[str] = (),
    roots: Sequence[Path] | None = None,
) -> ChangeSet:
    """The working tree (open buffers included, via read(abs path)) against HEAD.

    open_paths: absolute paths of unsaved editor buffers, which git cannot see as changed.
    roots: the workspace folders a file must lie in (default: the repository); a changed file
    outside them, a secret, or a link out of them is not read and is listed with its reason
    (ChangeSet.not_reviewed()).

    UserError when root is not in a git repository or nothing reviewable changed.
    """
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(
            f"{root} is not in a git repository; 'Review uncommitted changes' compares the "
            f"working tree with HEAD. Use 'Review this file' instead."
        ) from None
    try:
        top = Path(repo.working_tree_dir or root)
        try:
            head = repo.head.commit.tree
        except ValueError:  # no commits yet
            head = None
        changed = set(repo.untracked_files)
        if head is not None:
            changed |= {d.a_path or d.b_path for d in head.diff(None)}
        changed |= {d.a_path or d.b_path for d in repo.index.diff(None)}
        for path in open_paths:
            try:
                changed.add(Path(path).resolve().relative_to(top.resolve()).as_posix())
            except ValueError:
                continue  # a buffer outside this repository
        allowed = list(roots) if roots else [top]
        files = []
        for relative in sorted(p for p in changed if p):
            reason = confine(top / relative, allowed)
            if reason is not None:
                files.append(FileChange(relative, relative, "modified", skipped=reason))
                continue
            old = None
            if head is not None:
                try:
                    old = head[relative].data_stream.read().decode("utf-8")
                except (KeyError, UnicodeDecodeError):
                    old = None
            new = read(str(top / relative))
            if new is None:  # deleted, or not text
                if old is not None and not (top / relative).exists():
                    files.append(FileChange(None, relative, "deleted"))
                continue
            if old == new:
                continue
            status = "added" if old is None else "modified"
            hunks = diff_hunks(old or "", new)
            files.append(FileChange(relative, relative, status, hunks=hunks, new_text=new))
    finally:
        repo.close()
    if not any(f.hunks for f in files):
        skipped = [f"{f.path} ({f.skipped})" for f in files if f.skipped]
        also = f" (not reviewed: {', '.join(skipped[:5])})" if skipped else ""
        raise UserError(f"no uncommitted changes in {top} to review{also}.")
    return ChangeSet(
        root=top,
        label="uncommitted changes (working tree vs HEAD)",
        base=None,
        target=None,
        files=files,
    )
