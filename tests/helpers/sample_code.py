"""Small source files more than one test folder opens in an editor or reviews."""

# shapes.py: line 8 (0-based) holds `total = width + height`, line 9 `total = total * 2`.
SHAPES = '''\
"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    total = width + height
    total = total * 2
    return total
'''

# uses.py: imports and calls perimeter from shapes.py.
USES = "from shapes import perimeter\n\nprint(perimeter(1, 2))\n"

# pkg/app.py and pkg/util.py of the language-server workspace.
APP_PY = '''import os


def size(path):
    """Bytes in a file."""
    return os.path.getsize(path)


def describe(path):
    total = size(path)
    return f"{path}: {total}"
'''

UTIL_PY = """def helper(value):
    return value * 2


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count
"""

# A small multi-file Python + TypeScript repository (accounts, a service using them, a util).
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
