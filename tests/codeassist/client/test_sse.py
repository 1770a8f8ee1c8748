"""Server-sent events as OpenAI-compatible servers write them, read back as JSON payloads."""

from __future__ import annotations

from codeassist.client.sse import DONE, iter_events


def test_events_split_on_blank_lines_and_stop_at_done():
    lines = ['data: {"a": 1}\n', "\n", 'data: {"b": 2}\r\n', "\r\n", "data: [DONE]\n", "\n"]
    lines += ['data: {"after": "done"}\n', "\n"]
    assert list(iter_events(lines)) == [{"a": 1}, {"b": 2}, DONE]


def test_a_multi_line_event_is_one_payload():
    lines = ['data: {"text":\n', 'data: "x"}\n', "\n", "data:[1]\n", "\n"]
    assert list(iter_events(lines)) == [{"text": "x"}, [1]]


def test_comments_other_fields_and_an_unterminated_last_event():
    lines = [": keep-alive\n", "event: message\n", "id: 7\n", 'data: {"c": 3}\n']
    assert list(iter_events(lines)) == [{"c": 3}]
    assert list(iter_events(["data: [DONE]"])) == [DONE]
