"""Reading server-sent events: `data:` lines to JSON objects (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = object()


def iter_events(lines: Iterable[str]) -> Iterator[dict[str, Any] | object]:
    """JSON payloads of the events in lines, then DONE at `data: [DONE]`.

    Comments (`:`) and other fields are skipped; a multi-line `data:` event is joined.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                payload = "\n".join(data)
                data = []
                if payload.strip() == "[DONE]":
                    yield DONE
                    return
                yield json.loads(payload)
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        payload = "\n".join(data)
        if payload.strip() == "[DONE]":
            yield DONE
        else:
            yield json.loads(payload)
