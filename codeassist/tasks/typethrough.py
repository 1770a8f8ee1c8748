"""Type-through cache: typing the start of the shown suggestion is answered without the model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Shown:
    before: str  # document text before the cursor when the suggestion was made
    after: str  # document text after the cursor then
    text: str  # the suggestion


class TypeThroughCache:
    """The last suggestion per document; answers while the user types its first characters."""

    def __init__(self) -> None:
        self._entries: dict[str, Shown] = {}

    def put(self, key: str, before: str, after: str, text: str) -> None:
        if text.strip():
            self._entries[key] = Shown(before, after, text)

    def get(self, key: str, before: str, after: str) -> str | None:
        """The rest of the cached suggestion if before = cached before + a prefix of it."""
        shown = self._entries.get(key)
        if shown is None or after != shown.after or not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        if not shown.text.startswith(typed):
            return None
        rest = shown.text[len(typed) :]
        return rest if rest.strip() else None

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
