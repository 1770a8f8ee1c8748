"""Which two versions a review compares: REV (= REV..HEAD), A..B, A...B, --staged, --root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import git

from codeassist.errors import UserError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree

RULE = (
    "REV alone means REV..HEAD (`codeassist review HEAD~1` reviews the last commit); "
    "A..B compares A with B as `git diff A..B` does; A...B compares B with the merge base of A "
    "and B; --staged compares the index with HEAD (what `git commit` would record); --root "
    "reviews everything in HEAD, for a repository's first commit."
)


@dataclass(frozen=True)
class DiffSpec:
    base: str | None  # left-side commit sha; None: the empty tree
    target: str | None  # right-side commit sha; None: the index
    label: str


def open_repo(start: Path) -> git.Repo:
    """The git repository around start, or a UserError that says how to get one."""
    try:
        return git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(
            f"{start} is not inside a git repository; run this from a git checkout "
            f"(or create one with `git init`)."
        ) from None


def head_commit(repo: git.Repo) -> str | None:
    """HEAD's commit sha, or None while the repository has no commits."""
    try:
        return repo.git.rev_parse("--verify", "--quiet", "HEAD^{commit}")
    except git.GitCommandError:
        return None


def _resolve(repo: git.Repo, rev: str) -> str:
    try:
        return repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except git.GitCommandError:
        pass
    if head_commit(repo) is None:
        raise UserError(
            f"unknown revision '{rev}': the repository has no commits yet; stage your files "
            f"and review them with `codeassist review --staged`."
        )
    parent_of = re.fullmatch(r"(.+?)(?:~1?|\^1?)", rev)
    if parent_of:
        try:
            stem = repo.git.rev_parse("--verify", "--quiet", f"{parent_of.group(1)}^{{commit}}")
            if not repo.commit(stem).parents:
                raise UserError(
                    f"unknown revision '{rev}': {parent_of.group(1)} is the repository's first "
                    f"commit and has no parent; review it with `codeassist review --root`."
                )
        except git.GitCommandError:
            pass
    if repo.working_tree_dir and (Path(repo.working_tree_dir) / rev).exists():
        raise UserError(
            f"'{rev}' is a path, not a revision; name what to review first: "
            f"`codeassist review HEAD~1 {rev}` or `codeassist review --staged {rev}`."
        )
    raise UserError(
        f"unknown revision '{rev}': no such commit in {repo.working_tree_dir}; "
        f"`git log --oneline` lists the commits you can review."
    )


def resolve_spec(repo: git.Repo, rev: str | None, *, staged: bool, root: bool = False) -> DiffSpec:
    """The two sides a review compares, following RULE; UserError for anything else."""
    chosen = sum([rev is not None, staged, root])
    if chosen == 0:
        raise UserError(
            "say what to review: a revision (`codeassist review HEAD~1` reviews the last commit), "
            "a range A..B, or --staged (the changes you are about to commit)."
        )
    if chosen > 1:
        raise UserError("give only one of REV (or A..B), --staged and --root; see --help.")
    head = head_commit(repo)
    if staged:
        return DiffSpec(head, None, "staged changes (index vs HEAD)")
    if head is None:
        raise UserError(
            "the repository has no commits yet; stage your files and review them with "
            "`codeassist review --staged`."
        )
    if root:
        return DiffSpec(None, head, "everything in HEAD (from the empty tree)")
    assert rev is not None
    if not rev.strip():
        raise UserError("empty revision; give one such as HEAD~1, or a range such as main..HEAD.")
    if "..." in rev:
        left, _, right = rev.partition("...")
        a, b = _resolve(repo, left or "HEAD"), _resolve(repo, right or "HEAD")
        try:
            base = repo.git.merge_base(a, b)
        except git.GitCommandError:
            raise UserError(
                f"'{rev}': {left or 'HEAD'} and {right or 'HEAD'} have no common ancestor; "
                f"use A..B to compare them directly."
            ) from None
        return DiffSpec(base, b, rev)
    if ".." in rev:
        left, _, right = rev.partition("..")
        return DiffSpec(_resolve(repo, left or "HEAD"), _resolve(repo, right or "HEAD"), rev)
    return DiffSpec(_resolve(repo, rev), head, f"{rev}..HEAD")
