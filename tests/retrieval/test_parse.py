"""Definitions, references and imports per language on small real snippets."""

from __future__ import annotations

import pytest

from retrieval.languages import language_for
from retrieval.parse import parse_source, reference_positions
from tests.helpers.language_snippets import SNIPPETS


@pytest.mark.parametrize("lang", sorted(SNIPPETS))
def test_definitions_kinds_and_scopes(lang):
    path, code, expected, _ref = SNIPPETS[lang]
    assert language_for(path) == lang
    tags = parse_source(code.encode(), lang)
    got = [(d[0], d[1], tags.defs[d[6]][0] if d[6] >= 0 else None) for d in tags.defs]
    assert got == expected
    assert tags.errors == 0
    assert tags.imports, "each snippet imports something"


@pytest.mark.parametrize("lang", sorted(SNIPPETS))
def test_references_positions(lang):
    _path, code, _defs, (name, count) = SNIPPETS[lang]
    refs = reference_positions(code.encode(), lang, name)
    assert len(refs) == count
    lines = code.split("\n")
    for line, col, end in refs:
        assert lines[line - 1][col:end] == name


def test_python_spans_signatures_and_decorators():
    _path, code, _defs, _ref = SNIPPETS["python"]
    tags = parse_source(code.encode(), "python")
    by_name = {d[0]: d for d in tags.defs}
    lines = code.split("\n")
    name, kind, start, end, sig_end, _col, _parent = by_name["Circle"]
    assert lines[start - 1] == "@dataclass"  # the decorator belongs to the span
    assert lines[sig_end - 1] == "class Circle(B):"
    assert lines[end - 1].strip() == "return math.pi * self.r**2"
    area = by_name["area"]
    assert lines[area[4] - 1].strip() == "def area(self) -> float:"


def test_multiline_python_signature():
    code = "def f(\n    a,\n    b,\n):\n    return a + b\n"
    (d,) = parse_source(code.encode(), "python").defs
    assert (d[2], d[4], d[3]) == (1, 4, 5)


def test_broken_code_still_yields_what_parsed():
    code = b"def good():\n    return 1\n\ndef broken(:\n    pass\n\nclass After:\n    x = 1\n"
    tags = parse_source(code, "python")
    assert tags.errors == 1
    names = [d[0] for d in tags.defs]
    assert "good" in names and "After" in names


def test_non_utf8_bytes_do_not_stop_parsing():
    code = b"def caf\xe9():\n    pass\n\ndef ok():\n    return '\xff'\n"
    names = [d[0] for d in parse_source(code, "python").defs]
    assert "ok" in names


def test_language_by_shebang_and_unknown():
    assert language_for("bin/tool", b"#!/usr/bin/env python3\nprint(1)\n") == "python"
    assert language_for("bin/run", b"#!/usr/bin/node\n") == "javascript"
    assert language_for("bin/x", b"#!/bin/sh\n") is None
    assert language_for("README.md") is None
    assert language_for("a/b.hpp") == "cpp"


def test_reference_positions_skip_strings_and_comments():
    code = b'x = compute()  # compute later\ny = "compute"\nz = compute\n'
    refs = reference_positions(code, "python", "compute")
    assert [(r[0], r[1]) for r in refs] == [(1, 4), (3, 4)]


def test_reference_columns_are_characters_not_bytes():
    code = "s = 'é'; val = 1\nprint(val)\n".encode()
    refs = reference_positions(code, "python", "val")
    assert refs[0] == (1, 9, 12)


@pytest.mark.parametrize("lang", sorted(SNIPPETS))
def test_incremental_reparse_matches_a_full_parse(lang):
    """Edits through the kept tree (tree.edit + reparse) give exactly a full parse's tags."""
    import random

    from retrieval.parse import parse_incremental

    _path, code, _defs, _ref = SNIPPETS[lang]
    data = code.encode()
    _tags, kept = parse_incremental(data, lang)
    rng = random.Random(lang)
    for step in range(12):
        pos = rng.randrange(len(data) + 1)
        if step % 3 == 0:  # delete a stretch (may cut a definition in two)
            data = data[:pos] + data[pos + rng.randint(1, 30) :]
        elif step % 3 == 1:  # type a word
            data = data[:pos] + b"zz_new" + data[pos:]
        else:  # paste a copy of another stretch, new lines included
            src = rng.randrange(len(data))
            data = data[:pos] + data[src : src + 80] + data[pos:]
        tags, kept = parse_incremental(data, lang, kept)
        assert tags == parse_source(data, lang), f"step {step}"
    # back to the original text: the original definitions again
    tags, kept = parse_incremental(code.encode(), lang, kept)
    assert tags == parse_source(code.encode(), lang)
    assert [d[0] for d in tags.defs] == [d[0] for d in parse_source(code.encode(), lang).defs]


def test_parsing_never_starts_more_processes_than_cores(tmp_path, monkeypatch):
    """`[retrieval] workers` may come from the repository's own config: 256 must not mean 256
    processes."""
    from retrieval import build

    started: list[int] = []

    class Pool(build.ProcessPoolExecutor):
        def __init__(self, max_workers, **kwargs):
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(build, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(build.os, "cpu_count", lambda: 2)
    items = []
    for i in range(build.PARALLEL_MIN_FILES):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
        items.append((f"m{i}.py", "python"))
    parsed = list(build.parse_files(tmp_path, items, workers=256))
    assert started == [2] and len(parsed) == len(items) and all(blob for _, _, blob in parsed)
