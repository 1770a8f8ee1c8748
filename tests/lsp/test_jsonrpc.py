"""Framing and JSON-RPC checks: every malformed input is reported, the stream stays in step."""

from __future__ import annotations

import json

from lsp.jsonrpc.framing import Broken, Frame, Framer
from lsp.jsonrpc.messages import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    decode,
    find_id,
    id_in,
)


def frame(obj: object, *, length_delta: int = 0, lf: bool = False) -> bytes:
    body = json.dumps(obj).encode()
    eol = b"\n" if lf else b"\r\n"
    return b"Content-Length: " + str(len(body) + length_delta).encode() + eol + eol + body


def request(msg_id: int, method: str = "shutdown") -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method}


def bodies(events) -> list[dict]:
    return [json.loads(e.body) for e in events if isinstance(e, Frame)]


def test_frames_split_anywhere_come_out_whole():
    data = frame(request(1)) + frame(request(2)) + frame(request(3))
    for size in (1, 2, 7, len(data)):
        framer = Framer()
        events = []
        for start in range(0, len(data), size):
            events += framer.feed(data[start : start + size])
        assert [b["id"] for b in bodies(events)] == [1, 2, 3]
        assert not framer.pending()


def test_lf_only_headers_case_and_content_type_are_accepted():
    data = frame(request(1), lf=True)
    data += (
        b"content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:"
        + str(len(json.dumps(request(2)))).encode()
        + b"\r\n\r\n"
        + json.dumps(request(2)).encode()
    )
    assert [b["id"] for b in bodies(Framer().feed(data))] == [1, 2]


def test_garbage_and_unframed_json_are_skipped_up_to_the_next_header():
    unframed = json.dumps(request(7)).encode() + b"\r\n"
    events = Framer().feed(b"hello\r\n" + unframed + frame(request(8)))
    (broken,) = [e for e in events if isinstance(e, Broken)]
    assert "skipped" in broken.reason
    assert id_in(broken.head) == 7  # the unframed request can still be answered
    assert [b["id"] for b in bodies(events)] == [8]


def test_a_header_without_content_length_skips_its_body():
    body = json.dumps(request(5)).encode()
    data = b"Content-Type: application/json\r\n\r\n" + body + frame(request(6))
    events = Framer().feed(data)
    (broken,) = [e for e in events if isinstance(e, Broken)]
    assert "no Content-Length" in broken.reason and id_in(broken.head) == 5
    assert [b["id"] for b in bodies(events)] == [6]


def test_too_short_a_length_gives_a_truncated_body_then_resynchronises():
    events = Framer().feed(frame(request(1), length_delta=-5) + frame(request(2)))
    frames = [e for e in events if isinstance(e, Frame)]
    assert find_id(frames[0].body.decode()) == 1  # truncated, but the id is readable
    assert json.loads(frames[-1].body)["id"] == 2


def test_too_long_a_length_is_noticed_at_the_next_header_or_a_pause():
    framer = Framer()
    events = framer.feed(frame(request(1), length_delta=40) + frame(request(2)))
    (broken,) = [e for e in events if isinstance(e, Broken)]
    assert "larger than the message" in broken.reason and id_in(broken.head) == 1
    assert [b["id"] for b in bodies(events)] == [2]

    # Alone, the client waits for the answer: a pause settles it.
    framer = Framer()
    assert framer.feed(frame(request(3), length_delta=40)) == []
    assert framer.pending()
    (broken,) = framer.stalled()
    assert id_in(broken.head) == 3
    assert bodies(framer.feed(frame(request(4)))) == [request(4)]


def test_an_oversize_message_is_discarded_without_holding_it():
    framer = Framer(max_message=1000)
    big = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "x", "params": {"t": "a" * 5000}})
    events = framer.feed(f"Content-Length: {len(big)}\r\n\r\n".encode() + big.encode())
    events += framer.feed(frame(request(10)))
    (broken,) = [e for e in events if isinstance(e, Broken)]
    assert "larger than the 1000-byte limit" in broken.reason and id_in(broken.head) == 9
    assert [b["id"] for b in bodies(events)] == [10]
    assert len(framer._buf) < 100  # noqa: SLF001

    # A length no body will ever reach: answered at the pause, then the next header resyncs.
    framer = Framer()
    events = framer.feed(b"Content-Length: 99999999999\r\n\r\n" + json.dumps(request(11)).encode())
    events += framer.stalled()
    events += framer.feed(frame(request(12)))
    assert [id_in(e.head) for e in events if isinstance(e, Broken)] == [11]
    assert [b["id"] for b in bodies(events)] == [12]


def test_find_id_reads_broken_and_truncated_objects():
    assert find_id('{"jsonrpc": "2.0", "id": 4, "method": "x", "params": {"a": [1, 2') == 4
    assert find_id('{"params": {"id": 99}, "id": "s-1"}') == "s-1"
    assert find_id('{"params": {"id": 99}') is None  # a nested id is not the request's
    assert find_id('{"id": 1.5}') is None
    assert find_id('{"id": true}') is None
    assert find_id("[1, 2]") is None


def test_decode_answers_every_malformed_request_once():
    def replies(body: bytes):
        return [(r.id, r.code) for r in decode(body).replies]

    assert replies(b'{"jsonrpc": "2.0", "id": 1, "method": "x"') == [(1, PARSE_ERROR)]
    assert replies(b'{"jsonrpc": "2.0", "id": 2, "method": "\xff"}') == [(2, PARSE_ERROR)]
    assert replies(b'{"jsonrpc": "1.0", "id": 3, "method": "x"}') == [(3, INVALID_REQUEST)]
    assert replies(b'{"jsonrpc": "2.0", "id": 1.5, "method": "x"}') == [(None, INVALID_REQUEST)]
    assert replies(b'{"jsonrpc": "2.0", "id": 4, "method": 5}') == [(4, INVALID_REQUEST)]
    assert replies(b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": 3}') == [
        (5, INVALID_PARAMS)
    ]
    batch = json.dumps([request(6), request(7), {"jsonrpc": "2.0", "method": "n"}]).encode()
    assert replies(batch) == [(6, INVALID_REQUEST), (7, INVALID_REQUEST)]
    assert replies(b"[]") == [(None, INVALID_REQUEST)]
    assert replies(b"42") == [(None, INVALID_REQUEST)]
    assert replies(b'{"jsonrpc": "2.0", "id": 8}') == [(8, INVALID_REQUEST)]
    # Notifications never get replies, even broken ones.
    assert replies(b'{"jsonrpc": "1.0", "method": "x"}') == []
    # A request without params is valid: params default to null.
    (message,) = decode(json.dumps(request(9)).encode()).messages
    assert message["params"] is None
