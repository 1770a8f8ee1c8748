"""TagIndex: the repository's tags in memory, kept in step with disk and editor buffers.

It knows files, tags and names; it does not rank. Ranking and packing read it through the
narrow `retrieval.view.IndexView` interface, and keep what they derive in its explicit
`caches` field, which `_invalidate` (the one place) keeps in step with edits. The public
`retrieval.RepoIndex` (retrieval/context.py) adds the two context queries to it.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import sqlite3
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from retrieval.build import parse_files, parse_one, read_for_index
from retrieval.cache import TagCache, decode_tags
from retrieval.caches import RankCaches
from retrieval.files import MAX_BYTES, is_secret, list_files, stat_file
from retrieval.imports import ModuleTable, ResolvedImports, resolve_imports
from retrieval.languages import language_for
from retrieval.model import Definition, IndexSummary, Reference
from retrieval.parse import ParsedText, parse_incremental, reference_positions
from retrieval.tags import VALUE_KINDS, FileTags

# progress(done, total, cache_hits): called while indexing
Progress = Callable[[int, int, int], None]
# files_using answers found file by file before the whole name -> files map is built
FEW_NAMES = 32


@contextlib.contextmanager
def _no_gc():
    """Bulk loads allocate ~10^6 small objects and none are garbage: skip the cycle collector.

    Afterwards they are frozen (gc.freeze): they live as long as the index, and a full
    collection that walked them all would stall a query by 50-70 ms now and then.
    """
    was = gc.isenabled()
    gc.collect()  # garbage from before is not frozen with them (the frozen are not walked)
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


class PathError(ValueError):
    """A path the index cannot answer for (outside the repository, or a line past the end)."""


class TagIndex:
    """Definitions and references of one repository, plus unsaved editor buffers.

    Not thread-safe: call it from one thread (or hold a lock around calls).
    """

    def __init__(
        self, root: Path, cache: TagCache, max_file_bytes: int = MAX_BYTES, workers: int = 0
    ) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        self.workers = workers
        self._cache = cache
        self._disk: dict[str, FileTags] = {}
        self._buffers: dict[str, tuple[str, FileTags]] = {}
        self._recent: OrderedDict[str, float] = OrderedDict()  # recently edited paths
        self._maps: _Maps | None = None
        self._texts: OrderedDict[str, list[str]] = OrderedDict()  # path -> lines (LRU)
        self._imports: dict[str, ResolvedImports] = {}
        self._keys: dict[str, tuple[str, str]] = {}  # path -> (content hash, lang)
        self._buffer_versions: dict[str, int] = {}
        self._buffer_lines: dict[str, tuple[str, list[str]]] = {}  # path -> (text, its lines)
        self._parsed: dict[str, ParsedText] = {}  # path -> buffer's last tree (incremental)
        self._counter = itertools.count(1)
        self.summary = IndexSummary()
        self.caches = RankCaches()  # ranking's memory; kept in step by _invalidate

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        root: Path | str,
        cache_dir: Path | None = None,
        progress: Progress | None = None,
        *,
        max_file_bytes: int = MAX_BYTES,
        workers: int = 0,
    ) -> TagIndex:
        """Index `root` (a directory), reusing the cache in `cache_dir` (None: memory only).

        workers: parsing processes (0: one per core); files over max_file_bytes are skipped.
        """
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise PathError(f"{root}: not a directory; pass the repository's root directory")
        index = cls(root, TagCache(cache_dir), max_file_bytes, workers)
        index.refresh(progress)
        return index

    def refresh(self, progress: Progress | None = None) -> IndexSummary:
        """Bring the index in line with the files on disk; returns what it did."""
        try:
            with _no_gc():
                return self._refresh(progress)
        except (sqlite3.Error, ValueError):
            # a cache damaged while we read it: start again from an empty cache
            self._cache.reset()
            self._disk.clear()
            summary = self._refresh(progress)
            summary.cache_rebuilt = True
            return summary

    def _refresh(self, progress: Progress | None) -> IndexSummary:
        t0 = time.perf_counter()
        s = IndexSummary(cache_rebuilt=self._cache.rebuilt)
        root_key = str(self.root)
        names = list_files(self.root)
        known = self._cache.stats_for(root_key)
        skipped: dict[str, int] = {}
        entries: dict[str, tuple[str, str]] = {}  # path -> (hash, lang)
        new_stats: list[tuple[str, int, int, int, str, str]] = []
        to_read: list[tuple[str, tuple[int, int, int]]] = []
        for name in names:
            st = stat_file(self.root / name)
            if st is None:
                skipped["not a regular file"] = skipped.get("not a regular file", 0) + 1
                continue
            if st.size > self.max_file_bytes:
                skipped["too large"] = skipped.get("too large", 0) + 1
                continue
            k = known.get(name)
            if k is not None and (k[0], k[1], k[2]) == (st.size, st.mtime_ns, st.inode):
                if k[3]:
                    entries[name] = (k[3], k[4])
                    s.unchanged += 1
                else:
                    reason = k[4] or "skipped"
                    skipped[reason] = skipped.get(reason, 0) + 1
                continue
            to_read.append((name, (st.size, st.mtime_ns, st.inode)))
        for name, st3 in to_read:
            res, _data = read_for_index(self.root, name, self.max_file_bytes)
            if res.skip:
                skipped[res.skip] = skipped.get(res.skip, 0) + 1
                new_stats.append((name, *st3, "", res.skip))
                continue
            entries[name] = (res.hash, res.lang)
            new_stats.append((name, *st3, res.hash, res.lang))

        # reuse what is already parsed (in memory, then in the cache)
        keys_needed = []
        old = self._disk
        fresh: dict[str, FileTags] = {}
        old_keys = self._keys
        for name, key in entries.items():
            if old_keys.get(name) == key and name in old:
                fresh[name] = old[name]
            else:
                keys_needed.append(key)
        blobs = self._cache.get_many(keys_needed) if keys_needed else {}
        missing: list[tuple[str, str]] = []
        total = len(entries)
        done = 0
        for name, key in entries.items():
            if name in fresh:
                done += 1
                continue
            blob = blobs.get(key)
            if blob is None:
                missing.append((name, key[1]))
                continue
            fresh[name] = decode_tags(blob)
            s.cache_hits += 1
            done += 1
        if progress:
            progress(done, total, s.cache_hits)

        new_rows: list[tuple[str, str, bytes]] = []
        counter = [done]

        def tick(n: int) -> None:
            counter[0] += n
            if progress:
                progress(counter[0], total, s.cache_hits)

        for name, h, blob in parse_files(
            self.root, missing, workers=self.workers or None, on_done=tick
        ):
            lang = entries[name][1]
            if blob is None:
                reason = "unreadable" if not h else "parser failed"
                skipped[reason] = skipped.get(reason, 0) + 1
                del entries[name]
                continue
            if h != entries[name][0]:  # changed while we indexed: keep what we parsed
                entries[name] = (h, lang)
                new_stats = [r for r in new_stats if r[0] != name]
            new_rows.append((h, lang, blob))
            fresh[name] = decode_tags(blob)
            s.parsed += 1
        self._cache.put_tags(new_rows)
        self._cache.put_stats(root_key, new_stats)
        restated = {r[0] for r in new_stats}
        gone = [p for p in known if p not in entries and p not in restated]
        self._cache.drop_stats(root_key, gone)

        self._disk = fresh
        self._keys = entries
        self._invalidate(None)
        s.files = len(fresh)
        s.definitions = sum(len(t.def_names) for t in fresh.values())
        s.parse_errors = sum(1 for t in fresh.values() if t.errors)
        s.skipped = skipped
        s.seconds = time.perf_counter() - t0
        self.summary = s
        return s

    # ---- paths, text, tags ----------------------------------------------------------------

    def relpath(self, path: str | Path) -> str:
        """Repo-relative '/'-path for an absolute or relative path inside the repository."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        p = Path(os.path.normpath(p))
        try:
            rel = p.relative_to(self.root)
        except ValueError:
            try:
                rel = p.resolve().relative_to(self.root)
            except ValueError:
                raise PathError(
                    f"{path}: outside the repository {self.root}; pass a path inside it"
                ) from None
        text = rel.as_posix()
        if text in ("", ".") or text.startswith("../"):
            raise PathError(f"{path}: not a file inside the repository {self.root}")
        return text

    def paths(self) -> list[str]:
        """Every indexed path (files on disk and buffers)."""
        return sorted(set(self._disk) | set(self._buffers))

    def tags(self, path: str) -> FileTags | None:
        """The tags of a path: its unsaved buffer when there is one, else the file on disk."""
        buf = self._buffers.get(path)
        if buf is not None:
            return buf[1]
        return self._disk.get(path)

    def lines(self, path: str) -> list[str]:
        """The lines of a path (buffer first), without line endings; [] when unreadable."""
        buf = self._buffers.get(path)
        if buf is not None:
            got = self._buffer_lines.get(path)
            if got is None or got[0] is not buf[0]:
                got = self._buffer_lines[path] = (buf[0], buf[0].split("\n"))
            return got[1]
        cached = self._texts.get(path)
        if cached is not None:
            self._texts.move_to_end(path)
            return cached
        if is_secret(path):
            return []  # never read, whatever asks
        try:
            with open(self.root / path, "rb") as fh:
                data = fh.read(self.max_file_bytes + 1)  # a file that grew: no more than this
        except OSError:
            return []
        lines = data.decode("utf-8", "replace").split("\n")
        self._texts[path] = lines
        if len(self._texts) > 512:
            self._texts.popitem(last=False)
        return lines

    def buffer_text(self, path: str) -> str | None:
        """The unsaved text tracked for `path`, or None."""
        buf = self._buffers.get(path)
        return buf[0] if buf is not None else None

    def version(self, path: str) -> object:
        """Changes whenever the text of `path` does (buffer identity or content hash)."""
        if path in self._buffers:
            return ("buffer", self._buffer_versions.get(path, 0))
        key = self._keys.get(path)
        return key[0] if key else None

    # ---- incremental updates --------------------------------------------------------------

    def update_buffer(self, path: str, text: str | None) -> None:
        """Track unsaved editor text for `path` (None drops it and falls back to the disk)."""
        rel = self.relpath(path)
        old = self.tags(rel)
        if text is None:
            self._buffer_lines.pop(rel, None)
            self._parsed.pop(rel, None)
            if self._buffers.pop(rel, None) is None:
                return
        else:
            lang = self._lang_of(rel, text)
            if lang is None or is_secret(rel):
                return
            data = text.encode("utf-8", "surrogatepass")
            if len(data) > self.max_file_bytes:
                tags = FileTags(lang=lang)
                self._parsed.pop(rel, None)
            else:
                tags, self._parsed[rel] = parse_incremental(data, lang, self._parsed.get(rel))
            self._buffers[rel] = (text, tags)
            self._buffer_versions[rel] = next(self._counter)
        self._touch(rel)
        self._invalidate(rel, old, self.tags(rel))

    def update_file(self, path: str) -> None:
        """Re-read one file from disk after it changed (or vanished)."""
        rel = self.relpath(path)
        old = self.tags(rel)
        res, data = read_for_index(self.root, rel, self.max_file_bytes)
        if data is None:
            self._disk.pop(rel, None)
            self._keys.pop(rel, None)
        else:
            self._keys[rel] = (res.hash, res.lang)
            blobs = self._cache.get_many([(res.hash, res.lang)])
            blob = blobs.get((res.hash, res.lang))
            if blob is None:
                blob, _err = parse_one(data, res.lang)
                if blob is not None:
                    self._cache.put_tags([(res.hash, res.lang, blob)])
            if blob is None:
                self._disk.pop(rel, None)
            else:
                self._disk[rel] = decode_tags(blob)
                st = stat_file(self.root / rel)
                if st is not None:
                    self._cache.put_stats(
                        str(self.root),
                        [(rel, st.size, st.mtime_ns, st.inode, res.hash, res.lang)],
                    )
        self._touch(rel)
        self._texts.pop(rel, None)
        if rel not in self._buffers:
            self._invalidate(rel, old, self.tags(rel))

    def _lang_of(self, rel: str, text: str) -> str | None:
        t = self._disk.get(rel)
        if t is not None:
            return t.lang
        return language_for(rel, text[:256].encode("utf-8", "replace"))

    def _touch(self, rel: str) -> None:
        self._recent[rel] = time.monotonic()
        self._recent.move_to_end(rel)
        while len(self._recent) > 32:
            self._recent.popitem(last=False)

    def _invalidate(
        self, rel: str | None, old: FileTags | None = None, new: FileTags | None = None
    ) -> None:
        """The one place derived data is dropped: after a refresh (rel None) or one file's
        tags went from old to new (None: absent)."""
        if rel is None:
            self._maps = None
            self._imports.clear()
            self._texts.clear()
            self.caches.clear()
            return
        self._imports.pop(rel, None)
        # the file's own out-edges change; other files' edges to it refresh on refresh()
        self.caches.forget_file(rel)
        if self._maps is None:
            return
        if old is not None and new is not None:
            changed = self._maps.replace(rel, old, new)
        else:
            changed = self._maps.remove(rel, old) if old is not None else []
            if new is not None:
                changed += self._maps.add(rel, new)
        self.caches.forget_names(changed)

    def recent_paths(self) -> list[str]:
        """Recently edited paths (buffers and files), oldest first."""
        return list(self._recent)

    def forget_recent(self) -> None:
        """Forget which files were edited recently (a new session; eval cases are apart)."""
        if self._recent:
            self._recent.clear()
            self.caches.pagerank.clear()

    # ---- lookups --------------------------------------------------------------------------

    def maps(self) -> _Maps:
        """Name -> definitions and name -> referencing files, built on first use (internal:
        other modules use the lookups below)."""
        if self._maps is None:
            with _no_gc():
                maps = _Maps(self.paths(), self.tags)
                for path in sorted(maps.table.paths):  # a set: sorted, so lookups are stable
                    t = self.tags(path)
                    if t is not None:
                        maps.add(path, t)
            self._maps = maps
        return self._maps

    def definition_at(self, path: str, index: int) -> Definition:
        """The public Definition for def number `index` of `path`."""
        t = self.tags(path)
        assert t is not None
        d = t.defs[index]
        scope = t.def_names[d.parent] if d.parent >= 0 else None
        return Definition(path, d.name, d.kind, d.start, d.end, d.sig_end, d.col, scope)

    def definitions(self, name: str) -> list[Definition]:
        """Every definition called `name` in the repository (buffers included)."""
        return [self.definition_at(p, i) for p, i in self.maps().defs.get(name, ())]

    def defs_named(self, name: str) -> list[tuple[str, int]]:
        """Every definition called `name`: (path, index into that file's defs)."""
        return self.maps().defs.get(name, [])

    def defined_names(self) -> Iterable[str]:
        """Every name the repository defines (a live view: do not edit while iterating)."""
        return self.maps().defs.keys()

    def def_files(self, name: str) -> frozenset[str]:
        """The files that define `name`."""
        return self.maps().def_files(name)

    def doc_freq(self, name: str) -> int:
        """In how many files `name` occurs (as an identifier, comments and strings included)."""
        return self.maps().df.get(name, 0)

    def file_count(self) -> int:
        """How many files are indexed (buffers of new files included)."""
        return self.maps().files

    def files_using(self, name: str) -> dict[str, int]:
        """path -> occurrences of `name`, for every file that uses it."""
        return self.maps().files_using(name)

    def references(self, name: str) -> list[Reference]:
        """Every use of identifier `name` in code (not strings or comments), for rename."""
        out: list[Reference] = []
        for path in sorted(self.maps().refs.get(name, {})):
            t = self.tags(path)
            if t is None:
                continue
            buf = self._buffers.get(path)
            if buf is not None:
                data = buf[0].encode("utf-8", "surrogatepass")
            else:
                try:
                    data = (self.root / path).read_bytes()
                except OSError:
                    continue
            for line, col, end in reference_positions(data, t.lang, name):
                out.append(Reference(path, line, col, end))
        return out

    def enclosing_definition(self, path: str, line: int) -> Definition | None:
        """The innermost function/class/... whose span holds `line` (1-based), or None."""
        rel = self.relpath(path)
        t = self.tags(rel)
        if t is None:
            return None
        best = -1
        for i, d in enumerate(t.defs):
            if d.start <= line <= d.end and d.kind not in VALUE_KINDS:
                best = i  # defs are sorted by start, so the last hit is the innermost
            elif d.start > line:
                break
        return self.definition_at(rel, best) if best >= 0 else None

    def imports_of(self, path: str) -> ResolvedImports:
        """The repository files and names that `path` imports (resolved statically)."""
        got = self._imports.get(path)
        if got is None:
            t = self.tags(path)
            got = (
                resolve_imports(path, t.lang, t.imports, self.maps().table)
                if t is not None
                else ResolvedImports()
            )
            self._imports[path] = got
        return got

    def close(self) -> None:
        """Release the cache database."""
        self._cache.close()


