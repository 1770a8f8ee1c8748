"""The one way the rest of codeassist calls a model (see HELPERS.md "Client")."""

from codeassist.client.errors import ModelBusy, ModelRequestError, ModelTimeout, ModelUnavailable
from codeassist.client.factory import client_from_settings
from codeassist.client.model_client import Endpoint, ModelClient
from codeassist.client.results import ChatResult, CompletionResult, Usage

__all__ = [
    "ChatResult",
    "CompletionResult",
    "Endpoint",
    "ModelBusy",
    "ModelClient",
    "ModelRequestError",
    "ModelTimeout",
    "ModelUnavailable",
    "Usage",
    "client_from_settings",
]
