"""The one owner of a language-server session's state: `server.session`.

Roots, settings, repository indexes, model clients, the completion service, review findings,
the code-action providers and the daemon lease all live here; features read and change them
through it and never keep their own copies. Documents themselves are pygls' (incremental sync).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from codeassist.config import Settings, find_repo_root, load_settings
from codeassist.confine import confine
from codeassist.errors import UserError
from lsp import settings as lsp_settings
from lsp.buffers import clean
from lsp.completion import CompletionService
from lsp.review.state import ReviewState
from lsp.status import Progress, Status, describe_progress
from lsp.uris import NOT_A_FILE, uri_path

logger = logging.getLogger(__name__)

SETTINGS_SOURCE = "editor settings"
EVENTS = ("open", "change", "save", "close")


@dataclass(frozen=True)
class CodeActionProvider:
    """A feature's code actions: the kinds it offers and a function listing them."""

    kinds: tuple[str, ...]
    actions: Callable[[Any, types.CodeActionParams, TextDocument], list[types.CodeAction]]


class Session:
    """Everything one language-server session knows; one instance per server."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.status = Status(server)
        self.overrides: dict[str, Any] = {}
        self._settings: dict[Path, Settings] = {}
        self._indexes: dict[Path, Any] = {}  # root -> RepoIndex, or None when it failed
        self._indexing: dict[Path, asyncio.Task[Any]] = {}
        self._clients: dict[tuple[str, ...], Any] = {}
        self._dirty: dict[str, bool] = {}  # uri -> open (True) / closed (False), not yet indexed
        # Index work runs on one thread: RepoIndex is used from one thread at a time.
        self.index_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ca-index")
        self.listeners: dict[str, list[Callable[[str], Any]]] = {e: [] for e in EVENTS}
        self.code_actions: list[CodeActionProvider] = []
        self.completions = CompletionService(self)
        self.review = ReviewState()
        self.lease: Any = None  # the daemon keep-alive lease while the editor is open
        self._lease_key: tuple[str, str] | None = None
        self._confined: dict[str, str | None] = {}  # uri -> confinement(uri), until it reopens

    # -- documents ---------------------------------------------------------------------
    def document(self, uri: str) -> TextDocument | None:
        """An open document (None if the editor has not opened it: never read from disk)."""
        return self.server.workspace.text_documents.get(unquote(uri))

    @property
    def position_encoding(self) -> str:
        return self.server.workspace.position_encoding

    def on(self, event: str, callback: Callable[[str], Any]) -> None:
        """Call callback(uri) after a document is opened/changed/saved/closed."""
        self.listeners[event].append(callback)

    def emit(self, event: str, uri: str) -> None:
        self._dirty[uri] = event != "close"
        if event in ("open", "close"):
            self._confined.pop(uri, None)
        for callback in self.listeners[event]:
            try:
                callback(uri)
            except Exception:  # one feature's bug must not break the others
                logger.exception("%s listener failed for %s", event, uri)

    # -- roots -------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        """Workspace folders (multi-root), else the root URI, as paths."""
        roots = []
        for folder in self.server.workspace.folders.values():
            path = uri_path(folder.uri)
            if path is not None:
                roots.append(path)
        root_path = self.server.workspace.root_path
        if not roots and root_path:
            roots.append(Path(os.path.normpath(root_path)))
        return roots

    def root_for(self, uri: str) -> Path:
        """The workspace folder holding uri (deepest wins), else its git root."""
        path = uri_path(uri)
        folders = self.folders()
        if path is None:
            return folders[0] if folders else Path.cwd()
        holding = [f for f in folders if path.is_relative_to(f)]
        if holding:
            return max(holding, key=lambda f: len(f.parts))
        return find_repo_root(path.parent)

    def allowed_roots(self, uri: str) -> list[Path]:
        """Where files may be read for uri's prompts: the workspace folders.

        A client that opened no folder (a single file) works in that file's repository, or
        its directory; nothing around it is indexed unless it is a git repository.
        """
        return self.folders() or [self.root_for(uri)]

    def confinement(self, uri: str) -> str | None:
        """Why uri must not reach a prompt ("secret file", "outside the workspace", "not a
        file on disk"), or None when it may. Symlinks are resolved (codeassist.confine).
        """
        if uri not in self._confined:
            if len(self._confined) > 10_000:  # a storm of odd URIs must not grow it forever
                self._confined.clear()
            path = uri_path(uri)
            reason = NOT_A_FILE if path is None else confine(path, self.allowed_roots(uri))
            self._confined[uri] = reason
        return self._confined[uri]

    def folders_changed(self) -> None:
        self._confined.clear()

    def relative_path(self, uri: str, root: Path) -> str:
        """uri as a path relative to root (the name alone for other schemes)."""
        path = uri_path(uri)
        if path is None:
            return unquote(uri.rsplit("/", 1)[-1].split(":", 1)[-1])
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()

    # -- settings ----------------------------------------------------------------------
    def set_options(self, options: Any) -> bool:
        """New editor settings; invalid ones are reported once and the old ones kept."""
        try:
            overrides = lsp_settings.to_overrides(options)
            roots = self.folders() or [None]
            for root in roots:  # validate before anything changes
                load_settings(repo=root, overrides=overrides, overrides_source=SETTINGS_SOURCE)
        except (ValueError, UserError) as error:
            self.status.show_once(
                f"settings:{error}",
                f"codeassist: editor settings ignored: {error}",
                types.MessageType.Error,
            )
            return False
        self.overrides = overrides
        self._settings.clear()
        self._clients.clear()
        if self.lease is not None:
            self.hold_daemon()  # the endpoint or socket may have changed
        return True

    def settings_for(self, root: Path) -> Settings:
        """Effective settings of a root: its config files, then the editor's settings."""
        settings = self._settings.get(root)
        if settings is None:
            try:
                settings = load_settings(
                    repo=root, overrides=self.overrides, overrides_source=SETTINGS_SOURCE
                )
            except UserError as error:
                self.status.show_once(
                    f"config:{root}", f"codeassist: {error}", types.MessageType.Error
                )
                settings = Settings()
            for warning in getattr(settings, "warnings", None) or []:
                self.status.show_once(
                    f"config-warning:{warning}", f"codeassist: {warning}", types.MessageType.Warning
                )
            self._settings[root] = settings
        return settings

    # -- model clients -----------------------------------------------------------------
    def client_for(self, settings: Settings) -> Any:
        """The model client for these settings (one per endpoint)."""
        key = (
            settings.model.endpoint,
            settings.model.path,
            settings.model.name,
            settings.model.api_key,
            settings.daemon.socket,
        )
        client = self._clients.get(key)
        if client is None:
            from codeassist.client import client_from_settings

            client = self._clients[key] = client_from_settings(settings)
        return client

    # -- the daemon --------------------------------------------------------------------
    def hold_daemon(self) -> None:
        """Keep the daemon loaded while the editor is open (a lease; nothing for endpoints
        other than the daemon), and show its loading progress as `codeassist/status`.
        """
        from codeassist.client import hold_daemon

        folders = self.folders()
        settings = self.settings_for(folders[0] if folders else Path.cwd())
        key = (settings.model.endpoint, settings.daemon.socket)
        if self.lease is not None and key == self._lease_key:
            return
        if self.lease is not None:
            self.lease.close()
        loop = asyncio.get_running_loop()

        def on_status(status: Any) -> None:  # the lease's thread
            loop.call_soon_threadsafe(self._daemon_changed, status)

        self._lease_key = key
        self.lease = hold_daemon(
            settings, holder=f"codeassist lsp (pid {os.getpid()})", on_status=on_status
        )

    def _daemon_changed(self, status: Any) -> None:
        if status.state == "loading":
            percent = round(100 * status.progress) if status.progress is not None else None
            self.status.state("model_loading", status.message, percentage=percent)
        elif status.state == "failed":
            self.status.state("error", status.message)
        else:  # ready, or not running (the next request starts it), or stopping
            self.status.state("ready", status.message)

    # -- repository indexes ------------------------------------------------------------
    def index_for(self, root: Path) -> Any:
        """The root's index when it is ready; starts building it (with $/progress) if not."""
        if root in self._indexes:
            return self._indexes[root]
        if root not in self.folders() and not (root / ".git").exists():
            return None  # a loose file's directory (say /tmp) is not a repository to index
        if root not in self._indexing and root.is_dir():
            self._indexing[root] = asyncio.ensure_future(self._build_index(root))
        return None

    async def wait_for_index(self, root: Path) -> Any:
        """The root's index once built (None if building failed)."""
        self.index_for(root)
        task = self._indexing.get(root)
        if task is not None:
            await asyncio.shield(task)
        return self._indexes.get(root)

    async def reindex(self) -> list[str]:
        """Rebuild the index of every workspace folder and known root; the roots rebuilt."""
        roots = sorted(set(self.folders()) | set(self._indexes))
        loop = asyncio.get_running_loop()
        for root in roots:
            old = self._indexes.pop(root, None)
            if old is not None:
                await loop.run_in_executor(self.index_executor, old.close)
        for root in roots:
            await self.wait_for_index(root)
        return [str(r) for r in roots]

    async def _build_index(self, root: Path) -> None:
        from codeassist.repo_index import open_index

        progress = Progress(self.server, f"codeassist: indexing {root.name}")
        await progress.begin("reading files")
        self.status.state("indexing", f"indexing {root}")
        loop = asyncio.get_running_loop()
        settings = self.settings_for(root)

        def report(*args: Any, **kwargs: Any) -> None:
            message, percent = describe_progress(*args, **kwargs)
            loop.call_soon_threadsafe(progress.report, message, percent)

        def warn(message: str) -> None:
            loop.call_soon_threadsafe(
                self.status.show_once,
                f"index-cache:{root}",
                f"codeassist: {message}",
                types.MessageType.Warning,
            )

        index = None
        try:
            index = await loop.run_in_executor(
                self.index_executor,
                lambda: open_index(root, settings, progress=report, warn=warn),
            )
        except Exception as error:  # completion still works, without repository context
            logger.exception("indexing %s failed", root)
            self.status.show_once(
                f"index:{root}",
                f"codeassist: could not index {root} ({error}); completions go on without "
                "repository context. Run `codeassist index` there to see the details.",
                types.MessageType.Warning,
            )
        finally:
            self._indexes[root] = index
            self._indexing.pop(root, None)
            progress.end("done" if index is not None else "failed")
            self.status.state("ready", "ready")

    @staticmethod
    def apply_buffer_updates(index: Any, updates: list[tuple[str, str | None]]) -> None:
        """Hand unsaved texts to the index (on the index thread only); a bad one skips alone."""
        for path, text in updates:
            try:
                index.update_buffer(path, text)
            except Exception:  # one odd file must not stop the others
                logger.exception("update_buffer failed for %s", path)

    def on_index_thread(
        self, root: Path, index: Any, job: Callable[[Any], Any]
    ) -> asyncio.Future[Any]:
        """job(index) on the index thread, after the editor's changed buffers reach the index."""
        updates = self.take_buffer_updates(root)

        def run() -> Any:
            self.apply_buffer_updates(index, updates)
            return job(index)

        return asyncio.get_running_loop().run_in_executor(self.index_executor, run)

    def submit_to_index_thread(self, job: Callable[[], Any]) -> Future[Any]:
        """job() on the index thread, from any thread (a worker waits on the result)."""
        return self.index_executor.submit(job)

    def prefetch(self, uri: str) -> None:
        """Parse a just-opened document now, on the index thread, not at its first request.

        A small query at its first line also warms retrieval's per-file state (imports,
        ranking), which otherwise makes the first completion in a file several times slower.
        """
        root = self.root_for(uri)
        index = self._indexes.get(root)
        doc = self.document(uri)
        if index is None or doc is None or self.confinement(uri) is not None:
            return
        updates = self.take_buffer_updates(root)
        path, text = self.relative_path(uri, root), clean(doc.source)

        def warm() -> None:
            self.apply_buffer_updates(index, updates)
            try:
                from retrieval.tokens import estimate_tokens

                index.context_for_position(
                    path, 1, 0, buffer=text, budget=256, count_tokens=estimate_tokens
                )
            except Exception:  # only a warm-up: the real request reports real problems
                logger.debug("retrieval warm-up failed for %s", path, exc_info=True)

        self.index_executor.submit(warm)

    def take_buffer_updates(self, root: Path) -> list[tuple[str, str | None]]:
        """(relative path, text or None when closed) of documents changed since last taken.

        Only documents inside root that may reach a prompt; the others are dropped here, so
        an odd URI can never stop the updates of the documents after it.
        """
        updates = []
        for uri, is_open in list(self._dirty.items()):
            path = uri_path(uri)
            if path is None:
                del self._dirty[uri]
                continue
            if self.confinement(uri) is not None:  # never reaches any index: forget it
                del self._dirty[uri]
                continue
            if not path.is_relative_to(root):
                continue  # another workspace folder's
            del self._dirty[uri]
            doc = self.document(uri) if is_open else None
            updates.append((self.relative_path(uri, root), clean(doc.source) if doc else None))
        return updates

    def open_buffers(self, root: Path) -> dict[str, str]:
        """Unsaved text of every open document under root that may reach a prompt."""
        buffers = {}
        for uri, doc in list(self.server.workspace.text_documents.items()):
            path = uri_path(uri)
            if path is not None and path.is_relative_to(root) and self.confinement(uri) is None:
                buffers[self.relative_path(uri, root)] = clean(doc.source)
        return buffers

    def shutdown(self) -> None:
        """Release what the session holds (the daemon lease, the index thread)."""
        lease, self.lease = self.lease, None
        self._lease_key = None
        if lease is not None:
            try:
                lease.close()
            except Exception:  # shutting down: log, never fail the shutdown reply
                logger.exception("releasing the daemon lease failed")
        self.index_executor.shutdown(wait=False, cancel_futures=True)
