"""Each ranking signal alone, with its named weights (retrieval/signals.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from retrieval import RepoIndex, signals
from retrieval.query import Query
from retrieval.resolve import NameResolver
from retrieval.scores import Scores
from retrieval.signals import WEIGHTS
from tests.helpers.git_repo import repo_with_files

FILES = {
    "shop/__init__.py": "",
    "shop/models.py": (
        "class Basket:\n"
        "    def add(self, item):\n"
        "        self.items.append(item)\n\n"
        "    def clear(self):\n"
        "        self.items = []\n\n\n"
        "class GiftBasket(Basket):\n"
        "    def wrap(self):\n"
        "        pass\n"
    ),
    "shop/pricing.py": "def total_price(items):\n    return sum(items)\n",
    "shop/checkout.py": (
        "from shop.pricing import total_price\n\n\n"
        "def checkout(basket):\n"
        "    return total_price(basket.items)\n"
    ),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return RepoIndex.open(repo_with_files(tmp_path_factory.mktemp("r") / "shop", FILES), None)


def _def(index, path, name):
    return index.tags(path).def_names.index(name)


def _score(scores, index, path, name):
    r = scores.by_def.get((path, _def(index, path, name)))
    return r.score if r else 0.0


def test_changed_code_bumps_the_focus_with_body(index):
    q = Query(path=None, focus=[("shop/pricing.py", 0, 100.0)])
    scores = Scores(set(), explain=True)
    signals.changed_code(q, scores)
    (r,) = scores.ranked()
    assert (r.path, r.index, r.score, r.body) == ("shop/pricing.py", 0, 100.0, True)


def test_names_near_cursor_with_members(index):
    q = Query(path="app.py", names={"Basket": 2.0})
    scores = Scores({"app.py"}, explain=False)
    signals.names_near_cursor(index, q, NameResolver(index, q.path), scores)
    assert _score(scores, index, "shop/models.py", "Basket") == pytest.approx(2.0)
    kids = 2  # add, clear
    member = 2.0 * WEIGHTS.name_member_share / math.sqrt(kids)
    assert _score(scores, index, "shop/models.py", "add") == pytest.approx(member)
    off = Scores({"app.py"}, explain=False)
    w = replace(WEIGHTS, name_member_share=0.0)
    signals.names_near_cursor(index, q, NameResolver(index, q.path), off, w)
    assert _score(off, index, "shop/models.py", "add") == 0.0


def test_receiver_members_include_bases(index):
    q = Query(path="app.py", receivers={"GiftBasket": 3.0})
    scores = Scores({"app.py"}, explain=False)
    signals.receiver_members(index, q, NameResolver(index, q.path), scores)
    own = _score(scores, index, "shop/models.py", "GiftBasket")
    base = _score(scores, index, "shop/models.py", "Basket")
    assert own == pytest.approx(3.0)
    assert base == pytest.approx(3.0 * WEIGHTS.receiver_base_decay)
    assert _score(scores, index, "shop/models.py", "wrap") > 0
    assert _score(scores, index, "shop/models.py", "add") > 0  # a base's member
    flat = Scores({"app.py"}, explain=False)
    w = replace(WEIGHTS, receiver_base_depth=0)
    signals.receiver_members(index, q, NameResolver(index, q.path), flat, w)
    assert _score(flat, index, "shop/models.py", "Basket") == 0.0


def test_imported_definitions(index):
    q = Query(path="shop/checkout.py", names={"total_price": 1.0})
    scores = Scores({"shop/checkout.py"}, explain=False)
    signals.imported_definitions(index, q, NameResolver(index, q.path), scores)
    name = WEIGHTS.imported_name + WEIGHTS.imported_name_near * 1.0
    top = WEIGHTS.imported_file / math.sqrt(1) / math.sqrt(1)  # one file, one definition
    assert _score(scores, index, "shop/pricing.py", "total_price") == pytest.approx(name + top)


def test_pagerank_neighbours(index):
    q = Query(
        path="shop/checkout.py", names={"total_price": 1.0}, seed_files={"shop/checkout.py": 1}
    )
    scores = Scores({"shop/checkout.py"}, explain=False)
    ranks = signals.pagerank_neighbours(index, q, scores)
    pr = ranks["shop/pricing.py"]
    assert pr > 0
    got = _score(scores, index, "shop/pricing.py", "total_price")
    assert got == pytest.approx(WEIGHTS.pagerank * pr)


def test_lexical_matches(index):
    q = Query(path="app.py", terms={"items": 1.0, "append": 1.0})
    scores = Scores({"app.py"}, explain=False)
    signals.lexical_matches(index, q, NameResolver(index, q.path), {"shop/models.py": 1.0}, scores)
    best = scores.ranked()[0]
    assert (best.path, index.tags(best.path).def_names[best.index]) == ("shop/models.py", "add")
    assert best.score == pytest.approx(WEIGHTS.lexical)  # the best match scales to 1


def test_test_files_last():
    from retrieval.files import is_test_file

    def scored(path):
        scores = Scores(set(), explain=False)
        scores.bump("lib/a.py", 0, 1.0, "x")
        scores.bump("tests/test_a.py", 0, 1.0, "x")
        signals.test_files_last(Query(path=path), scores)
        return {r.path: r.score for r in scores.ranked()}

    assert scored("app.py") == {"lib/a.py": 1.0, "tests/test_a.py": WEIGHTS.test_file_factor}
    assert scored("tests/test_b.py") == {"lib/a.py": 1.0, "tests/test_a.py": 1.0}
    for path in ["tests/x.py", "pkg/test_x.py", "x_test.go", "src/a.spec.ts", "conftest.py"]:
        assert is_test_file(path), path
    for path in ["django/test/testcases.py", "src/testing.py", "latest.py", "contest.py"]:
        assert not is_test_file(path), path
