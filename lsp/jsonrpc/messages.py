"""JSON-RPC 2.0 message checks: a body -> messages to handle, or the error replies it earns.

Every request gets exactly one answer: a body that is not UTF-8 or not JSON gets -32700, a
message that is not a valid JSON-RPC request -32600 (batches are not part of LSP), params that
are neither an object nor an array -32602. A reply carries the request's id when one can be
found (even in a truncated body), else null as JSON-RPC says. Notifications never get replies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002
_MAX_ID = 2**63

Id = int | str | None


@dataclass(frozen=True)
class Reply:
    """An error reply to send: the request's id (None: null) and what was wrong."""

    id: Id
    code: int
    message: str


@dataclass
class Decoded:
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # notifications with problems: logged


def valid_id(value: Any) -> bool:
    """LSP ids are integers or strings."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_MAX_ID < value < _MAX_ID
    return isinstance(value, str)


def find_id(text: str) -> Id:
    """The id of the JSON object text starts with, read up to where text stops being JSON.

    Finds the id of a truncated or otherwise broken request as long as "id" comes before the
    break; None when there is none or it is not a valid id.
    """
    decoder = json.JSONDecoder()
    position = _skip_blanks(text, 0)
    if not text.startswith("{", position):
        return None
    position += 1
    while True:
        position = _skip_blanks(text, position)
        if not text.startswith('"', position):
            return None
        try:
            key, position = decoder.raw_decode(text, position)
            position = _skip_blanks(text, position)
            if not text.startswith(":", position):
                return None
            value, position = decoder.raw_decode(text, _skip_blanks(text, position + 1))
        except (ValueError, RecursionError):
            return None
        if key == "id":
            return value if valid_id(value) else None
        position = _skip_blanks(text, position)
        if not text.startswith(",", position):
            return None
        position += 1


def id_in(data: bytes) -> Id:
    """find_id on raw bytes (invalid UTF-8 replaced), from the first line starting an object."""
    text = data[:65536].decode("utf-8", "replace")
    start = text.find("{")
    while start >= 0:
        if start == 0 or text[start - 1] in "\r\n":
            return find_id(text[start:])
        start = text.find("{", start + 1)
    return None


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def decode(body: bytes) -> Decoded:
    """The messages in one framed body, and the replies its problems earn."""
    result = Decoded()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        result.replies.append(
            Reply(
                id_in(body),
                PARSE_ERROR,
                f"the message is not valid UTF-8 (byte {error.start}); LSP messages are UTF-8 JSON",
            )
        )
        return result
    try:
        value = json.loads(text)
    except RecursionError:
        result.replies.append(Reply(None, PARSE_ERROR, "the message nests too deeply to parse"))
        return result
    except ValueError as error:
        where = getattr(error, "msg", str(error))
        line, column = getattr(error, "lineno", 0), getattr(error, "colno", 0)
        result.replies.append(
            Reply(
                find_id(text),
                PARSE_ERROR,
                f"the message is not valid JSON ({where} at line {line} column {column})",
            )
        )
        return result
    if isinstance(value, list):
        ids = [m.get("id") for m in value if isinstance(m, dict) and valid_id(m.get("id"))]
        message = "batch messages are not part of LSP; send each request in a message of its own"
        result.replies.extend(Reply(i, INVALID_REQUEST, message) for i in ids)
        if not ids:
            result.replies.append(Reply(None, INVALID_REQUEST, message))
        return result
    checked = check(value)
    if isinstance(checked, Reply):
        result.replies.append(checked)
    elif isinstance(checked, str):
        result.dropped.append(checked)
    else:
        result.messages.append(checked)
    return result


def check(value: Any) -> dict[str, Any] | Reply | str:
    """A valid message (params defaulted to null), the reply an invalid request earns, or,
    for an invalid notification or response, the reason it is dropped.
    """
    if not isinstance(value, dict):
        return Reply(None, INVALID_REQUEST, "a message must be a JSON object")
    has_id = "id" in value
    raw_id = value.get("id")
    msg_id = raw_id if valid_id(raw_id) else None
    method = value.get("method")
    if has_id and not valid_id(raw_id):
        return Reply(
            None, INVALID_REQUEST, f"the id must be an integer or a string, not {raw_id!r}"[:200]
        )
    if value.get("jsonrpc") != "2.0":
        problem = f'"jsonrpc" must be "2.0" (got {value.get("jsonrpc")!r})'[:200]
        return Reply(msg_id, INVALID_REQUEST, problem) if has_id and "method" in value else problem
    if "method" in value:
        if not isinstance(method, str) or not method:
            problem = f'"method" must be a non-empty string, not {method!r}'[:200]
            return Reply(msg_id, INVALID_REQUEST, problem) if has_id else problem
        params = value.get("params")
        if params is not None and not isinstance(params, dict | list):
            problem = f"the params of {method} must be an object or an array"[:200]
            return Reply(msg_id, INVALID_PARAMS, problem) if has_id else problem
        value.setdefault("params", None)
        return value
    if has_id and ("result" in value or "error" in value):
        return value  # a response to one of our requests
    if has_id:
        return Reply(msg_id, INVALID_REQUEST, 'a request needs a "method"')
    return "a message with neither a method nor an id"
