# ruff: noqa: E501  (the rule table reads best one case a line)
"""Receiver types (retrieval/receiver.py): one test per inference rule, per language."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from retrieval import RepoIndex, estimate_tokens
from retrieval.query import position_query
from retrieval.receiver import (
    Link,
    ReceiverInference,
    Scope,
    clean_type,
    receiver_chain,
)
from tests.helpers.git_repo import repo_with_files


@dataclass
class FakeOracle:
    """What the repository declares, as plain dicts."""

    classes: set[str] = field(default_factory=set)
    returns: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)
    attributes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    instances: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # class -> member names
    fixtures: dict[str, list[str]] = field(default_factory=dict)
    named_like: dict[str, list[str]] = field(default_factory=dict)  # "Request" -> classes

    def is_class(self, name):
        return name in self.classes

    def return_types(self, function, owner):
        return self.returns.get((function, owner)) or self.returns.get((function, None), [])

    def attribute_types(self, owner, attribute):
        return self.attributes.get((owner, attribute), [])

    def instance_types(self, name):
        return self.instances.get(name, [])

    def classes_with_members(self, names):
        counts = {c: len(m & set(names)) for c, m in self.members.items()}
        best = max(counts.values(), default=0)
        return sorted(c for c, n in counts.items() if n == best and n > 0)

    def fixture_types(self, name):
        return self.fixtures.get(name, [])

    def classes_named_like(self, word):
        return self.named_like.get(word, [])

    def attribute_types_anywhere(self, attribute):
        return [t for (_owner, a), ts in self.attributes.items() if a == attribute for t in ts]


def guesses(lang, text, oracle, class_name=None, function_start=0):
    """(name, rule) guesses for the receiver at the end of text."""
    prefix = text.split("\n")[-1]
    chain = receiver_chain(prefix)
    assert chain is not None
    scope = Scope(lang, text, function_start, class_name)
    return [(g.name, g.rule) for g in ReceiverInference(scope, oracle).guesses(chain)]


def top(lang, text, oracle, **kw):
    got = guesses(lang, text, oracle, **kw)
    return got[0] if got else None


def test_receiver_chain():
    assert receiver_chain("    x = self.client.get(a, (b)).") == [
        Link("self"),
        Link("client"),
        Link("get", call=True),
    ]
    assert receiver_chain("return make().") == [Link("make", call=True)]
    assert receiver_chain("foo.ba") == [Link("foo")]  # inside a member name
    assert receiver_chain("x = 1 + ") is None
    assert receiver_chain('"a,b".') is None  # a string literal
    assert receiver_chain("items[0].") is None  # an element: not the container's type


def test_clean_type():
    assert clean_type("Optional[pkg.Client]") == "Client"
    assert clean_type("*Server") == "Server"
    assert clean_type("'Session'") == "Session"
    assert clean_type("Client | None") == "Client"
    assert clean_type("str") is None and clean_type("list[int]") is None


SELF_CLASS = FakeOracle(classes={"Form"})


@pytest.mark.parametrize(
    "lang, text, oracle, kw, expected",
    [
        # the enclosing class
        ("python", "class A(B):\n    def f(self):\n        self.", FakeOracle(), {"class_name": "A"}, ("A", "enclosing class")),
        ("typescript", "class A {\n  f() { this.", FakeOracle(), {"class_name": "A"}, ("A", "enclosing class")),
        # parameter annotations
        ("python", "def f(x: Client, y):\n    x.", FakeOracle(), {}, ("Client", "annotation")),
        ("python", "def f(x: Optional['pkg.Client'] = None):\n    x.", FakeOracle(), {}, ("Client", "annotation")),
        ("typescript", "function f(sub: Subscriber<T>) {\n  sub.", FakeOracle(), {}, ("Subscriber", "annotation")),
        ("go", "func handle(s *Server, n int) {\n\ts.", FakeOracle(), {}, ("Server", "annotation")),
        ("go", "func (s *Server) Run() {\n\ts.", FakeOracle(), {}, ("Server", "annotation")),
        # variable annotations
        ("python", "x: Basket = make()\nx.", FakeOracle(), {}, ("Basket", "annotation")),
        ("typescript", "let b: Basket = make();\nb.", FakeOracle(), {}, ("Basket", "annotation")),
        ("go", "var b Basket\nb.", FakeOracle(), {}, ("Basket", "annotation")),
        # constructor calls
        ("python", "x = Client(url)\nx.", FakeOracle(classes={"Client"}), {}, ("Client", "constructor")),
        ("python", "x = api.Client(url)\nx.", FakeOracle(classes={"Client"}), {}, ("Client", "constructor")),
        ("typescript", "const s = new Subject();\ns.", FakeOracle(), {}, ("Subject", "constructor")),
        ("go", "s := &Server{addr: a}\ns.", FakeOracle(classes={"Server"}), {}, ("Server", "constructor")),
        # return types of called functions and methods
        ("python", "x = make_client()\nx.", FakeOracle(returns={("make_client", None): ["Client"]}), {}, ("Client", "return type")),
        ("go", "s, err := NewServer(a)\ns.", FakeOracle(returns={("NewServer", None): ["Server"]}), {}, ("Server", "return type")),
        ("python", "def f(self):\n    q = self.get_queryset()\n    q.", FakeOracle(returns={("get_queryset", "View"): ["QuerySet"]}), {"class_name": "View"}, ("QuerySet", "via self.get_queryset")),
        # with ... as
        ("python", "with Session() as s:\n    s.", FakeOracle(classes={"Session"}), {}, ("Session", "with ... as")),
        # module-level instances (imported)
        ("python", "from app import registry\nregistry.", FakeOracle(instances={"registry": ["Registry"]}), {}, ("Registry", "module-level instance")),
        # test fixtures
        ("python", "def test_x(client):\n    client.", FakeOracle(fixtures={"client": ["TestClient"]}), {}, ("TestClient", "test fixture")),
    ],
)  # fmt: skip
def test_single_name_rules(lang, text, oracle, kw, expected):
    assert top(lang, text, oracle, **kw) == expected


def test_attribute_chains():
    oracle = FakeOracle(
        attributes={("Service", "client"): ["Client"], ("Client", "session"): ["Session"]}
    )
    text = "class Service:\n    def f(self):\n        self.client.session."
    assert top("python", text, oracle, class_name="Service")[0] == "Session"
    text = "class Service {\n  f() { this.client."
    assert top("typescript", text, oracle, class_name="Service")[0] == "Client"


def test_members_used_earlier():
    oracle = FakeOracle(members={"Reader": {"open", "read_rows"}, "Writer": {"open", "write"}})
    text = "def f(src):\n    src.open()\n    n = src.read_rows()\n    src."
    got = guesses("python", text, oracle)
    assert got[0][0] == "Reader" and "read_rows" in got[0][1]
    assert ("Writer", got[0][1]) not in got


def test_named_like_a_class_is_the_weakest():
    assert top("python", "def f(basket_item):\n    basket_item.", FakeOracle()) == (
        "BasketItem",
        "named like 'basket_item'",
    )
    # any real evidence wins over the name
    oracle = FakeOracle(classes={"Cart"})
    assert top("python", "basket = Cart()\nbasket.", oracle)[0] == "Cart"


def test_a_class_whose_name_ends_like_the_variable():
    oracle = FakeOracle(named_like={"Request": ["HttpRequest", "WSGIRequest"]})
    got = guesses("python", "def view(request):\n    request.", oracle)
    assert [g[0] for g in got] == ["Request", "HttpRequest", "WSGIRequest"]
    assert "...Request class" in got[1][1]


def test_fluent_chains_take_the_class_of_the_last_method():
    oracle = FakeOracle(members={"QuerySet": {"filter", "exclude"}, "Q": {"negate"}})
    got = guesses("python", "rows = Author.objects.filter(a=1).", oracle)
    assert got == [("QuerySet", "defines filter(), the last call")]
    # when the chain's type is known, that wins
    oracle.returns[("filter", "Manager")] = ["Rows"]
    oracle.attributes[("Author", "objects")] = ["Manager"]
    oracle.classes.add("Author")
    assert top("python", "rows = Author.objects.filter(a=1).", oracle)[0] == "Rows"


def test_an_attribute_of_an_unknown_owner():
    oracle = FakeOracle(attributes={("Article", "objects"): ["Manager"]})
    assert guesses("python", "rows = Author.objects.", oracle)[0] == (
        "Manager",
        "what classes declare as 'objects'",
    )


def test_the_closest_assignment_wins():
    oracle = FakeOracle(classes={"Old", "New"})
    got = guesses("python", "x = Old()\nx = New()\nx.", oracle)
    assert [g[0] for g in got[:2]] == ["New", "Old"]


# ---- the same rules against a real index (IndexTypeOracle) -------------------------------

REPO = {
    "shop/__init__.py": "",
    "shop/session.py": ("class Session:\n    def commit_all(self):\n        pass\n"),
    "shop/client.py": (
        "from shop.session import Session\n\n\n"
        "class BaseClient:\n"
        "    def __init__(self):\n"
        "        self.session = Session()\n\n\n"
        "class Client(BaseClient):\n"
        "    def fetch_order(self, n):\n"
        "        return n\n\n"
        "    def spawn(self) -> 'Client':\n"
        "        return Client()\n\n\n"
        "def make_client():\n"
        "    client = Client()\n"
        "    return client\n\n\n"
        "default_client = Client()\n"
    ),
    "tests/conftest.py": (
        "import pytest\n"
        "from shop.client import Client\n\n\n"
        "@pytest.fixture\n"
        "def api():\n"
        "    yield Client()\n"
    ),
    "shop/noise.py": "".join(f"def noise_{i}(x):\n    return x + {i}\n\n\n" for i in range(40)),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return RepoIndex.open(repo_with_files(tmp_path_factory.mktemp("r") / "shop", REPO), None)


def _shows(ctx, path, line):
    return any(
        i.path == path and s <= line <= e
        for i in ctx.items
        for s, e in i.shown or [(i.start_line, i.end_line)]
    )


@pytest.mark.parametrize(
    "path, buffer, expected",
    [
        # return type inferred from the body (`client = Client(); return client`)
        ("app.py", "from shop.client import make_client\n\nc = make_client()\nc.", "Client"),
        # a declared return type (a string annotation)
        ("app.py", "from shop.client import Client\n\ndef f(a: Client):\n    a.spawn().", "Client"),
        # an attribute assigned in a base class's __init__
        (
            "app.py",
            "from shop.client import Client\n\ndef f(a: Client):\n    a.session.",
            "Session",
        ),
        # a module-level instance, imported
        ("app.py", "from shop.client import default_client\n\ndefault_client.", "Client"),
        # a pytest fixture (a test's parameter)
        ("tests/test_api.py", "def test_fetch(api):\n    api.", "Client"),
    ],
)
def test_rules_against_the_index(index, path, buffer, expected):
    lines = buffer.split("\n")
    index.update_buffer(path, buffer)
    q = position_query(index, path, lines, len(lines), len(lines[-1]), {})
    best = max(q.receiver_classes, key=lambda name: q.receivers[name])
    assert best == expected, (q.receivers, q.receiver_rules)
    ctx = index.context_for_position(
        path,
        len(lines),
        len(lines[-1]),
        buffer=buffer,
        budget=150,
        count_tokens=estimate_tokens,
    )
    target = ("shop/session.py", 2) if expected == "Session" else ("shop/client.py", 10)
    assert _shows(ctx, *target), [(i.path, i.kind) for i in ctx.items]
    index.update_buffer(path, None)


GO_TS = {
    "server/server.go": (
        "package server\n\n"
        "type Store struct {\n\trows []string\n}\n\n"
        "func (s *Store) FetchRows(n int) []string {\n\treturn s.rows\n}\n\n"
        "type Server struct {\n\tstore *Store\n}\n\n"
        "func NewServer() *Server {\n\treturn &Server{}\n}\n\n"
        "func (s *Server) Serve() error {\n\treturn nil\n}\n"
    ),
    "web/store.ts": (
        "export class Store {\n  fetchRows(n: number): string[] { return []; }\n}\n"
        "export class Server {\n  constructor(private store: Store) {}\n"
        "  start(): Store { return this.store; }\n}\n"
        "export function makeServer(): Server { return new Server(new Store()); }\n"
    ),
}


@pytest.fixture(scope="module")
def go_ts_index(tmp_path_factory):
    return RepoIndex.open(repo_with_files(tmp_path_factory.mktemp("g") / "r", GO_TS), None)


@pytest.mark.parametrize(
    "path, buffer, expected",
    [
        # Go: a constructor function's declared return type
        ("cmd/main.go", "package main\n\nfunc main() {\n\tsrv := server.NewServer()\n\tsrv.", "Server"),
        # Go: a struct field's type, through the method receiver
        ("server/extra.go", "package server\n\nfunc (s *Server) Stop() {\n\ts.store.", "Store"),
        # TypeScript: a function's declared return type, then a method's
        ("web/app.ts", 'import { makeServer } from "./store";\nconst s = makeServer();\ns.start().', "Store"),
        # TypeScript: a constructor parameter property
        ("web/more.ts", "class Server {\n  constructor(private store: Store) {}\n  go() { this.store.", "Store"),
    ],
)  # fmt: skip
def test_go_and_typescript_against_the_index(go_ts_index, path, buffer, expected):
    lines = buffer.split("\n")
    go_ts_index.update_buffer(path, buffer)
    q = position_query(go_ts_index, path, lines, len(lines), len(lines[-1]), {})
    best = max(q.receiver_classes, key=lambda name: q.receivers[name])
    assert best == expected, (q.receivers, q.receiver_rules)
    go_ts_index.update_buffer(path, None)