class _Maps:
    """Inverted indexes over every file's tags, updated file by file.

    `defs` and `df` (in how many files each name occurs) are built eagerly; `refs` (name ->
    files using it, for rename and callers) only when first asked for. add/replace/remove
    return the names whose definitions changed (the index drops what depends on them).
    """

    def __init__(self, paths: list[str], tags_of: Callable[[str], FileTags | None]) -> None:
        self.defs: dict[str, list[tuple[str, int]]] = {}
        self.df: Counter[str] = Counter()
        self.files = 0
        self.table = ModuleTable(paths)
        # weak: the index holds its maps, so a strong reference back would be a cycle, and
        # frozen objects (see _no_gc) in a cycle are never freed
        self._tags_of = weakref.WeakMethod(tags_of)
        self._refs: dict[str, dict[str, int]] | None = None
        self._uses: dict[str, dict[str, int]] = {}  # files_using's answers before refs exists
        self._def_files: dict[str, frozenset[str]] = {}

    def def_files(self, name: str) -> frozenset[str]:
        """The files that define `name` (cached)."""
        got = self._def_files.get(name)
        if got is None:
            got = self._def_files[name] = frozenset(p for p, _ in self.defs.get(name, ()))
        return got

    def files_using(self, name: str) -> dict[str, int]:
        """path -> occurrences of `name`. The first FEW_NAMES names are found file by file (a
        review asks for the handful of names it changed: ~1 ms each on django instead of
        ~170 ms to invert every file's names); past that the whole map is built once."""
        if self._refs is None and (name in self._uses or len(self._uses) < FEW_NAMES):
            got = self._uses.get(name)
            if got is None:
                got = self._uses[name] = {}
                tags_of = self._tags_of()
                for path in sorted(self.table.paths):
                    t = tags_of(path)
                    if t is not None and name in t.names:
                        got[path] = t.counts[t.names.index(name)]
            return got
        return self.refs.get(name, {})

    @property
    def refs(self) -> dict[str, dict[str, int]]:
        if self._refs is None:
            refs: dict[str, dict[str, int]] = {}
            tags_of = self._tags_of()
            for path in sorted(self.table.paths):
                t = tags_of(path)
                if t is not None:
                    for name, n in zip(t.names, t.counts, strict=False):
                        m = refs.get(name)
                        if m is None:
                            refs[name] = {path: n}
                        else:
                            m[path] = n
            self._refs = refs
        return self._refs

    def add(self, path: str, tags: FileTags) -> list[str]:
        self._uses.clear()
        self.table.add(path)
        self._add_defs(path, tags)
        self.df.update(tags.names)
        self.files += 1
        if self._refs is not None:
            for name, n in zip(tags.names, tags.counts, strict=False):
                self._refs.setdefault(name, {})[path] = n
        return tags.def_names

    def replace(self, path: str, old: FileTags, new: FileTags) -> list[str]:
        """remove(path, old) then add(path, new), touching only what the edit changed."""
        self._uses.clear()
        changed: list[str] = []
        if old.def_names != new.def_names:  # entries are (path, def index): redo this file's
            self._drop_defs(path, old)
            self._add_defs(path, new)
            changed = old.def_names + new.def_names
        if old.names != new.names:
            before, after = set(old.names), set(new.names)
            gone, came = before - after, after - before
            self.df.subtract(gone)
            self.df.update(came)
            if self._refs is not None:
                for name in gone:
                    m = self._refs.get(name)
                    if m is not None:
                        m.pop(path, None)
                        if not m:
                            del self._refs[name]
        if self._refs is not None and (old.names != new.names or old.counts != new.counts):
            for name, n in zip(new.names, new.counts, strict=False):
                self._refs.setdefault(name, {})[path] = n
        return changed

    def _drop_defs(self, path: str, tags: FileTags) -> None:
        for name in tags.def_names:
            self._def_files.pop(name, None)
        for name in tags.def_names:
            lst = self.defs.get(name)
            if lst:
                lst[:] = [e for e in lst if e[0] != path]
                if not lst:
                    del self.defs[name]

    def _add_defs(self, path: str, tags: FileTags) -> None:
        for name in tags.def_names:
            self._def_files.pop(name, None)
        defs = self.defs
        for i, name in enumerate(tags.def_names):
            lst = defs.get(name)
            if lst is None:
                defs[name] = [(path, i)]
            else:
                lst.append((path, i))

    def remove(self, path: str, tags: FileTags) -> list[str]:
        self._uses.clear()
        self._drop_defs(path, tags)
        self.df.subtract(tags.names)
        self.files -= 1
        if self._refs is not None:
            for name in tags.names:
                m = self._refs.get(name)
                if m is not None:
                    m.pop(path, None)
                    if not m:
                        del self._refs[name]
        return list(tags.def_names)
