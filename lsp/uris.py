"""Document URIs -> file paths, normalized so that `..` cannot hide where a file is."""

from __future__ import annotations

import os
from pathlib import Path

from pygls.uris import to_fs_path

NOT_A_FILE = "not a file on disk"  # the confinement reason of untitled: and other schemes


def uri_path(uri: str) -> Path | None:
    """The normalized file path of a file: URI (None for other schemes, e.g. untitled:).

    `..` segments are resolved lexically, so a URI cannot name a file outside a folder while
    looking as if it were inside it.
    """
    if not isinstance(uri, str) or not uri.startswith("file:"):
        return None
    try:
        path = to_fs_path(uri)
    except Exception:  # a malformed URI is no path
        return None
    if not path or "\0" in path:
        return None
    return Path(os.path.normpath(path))
