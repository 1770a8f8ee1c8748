"""Reading and parsing files for the index, in worker processes when there are many."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from retrieval.cache import content_hash, encode_tags
from retrieval.files import MAX_BYTES, looks_binary, looks_minified
from retrieval.languages import language_for
from retrieval.parse import parse_source

PARALLEL_MIN_FILES = 96
_BATCH = 48


@dataclass
class ReadResult:
    """A file read for indexing: its key, or why it was skipped."""

    path: str
    hash: str = ""
    lang: str = ""
    skip: str = ""  # reason when skipped


def read_for_index(
    root: Path, path: str, max_bytes: int = MAX_BYTES
) -> tuple[ReadResult, bytes | None]:
    """Read one file and decide whether it is indexable; never raises."""
    try:
        with open(root / path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return ReadResult(path, skip="unreadable"), None
    if len(data) > max_bytes:
        return ReadResult(path, skip="too large"), None
    if looks_binary(data):
        return ReadResult(path, skip="binary"), None
    lang = language_for(path, data[:256])
    if lang is None:
        return ReadResult(path, skip="not a supported language"), None
    if looks_minified(data):
        return ReadResult(path, skip="minified"), None
    return ReadResult(path, content_hash(data), lang), data


def parse_one(data: bytes, lang: str) -> tuple[bytes | None, str]:
    """(encoded tags, "") or (None, error text) for one file's bytes."""
    try:
        return encode_tags(parse_source(data, lang)), ""
    except Exception as exc:  # a grammar failure must not stop indexing
        return None, f"{type(exc).__name__}: {exc}"


def _parse_batch(root: str, items: list[tuple[str, str]]) -> list[tuple[str, str, bytes | None]]:
    """Worker: read and parse (path, lang) items; returns (path, hash, blob or None)."""
    out = []
    base = Path(root)
    for path, lang in items:
        try:
            with open(base / path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except OSError:
            out.append((path, "", None))
            continue
        blob, _err = parse_one(data, lang)
        out.append((path, content_hash(data), blob))
    return out


def _context():
    # fork is cheapest, but unsafe once threads run (an LSP server): then spawn
    if os.name == "posix" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def parse_files(
    root: Path,
    items: list[tuple[str, str]],
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, str, bytes | None]]:
    """Parse (path, lang) items, across processes when there are enough of them."""
    # never more processes than cores (a repository's own config may ask for any number)
    cores = os.cpu_count() or 1
    workers = min(workers or 8, cores)
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        for start in range(0, len(items), _BATCH):
            batch = _parse_batch(str(root), items[start : start + _BATCH])
            if on_done:
                on_done(len(batch))
            yield from batch
        return
    batches = [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        for batch in pool.map(_parse_batch, [str(root)] * len(batches), batches):
            if on_done:
                on_done(len(batch))
            yield from batch
