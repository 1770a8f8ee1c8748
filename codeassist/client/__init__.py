"""The one way the rest of codeassist calls a model, and holds or inspects the daemon.

`client_from_settings(settings)` gives a ModelClient for `[model] endpoint` (our daemon over its
Unix socket, started on demand, or an OpenAI-compatible server). A language server holds the
daemon with `hold_daemon(settings)` for as long as it runs; `daemon_status(settings)` reads its
state (loading progress included) without starting anything.
"""

from codeassist.client.daemon_status import DaemonStatus, daemon_status
from codeassist.client.errors import (
    ModelBusy,
    ModelRequestError,
    ModelStreamClosed,
    ModelTimeout,
    ModelUnavailable,
)
from codeassist.client.factory import client_from_settings
from codeassist.client.lease import Lease, hold_daemon
from codeassist.client.model_client import Endpoint, ModelClient
from codeassist.client.results import ChatResult, CompletionResult, Usage

__all__ = [
    "ChatResult",
    "CompletionResult",
    "DaemonStatus",
    "Endpoint",
    "Lease",
    "ModelBusy",
    "ModelClient",
    "ModelRequestError",
    "ModelStreamClosed",
    "ModelTimeout",
    "ModelUnavailable",
    "Usage",
    "client_from_settings",
    "daemon_status",
    "hold_daemon",
]
