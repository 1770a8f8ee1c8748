"""Ranking signals on small real repositories: imports, re-exports, modules, receivers."""

from __future__ import annotations

import pytest

from retrieval import RepoIndex, estimate_tokens
from tests.helpers.git_repo import repo_with_files

FILES = {
    "shop/__init__.py": "from shop.pricing import total_price as total_price\n",
    "shop/pricing.py": (
        "def total_price(items, tax=0.2):\n    return sum(items) * (1 + tax)\n\n\n"
        "def discount(price, pct):\n    return price * (1 - pct)\n"
    ),
    "shop/models.py": (
        "class Basket:\n    def add(self, item):\n        self.items.append(item)\n\n"
        "    def clear(self):\n        self.items = []\n\n\n"
        "def new_basket():\n    return Basket()\n"
    ),
    "shop/noise.py": "".join(f"def noise_{i}(x):\n    return x + {i}\n\n\n" for i in range(60)),
    "web/api.ts": (
        'import { Basket as B, makeBasket } from "./basket";\n'
        "export function handle() { const b = makeBasket(); return b; }\n"
    ),
    "web/basket.ts": (
        "export class Basket {\n  add(item: string): void {}\n  clear(): void {}\n}\n"
        "export function makeBasket(): Basket { return new Basket(); }\n"
    ),
}


@pytest.fixture
def index(tmp_path):
    return RepoIndex.open(repo_with_files(tmp_path / "shop", FILES), None)


def _ctx(index, path, buffer, budget=80):
    lines = buffer.split("\n")
    return index.context_for_position(
        path,
        len(lines),
        len(lines[-1]),
        buffer=buffer,
        budget=budget,
        count_tokens=estimate_tokens,
        explain=True,
    )


def _covers(ctx, path, line):
    return any(i.path == path and i.start_line <= line <= i.end_line for i in ctx.items)


def test_reexported_name_resolves_to_its_definition(index):
    ctx = _ctx(
        index, "app.py", "from shop import total_price\n\n\ndef checkout(items):\n    return "
    )
    assert _covers(ctx, "shop/pricing.py", 1)
    assert "imported" in " ".join(i.reason for i in ctx.items)


def test_module_receiver_lists_module_members(index):
    ctx = _ctx(index, "app.py", "from shop import models\n\n\ndef f():\n    b = models.")
    assert _covers(ctx, "shop/models.py", 1)  # class Basket
    assert _covers(ctx, "shop/models.py", 9)  # def new_basket
    assert not any(i.path == "shop/noise.py" for i in ctx.items)


def test_typed_receiver_lists_class_members(index):
    buf = "from shop.models import Basket\n\n\ndef f(basket: Basket):\n    basket."
    ctx = _ctx(index, "app.py", buf)
    assert _covers(ctx, "shop/models.py", 2) and _covers(ctx, "shop/models.py", 5)


def test_typescript_named_imports(index):
    buf = 'import { Basket as B, makeBasket } from "./basket";\nexport function g() { return '
    ctx = _ctx(index, "web/other.ts", buf)
    assert _covers(ctx, "web/basket.ts", 5)  # makeBasket
    assert _covers(ctx, "web/basket.ts", 1)  # Basket (imported as B)


def test_current_file_is_never_repeated(index):
    buf = (index.root / "shop/pricing.py").read_text() + "\n\ndef more():\n    return "
    ctx = _ctx(index, "shop/pricing.py", buf, budget=2000)
    assert all(i.path != "shop/pricing.py" for i in ctx.items)
