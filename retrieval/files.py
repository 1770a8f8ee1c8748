"""Which files of a repository the index reads: git's view, ignore files, and safety rules."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from retrieval.languages import language_for

MAX_BYTES = 1_000_000
# Directories of code the repository did not write.
VENDORED_DIRS = frozenset(
    {
        "node_modules",
        "vendor",
        "third_party",
        "thirdparty",
        "bower_components",
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
    }
)
# Names of likely secrets: never opened, not even to hash.
_SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "credentials",
    "credentials.*",
    "*credentials*.json",
    ".netrc",
    ".pgpass",
    ".htpasswd",
    "secrets.*",
    "*.secret",
)
_MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".min.cjs", "-min.js", ".bundle.js", ".min.css")


_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in _SECRET_PATTERNS))


def is_secret(path: str) -> bool:
    """True for names that usually hold credentials (`.env*`, keys, `credentials` files)."""
    return _SECRET_RE.match(path.rsplit("/", 1)[-1].lower()) is not None


_TEST_DIRS = frozenset({"tests", "__tests__", "spec", "specs", "testdata", "test_utils"})
_TEST_NAME = re.compile(
    r"(test_.*\.py|.*_tests?\.py|conftest\.py|.*_test\.go|.*[._-](test|spec)\.[cm]?[jt]sx?"
    r"|Test.*\.java|.*Tests?\.java|.*_spec\.rb|.*_test\.rb|test_.*\.rb)"
)


@functools.lru_cache(maxsize=1 << 16)
def is_test_file(path: str) -> bool:
    """Test code: `tests/`, `__tests__/`, `spec/` folders, or test-named files (test_x.py,
    x_test.go, x.spec.ts, FooTest.java, ...). A library folder named `test` is not enough."""
    parts = path.split("/")
    return _TEST_NAME.fullmatch(parts[-1]) is not None or any(p in _TEST_DIRS for p in parts[:-1])


def is_vendored(path: str) -> bool:
    """True when a directory on the path is vendored or generated code."""
    parts = path.split("/")[:-1]
    return any(p in VENDORED_DIRS for p in parts)


def looks_minified(data: bytes) -> bool:
    """Minified/generated text: very long lines on average or one giant line."""
    if len(data) < 2000:
        return False
    lines = data.count(b"\n") + 1
    return len(data) / lines > 300


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KB."""
    return b"\0" in data[:8192]


@dataclass(frozen=True)
class IgnoreRules:
    """Patterns from `.codeassistignore` (gitignore syntax, the common subset)."""

    patterns: tuple[tuple[str, bool, bool, bool], ...] = ()  # (glob, negate, dir_only, anchored)

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        """Read gitignore-style lines: globs, `!negation`, `dir/`, `/anchored`, `#comments`."""
        out = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line  # a leading or middle slash anchors to the root
            line = line.lstrip("/")
            if line:
                out.append((line, negate, dir_only, anchored))
        return cls(tuple(out))

    def ignored(self, path: str) -> bool:
        """True when the last matching pattern for `path` (or a parent directory) excludes it."""
        result = False
        parts = path.split("/")
        for glob, negate, dir_only, anchored in self.patterns:
            hit = False
            # a directory pattern matches any prefix; a file pattern the path or a prefix
            for i in range(1, len(parts) + 1):
                if dir_only and i == len(parts):
                    break
                sub = "/".join(parts[:i])
                if anchored:
                    hit = fnmatch.fnmatchcase(sub, glob)
                else:
                    hit = fnmatch.fnmatchcase(parts[i - 1], glob)
                if hit:
                    break
            if hit:
                result = not negate
        return result


def _load_rules(root: Path, name: str) -> IgnoreRules:
    try:
        return IgnoreRules.parse((root / name).read_text("utf-8", "replace"))
    except OSError:
        return IgnoreRules()


def _git_files(root: Path) -> list[str] | None:
    """Tracked plus untracked-not-ignored files from git, or None when git cannot tell."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    names = out.stdout.decode("utf-8", "surrogateescape").split("\0")
    return list(dict.fromkeys(n for n in names if n))


def _walk(root: Path, rules: IgnoreRules) -> list[str]:
    """A plain walk (not a git repo): symlinks are not followed, so loops cannot happen."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=lambda e: None):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in VENDORED_DIRS and not d.startswith(".") and not rules.ignored(rel + d)
        )
        for f in sorted(filenames):
            out.append(rel + f)
    return out


def list_files(root: Path) -> list[str]:
    """Candidate source files (repo-relative, '/'-separated) in a stable order."""
    codeassist_rules = _load_rules(root, ".codeassistignore")
    names = _git_files(root)
    if names is None:
        gitignore = _load_rules(root, ".gitignore")
        rules = IgnoreRules(gitignore.patterns + codeassist_rules.patterns)
        names = [n for n in _walk(root, rules) if not rules.ignored(n)]
    else:
        names = [n for n in names if not codeassist_rules.ignored(n)]
    out = []
    for n in names:
        if is_secret(n) or is_vendored(n) or n.endswith(_MINIFIED_SUFFIXES):
            continue
        if language_for(n) is None and "." in n.rsplit("/", 1)[-1]:
            continue  # extensionless files may still be scripts (shebang): checked on read
        out.append(n)
    out.sort()
    return out


@dataclass(frozen=True)
class FileStat:
    """What `os.stat` says about a file: enough to know it did not change."""

    size: int
    mtime_ns: int
    inode: int


def stat_file(path: Path) -> FileStat | None:
    """Stat a regular, non-symlink file; None for anything else or when it cannot be read."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    import stat as st_mod

    if not st_mod.S_ISREG(st.st_mode):
        return None
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino)
