"""The on-disk tag cache: SQLite (WAL), keyed by content hash, shared by every repository.

A file's tags depend only on its bytes and language, so the key is (blake2b of the bytes,
language); nothing about a request or a path is in it. A second table remembers each
repository file's (size, mtime, inode) -> hash so that a warm start need not read files.
A cache that cannot be opened or read, or that another program or version wrote, is
deleted and rebuilt: it only ever holds what can be recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sqlite3
import threading
from pathlib import Path

from retrieval.tags import DefTag, FileTags, pack_terms

SCHEMA = "codeassist-retrieval-8"  # bump whenever parse output changes
_DB_NAME = "tags.sqlite"


def content_hash(data: bytes) -> str:
    """The cache key of a file's content."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_tags(tags: FileTags) -> bytes:
    """Serialize tags (marshal: builtin types only, fast to load).

    Term lists are a nested blob, left encoded until a query reads them (retrieval.tags).
    """
    defs = tags.raw_defs
    terms = tags.raw_terms
    return marshal.dumps(
        (
            tags.lang,
            tags.def_names,
            marshal.dumps([tuple(d) for d in defs]),
            tags.names,
            tags.counts,
            terms if isinstance(terms, tuple) else pack_terms(terms),
            tags.imports,
            tags.lines,
            tags.errors,
        )
    )


def decode_tags(blob: bytes) -> FileTags:
    """Inverse of encode_tags; raises ValueError on damaged data."""
    try:
        lang, def_names, defs, names, counts, terms, imports, lines, errors = marshal.loads(blob)
    except (EOFError, TypeError, ValueError) as exc:
        raise ValueError("damaged cache entry") from exc
    try:
        new = tuple.__new__
        decoded = tuple([new(DefTag, d) for d in marshal.loads(defs)])
    except (EOFError, TypeError, ValueError) as exc:
        raise ValueError("damaged cache entry") from exc
    return FileTags(
        lang=lang,
        def_names=def_names,
        names=names,
        counts=counts,
        imports=imports,
        lines=lines,
        errors=errors,
        raw_defs=decoded,
        raw_terms=tuple(terms),
    )


def _private_file(path: Path) -> None:
    """Create the database file owner-only (0600) in an owner-only folder (0700) we create.

    The tags name every definition of the user's code. SQLite gives its -wal and -shm files
    the database file's permissions, so they are owner-only too.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # made by an older version, or with a looser umask
    finally:
        os.close(fd)


class TagCache:
    """Content-addressed tags plus per-repository stat -> hash memory."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = (cache_dir / _DB_NAME) if cache_dir is not None else None
        self.rebuilt = False
        self._lock = threading.Lock()
        self._db = self._open()

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            db = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            _private_file(self.path)
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS tags (hash TEXT, lang TEXT, data BLOB,
                    PRIMARY KEY (hash, lang)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS stats (root TEXT, path TEXT, size INTEGER,
                    mtime INTEGER, inode INTEGER, hash TEXT, lang TEXT,
                    PRIMARY KEY (root, path)) WITHOUT ROWID;
                """
            )
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA,))
            db.commit()
        elif row[0] != SCHEMA:
            raise sqlite3.DatabaseError(f"foreign cache schema {row[0]!r}")
        return db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.Error:
            self._discard()
            return self._connect()

    def _discard(self) -> None:
        """Delete a damaged or foreign cache file (and its WAL) so it can be rebuilt."""
        self.rebuilt = True
        if self.path is None:
            return
        for suffix in ("", "-wal", "-shm"):
            p = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(OSError):
                p.unlink()

    def reset(self) -> None:
        """Throw the cache away after a read failed mid-way, and start an empty one."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._discard()
            self._db = self._connect()

    def stats_for(self, root: str) -> dict[str, tuple[int, int, int, str, str]]:
        """path -> (size, mtime_ns, inode, hash, lang) remembered for this repository."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, size, mtime, inode, hash, lang FROM stats WHERE root=?", (root,)
            ).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """Blobs for the (hash, lang) keys that are cached."""
        out: dict[tuple[str, str], bytes] = {}
        with self._lock:
            cur = self._db.cursor()
            for i in range(0, len(keys), 400):
                chunk = keys[i : i + 400]
                hashes = list({h for h, _ in chunk})
                marks = ",".join("?" * len(hashes))
                for h, lang, data in cur.execute(
                    f"SELECT hash, lang, data FROM tags WHERE hash IN ({marks})", hashes
                ):
                    out[(h, lang)] = data
        return out

    def put_tags(self, rows: list[tuple[str, str, bytes]]) -> None:
        """Store (hash, lang, blob) rows."""
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", rows)
            self._db.commit()

    def put_stats(self, root: str, rows: list[tuple[str, int, int, int, str, str]]) -> None:
        """Remember (path, size, mtime_ns, inode, hash, lang) for files of a repository."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(root, *r) for r in rows],
            )
            self._db.commit()

    def drop_stats(self, root: str, paths: list[str]) -> None:
        """Forget files that are gone from a repository."""
        if not paths:
            return
        with self._lock:
            self._db.executemany(
                "DELETE FROM stats WHERE root=? AND path=?", [(root, p) for p in paths]
            )
            self._db.commit()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
