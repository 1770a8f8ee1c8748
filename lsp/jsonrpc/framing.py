"""LSP base protocol framing: a byte stream -> message bodies, or what was wrong with the bytes.

A message is header lines (`Content-Length: N`, optionally `Content-Type`), a blank line, and N
bytes of JSON. Clients get this wrong in a few ways, and the server must stay in step with the
stream whatever arrives:

- bytes that are no header (garbage, JSON without headers) are skipped up to the next header;
- LF-only line ends are accepted, header names are case-insensitive;
- a Content-Length shorter than the message leaves a tail that is skipped like garbage; a longer
  one is noticed when a header follows a complete JSON value (a header line can never appear
  inside a JSON text: JSON strings cannot hold a raw line break), or when the stream pauses
  after one;
- a body larger than the cap is never held in memory: it is discarded as it arrives.

Pure: `Framer.feed(bytes)` returns events, `stalled()` is called when no byte came for a while.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_MESSAGE_BYTES = 64 * 2**20  # the largest body accepted (a 50 MB file opened as a document)
MAX_HEADER_BYTES = 8192
HEAD_BYTES = 64 * 1024  # the start of a broken message kept to find its request id

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER_LINE = re.compile(_TOKEN + rb"[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?")
_PARTIAL_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*(?:[ \t]*:[^\r\n]*)?\r?")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(rb"\r?\n")
# Where a header block may start again after bytes that are not a message.
_RESYNC = re.compile(rb"(?i)content-(?:length|type)[ \t]*:")
# A complete Content-Length line: never inside a JSON text (it needs a raw line break).
_LENGTH_LINE = re.compile(rb"(?i)content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n")
_BLANK = b" \t\r\n"
_LEADING_BLANKS = re.compile(rb"[ \t\r\n]*")


@dataclass(frozen=True)
class Frame:
    """One message body, framed as the protocol says."""

    body: bytes


@dataclass(frozen=True)
class Broken:
    """Bytes that were not a well-framed message.

    reason says what was wrong (for the log and the error reply); head is the start of the
    message they carried, if any, to find the id of the request to answer.
    """

    reason: str
    head: bytes = b""


Event = Frame | Broken


class Framer:
    """Splits a byte stream into Frames, reporting anything else as Broken."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._length: int | None = None  # the body being read
        self._searched = 0  # how much of that body was searched for a following header
        self._skip = 0  # bytes of an oversize body still to discard
        self._skip_reason = ""
        self._skip_head = bytearray()
        self._skip_reported = False
        self._why = ""  # why the bytes at the buffer's start are not a message

    def pending(self) -> bool:
        """Whether bytes of an unfinished message are held (a pause then means trouble)."""
        return bool(self._buf) or self._length is not None or self._skip > 0

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        return self._drain()

    def stalled(self) -> list[Event]:
        """No byte came for a while: settle what can be settled (see the module docstring)."""
        events: list[Event] = []
        if self._skip:
            events.extend(self._report_skip())
        elif self._length is not None:
            body = bytes(self._buf)
            end = _json_end(body)
            if end is not None and not body[end:].strip(_BLANK):
                events.append(
                    Broken(
                        f"Content-Length {self._length} is larger than the message "
                        f"({len(body)} bytes)",
                        body[:HEAD_BYTES],
                    )
                )
                self._buf.clear()
                self._length = None
        elif self._buf and _LEADING_BLANKS.fullmatch(self._buf) is None:
            events.append(Broken(self._garbage_reason(len(self._buf)), bytes(self._buf)))
            self._buf.clear()
            self._why = ""
        events.extend(self._drain())
        return events

    def eof(self) -> list[Event]:
        """The stream ended: report a message left unfinished."""
        events = self.stalled()
        if self._length is not None and self._buf:
            events.append(
                Broken(
                    f"the stream ended {self._length - len(self._buf)} bytes before the end of "
                    f"a {self._length}-byte message",
                    bytes(self._buf[:HEAD_BYTES]),
                )
            )
        self._buf.clear()
        self._length = None
        return events

    # -- states ------------------------------------------------------------------------
    def _drain(self) -> list[Event]:
        events: list[Event] = []
        while True:
            if self._skip:
                if not self._discard(events):
                    return events
            elif self._length is not None:
                if not self._read_body(events):
                    return events
            elif not self._read_header(events):
                return events

    def _read_header(self, events: list[Event]) -> bool:
        """Parse one header block; False when more bytes are needed."""
        buf = self._buf
        start = _LEADING_BLANKS.match(buf).end()
        if start:
            del buf[:start]
        if not buf:
            return False
        end = _HEADER_END.search(buf, 0, MAX_HEADER_BYTES + 4)
        if end is None:
            if len(buf) <= MAX_HEADER_BYTES and _could_be_headers(buf):
                return False
            return self._skip_garbage(events)
        lines = _LINE_BREAK.split(bytes(buf[: end.start()]))
        fields: dict[bytes, bytes] = {}
        for line in lines:
            match = _HEADER_LINE.fullmatch(line)
            if match is None:
                return self._skip_garbage(events)
            fields[line.split(b":", 1)[0].strip().lower()] = match.group(1)
        del buf[: end.end()]
        length = fields.get(b"content-length")
        if length is None or not length.isdigit():
            problem = "no Content-Length" if length is None else f"Content-Length {length!r}"
            self._why = f"a header block with {problem} (it must give the body's size in bytes)"
            return True  # the body that follows is skipped up to the next header
        size = int(length)
        if size > self.max_message:
            self._skip = size
            self._skip_reason = (
                f"a {size}-byte message is larger than the {self.max_message}-byte limit"
            )
            self._skip_head.clear()
            self._skip_reported = False
            return True
        self._length = size
        self._searched = 0
        return True

    def _read_body(self, events: list[Event]) -> bool:
        """Take one body when it is complete (or found to be shorter than announced)."""
        length = self._length
        assert length is not None
        buf = self._buf
        # Only the bytes not searched yet: a big body arrives in many pieces.
        limit = min(len(buf), length + 64)
        found = _LENGTH_LINE.search(buf, max(0, self._searched - 64), limit)
        self._searched = limit
        if found is not None and found.start() < length:
            end = _json_end(bytes(memoryview(buf)[: found.start()]))
            if end is not None and _only_headers(bytes(memoryview(buf)[end : found.start()])):
                events.append(
                    Broken(
                        f"Content-Length {length} is larger than the message ({end} bytes)",
                        bytes(memoryview(buf)[: min(end, HEAD_BYTES)]),
                    )
                )
                del buf[:end]
                self._length = None
                return True
        if len(buf) < length:
            return False
        events.append(Frame(bytes(memoryview(buf)[:length])))
        del buf[:length]
        self._length = None
        return True

    def _discard(self, events: list[Event]) -> bool:
        """Drop bytes of an oversize body; resynchronise if a header turns up among them."""
        found = _LENGTH_LINE.search(self._buf, 0, min(self._skip, len(self._buf)) + 64)
        if found is not None and found.start() < self._skip:
            take = found.start()
        else:
            found = None
            take = self._skip
            if take > len(self._buf):  # keep a tail: a header line may be split between reads
                take = max(0, len(self._buf) - 63)
            if not take:
                return False
        chunk = bytes(self._buf[:take])
        if len(self._skip_head) < HEAD_BYTES:
            self._skip_head += chunk[: HEAD_BYTES - len(self._skip_head)]
        del self._buf[:take]
        self._skip = 0 if found is not None else self._skip - take
        if len(self._skip_head) >= HEAD_BYTES or not self._skip:
            events.extend(self._report_skip())
        if not self._skip:
            self._skip_head.clear()
        return True

    def _report_skip(self) -> list[Event]:
        if self._skip_reported:
            return []
        self._skip_reported = True
        held = min(self._skip, len(self._buf), HEAD_BYTES - len(self._skip_head))
        head = bytes(self._skip_head) + bytes(self._buf[: max(0, held)])
        return [Broken(self._skip_reason + "; it was discarded", head)]

    def _skip_garbage(self, events: list[Event]) -> bool:
        """Skip bytes that are no header, up to where a header may start; False to wait."""
        found = _RESYNC.search(self._buf, 1)
        if found is None:
            if len(self._buf) > self.max_message:  # never hold an endless stream of garbage
                events.append(Broken(self._garbage_reason(len(self._buf)), bytes(self._buf)))
                self._buf.clear()
                self._why = ""
            return False
        garbage = bytes(self._buf[: found.start()])
        del self._buf[: found.start()]
        if garbage.strip(_BLANK):
            events.append(Broken(self._garbage_reason(len(garbage)), garbage[:HEAD_BYTES]))
        self._why = ""
        return True

    def _garbage_reason(self, size: int) -> str:
        what = self._why or "bytes without an LSP header (Content-Length: N, a blank line)"
        return f"{size} bytes skipped: {what}"


def _could_be_headers(buf: bytearray) -> bool:
    """Whether buf may be the start of a header block still arriving."""
    lines = _LINE_BREAK.split(bytes(buf))
    if any(_HEADER_LINE.fullmatch(line) is None for line in lines[:-1]):
        return False
    return _PARTIAL_LINE.fullmatch(lines[-1]) is not None


def _json_end(data: bytes) -> int | None:
    """Where the JSON value at the start of data ends (None: not a complete JSON value).

    Latin-1 keeps one character per byte, so the offset is a byte offset; the JSON structure
    is ASCII, and what a string holds does not matter for finding its end.
    """
    text = data.decode("latin-1")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return end


def _only_headers(data: bytes) -> bool:
    """Whether data holds nothing but blanks and header lines."""
    return all(
        _HEADER_LINE.fullmatch(line) for line in _LINE_BREAK.split(data.strip(_BLANK)) if line
    )
