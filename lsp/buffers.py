"""Reading a document: the editor's open buffer when there is one, else the file on disk."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pygls import uris
from pygls.workspace import TextDocument

from codeassist.tasks.edits import EditRefused
from codeassist.tasks.rename import Document
from lsp.errors import content_modified, refused

# JSON lets a client send a lone surrogate ("\\ud800"); Python keeps it, UTF-8 cannot encode it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """text with every lone surrogate replaced by U+FFFD.

    One code point for one (and one UTF-16 unit for one), so positions computed on the clean
    text hold for the editor's; everything downstream (parsers, tokenizers, sockets) can then
    encode it.
    """
    return _LONE_SURROGATE.sub("\ufffd", text)


def source(document: TextDocument) -> str:
    """An open document's text, ready for codeassist.tasks (see clean)."""
    return clean(document.source)


def read(session: Any, path: str) -> Document | None:
    """The text of path (with its editor version when open); None when it cannot be read."""
    document = session.server.workspace.text_documents.get(uris.from_fs_path(path) or path)
    if document is not None:
        return Document(source(document), document.version)
    try:
        return Document(Path(path).read_text(encoding="utf-8"), None)
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def reader(session: Any) -> Callable[[str], Document]:
    """read() for refactors: EditRefused naming the file when it cannot be read."""

    def read_or_refuse(path: str) -> Document:
        document = read(session, path)
        if document is None:
            raise EditRefused(f"cannot read {path} as UTF-8 text; nothing was changed.")
        return document

    return read_or_refuse


def text_of_uri(session: Any, uri: str) -> str | None:
    """The current text of uri: its open buffer, else its file (None when neither exists)."""
    document = session.document(uri)
    if document is not None:
        return source(document)
    path = uris.to_fs_path(uri) if uri.startswith("file:") else None
    found = read(session, path) if path else None
    return found.text if found else None


def open_document(session: Any, uri: Any) -> TextDocument:
    """The open document at uri, or a refusal saying it must be open."""
    if not isinstance(uri, str) or not uri:
        raise refused(f"{uri!r} is not a document URI; pass the URI of an open document.")
    document = session.document(uri)
    if document is None:
        raise refused(f"{uri} is not open in the editor; open it and try again.")
    return document


def check_version(session: Any, uri: str, version: int | None) -> TextDocument:
    """The open document, or ContentModified when it is no longer at version."""
    document = open_document(session, uri)
    if version is not None and document.version != version:
        raise content_modified(
            f"{Path(uris.to_fs_path(uri) or uri).name} changed (now version {document.version}, "
            f"the action was computed for {version}); nothing was edited. Ask for it again."
        )
    return document
