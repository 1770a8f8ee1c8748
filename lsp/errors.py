"""How a request says no: LSP error replies that name what was wrong and what to do.

A refusal is the request's error reply and nothing else: editors show a failed request's
message themselves (VS Code as a notification or inline for rename, Neovim with vim.notify), so
a window/showMessage on top would show it twice.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcContentModified, JsonRpcException

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed


def refused(message: str) -> JsonRpcException:
    """A RequestFailed error with message (raise it from a handler)."""
    return JsonRpcException(message=message, code=REQUEST_FAILED)


def content_modified(message: str) -> JsonRpcException:
    """The document changed under the request (clients drop the answer quietly or re-ask)."""
    return JsonRpcContentModified(message=message)
