"""Packing: exact budgets, whole definitions, labels that match the files, ranking basics."""

from __future__ import annotations

import pytest

from retrieval import RepoIndex, estimate_tokens
from retrieval.outline import ELIDED_MARKER
from retrieval.parse import parse_source

BUFFER = (
    "from pkg.models import Account, open_account\n"
    "from pkg.util import fmt_money\n\n\n"
    "def refund(acct: Account, amount: int) -> str:\n"
    "    acct."
)


@pytest.fixture
def index(app_repo):
    return RepoIndex.open(app_repo, None)


def _check_items(index, ctx, budget, count):
    assert ctx.used <= budget
    assert ctx.used == sum(i.tokens for i in ctx.items)
    for it in ctx.items:
        lines = index.lines(it.path)
        assert it.tokens == count(it.text)
        if it.kind == "outline":  # the shown lines verbatim, in order, and marker lines
            shown = [lines[n - 1] for s, e in it.shown for n in range(s, e + 1)]
            assert [x for x in it.text.split("\n") if not x.endswith(ELIDED_MARKER)] == shown
            assert all(it.start_line <= s <= e <= it.end_line for s, e in it.shown)
            continue
        assert it.text == "\n".join(lines[it.start_line - 1 : it.end_line])
        if it.kind == "definition":
            tags = parse_source("\n".join(lines).encode(), index.tags(it.path).lang)
            spans = {(d[2], d[3]) for d in tags.defs}
            assert (it.start_line, it.end_line) in spans  # a whole definition, never a piece
    # no two items overlap
    seen = {}
    for it in ctx.items:
        for other in seen.get(it.path, []):
            assert it.end_line < other[0] or it.start_line > other[1]
        seen.setdefault(it.path, []).append((it.start_line, it.end_line))


def _superadditive(text: str) -> int:
    """A counter under which joined text costs more than its parts (outlines are recounted)."""
    return int(len(text) ** 1.2)


COUNTERS = {"estimate": estimate_tokens, "chars": len, "superadditive": _superadditive}


@pytest.mark.parametrize("budget", [0, 5, 17, 40, 100, 300, 1000, 4000, 100_000])
@pytest.mark.parametrize("counter", sorted(COUNTERS))
def test_budget_is_never_exceeded(index, budget, counter):
    count = COUNTERS[counter]
    ctx = index.context_for_position(
        "pkg/refund.py", 6, 9, buffer=BUFFER, budget=budget, count_tokens=count
    )
    assert ctx.budget == budget
    _check_items(index, ctx, budget, count)


def test_receiver_members_rank_first(index):
    ctx = index.context_for_position(
        "pkg/refund.py",
        6,
        9,
        buffer=BUFFER,
        budget=120,
        count_tokens=estimate_tokens,
        explain=True,
    )
    shown = {(i.path, s) for i in ctx.items for s, _e in i.shown or [(i.start_line, 0)]}
    shown_lines = {
        (i.path, n)
        for i in ctx.items
        for s, e in i.shown or [(i.start_line, i.end_line)]
        for n in range(s, e + 1)
    }
    assert ("pkg/models.py", 11) in shown_lines  # def deposit(...)
    assert ("pkg/models.py", 16) in shown_lines  # def withdraw(...)
    assert shown
    assert all(i.path != "pkg/refund.py" for i in ctx.items)  # the buffer itself is not repeated
    assert all(i.reason for i in ctx.items)
    assert "receiver" in " ".join(i.reason for i in ctx.items)


def test_small_budget_prefers_signatures_large_budget_whole_files(index):
    small = index.context_for_position(
        "pkg/refund.py", 6, 9, buffer=BUFFER, budget=60, count_tokens=estimate_tokens
    )
    assert any(i.kind == "signature" for i in small.items)
    big = index.context_for_position(
        "pkg/refund.py", 6, 9, buffer=BUFFER, budget=50_000, count_tokens=estimate_tokens
    )
    kinds = {i.kind for i in big.items}
    assert "file" in kinds
    paths = {i.path for i in big.items if i.kind == "file"}
    assert "pkg/models.py" in paths


def test_context_for_changes_includes_enclosing_definition(index):
    ctx = index.context_for_changes(
        {"pkg/service.py": [(6, 7)]}, budget=400, count_tokens=estimate_tokens
    )
    spans = {(i.path, i.start_line, i.end_line, i.kind) for i in ctx.items}
    assert ("pkg/service.py", 5, 8, "definition") in spans  # the changed function, whole
    assert any(p == "pkg/models.py" for p, *_ in spans)  # what it calls
    _check_items(index, ctx, 400, estimate_tokens)


def test_context_for_changes_includes_callers(index):
    ctx = index.context_for_changes(
        {"pkg/util.py": [(2, 2)]}, budget=300, count_tokens=estimate_tokens, explain=True
    )

    def covers(path, line):
        return any(i.path == path and i.start_line <= line <= i.end_line for i in ctx.items)

    assert covers("pkg/util.py", 1)  # fmt_money, the changed function
    first = ctx.items[0]  # pay() calls fmt_money: callers come first
    assert (first.path, first.start_line, first.end_line, first.kind) == (
        "pkg/service.py",
        5,
        8,
        "caller",
    )
    assert first.reason == "uses fmt_money (changed in pkg/util.py)"


def test_typescript_receiver(index):
    buf = 'import { Account } from "./account";\nexport function f(a: Account) { return a.'
    ctx = index.context_for_position(
        "web/other.ts",
        2,
        len("export function f(a: Account) { return a."),
        buffer=buf,
        budget=200,
        count_tokens=estimate_tokens,
    )
    assert any(i.path == "web/account.ts" for i in ctx.items)


def test_estimate_tokens():
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("self.balance += amount") == 1 + 1 + 2 + 2 + 2
    assert estimate_tokens("x\n" * 10) == 20
