"""Edits in the client's position encoding: non-ASCII lines must not shift them."""

from __future__ import annotations

from lsprotocol import types

from codeassist.tasks.edits import FileEdit, Span, TextEdit
from lsp.positions import UTF8, UTF16, to_range, to_span
from lsp.workspace_edits import workspace_edit

TEXT = 'label = "🙂 café"; total = a + b\nnext = 1\n'


def test_utf16_and_utf8_columns_round_trip_past_an_emoji():
    start = TEXT.index("total")
    span = Span(0, start, 0, start + len("total"))
    utf16 = to_range(TEXT, span, UTF16)
    utf8 = to_range(TEXT, span, UTF8)
    assert utf16.start.character == start + 1  # the emoji is two UTF-16 units
    assert utf8.start.character == start + 3 + 1  # four UTF-8 bytes, and é is two
    for encoding, rng in [(UTF16, utf16), (UTF8, utf8)]:
        assert to_span(TEXT, rng, encoding) == span


def test_range_past_the_end_is_clamped():
    rng = types.Range(start=types.Position(1, 0), end=types.Position(40, 3))
    assert to_span(TEXT, rng, UTF16) == Span(1, 0, 2, 0)


def test_workspace_edit_is_versioned_or_plain_by_capability():
    edit = FileEdit("/r/a.py", 7, [TextEdit(Span(1, 0, 1, 4), "after")])
    versioned = workspace_edit([edit], lambda _: TEXT, UTF16, document_changes=True)
    (document_edit,) = versioned.document_changes
    assert document_edit.text_document.version == 7
    assert document_edit.text_document.uri == "file:///r/a.py"
    plain = workspace_edit([edit], lambda _: TEXT, UTF16, document_changes=False)
    assert list(plain.changes) == ["file:///r/a.py"]
