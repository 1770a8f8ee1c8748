"""Helpers for the retrieval tests: real temporary git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity; returns stdout."""
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write text or bytes files under root, creating directories."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def make_repo(root: Path, files: dict[str, str | bytes], commit: bool = True) -> Path:
    """A git repository holding `files` (committed unless commit=False)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write_files(root, files)
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "init")
    return root


APP_FILES = {
    "pkg/__init__.py": "",
    "pkg/models.py": '''"""Models."""


class Account:
    """A bank account."""

    def __init__(self, owner: str, balance: int = 0) -> None:
        self.owner = owner
        self.balance = balance

    def deposit(self, amount: int) -> int:
        """Add money."""
        self.balance += amount
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        return self.balance


def open_account(owner: str) -> Account:
    return Account(owner)
''',
    "pkg/service.py": """from pkg.models import Account, open_account
from pkg.util import fmt_money


def pay(src: Account, dst: Account, amount: int) -> str:
    src.withdraw(amount)
    dst.deposit(amount)
    return fmt_money(dst.balance)


def create(owner):
    acct = open_account(owner)
    return acct
""",
    "pkg/util.py": """def fmt_money(cents: int) -> str:
    return f"${cents / 100:.2f}"


def unrelated_helper(x):
    return x * 2
""",
    "web/app.ts": """import { Account } from "./account";
export function handler(a: Account): number { return a.total(); }
""",
    "web/account.ts": """export class Account {
  constructor(private cents: number) {}
  total(): number { return this.cents; }
}
""",
}
