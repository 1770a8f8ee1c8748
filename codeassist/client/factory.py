"""client_from_settings: our daemon over its socket, or an OpenAI-compatible base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from codeassist.client.daemon_start import ensure_daemon
from codeassist.client.model_client import Endpoint, ModelClient
from codeassist.config import Settings, check_endpoint_allowed, uses_daemon
from codeassist.daemon_files import log_file, socket_path_of
from codeassist.errors import UserError


def client_from_settings(settings: Settings) -> ModelClient:
    """The model client that [model] endpoint names ("daemon" or an http(s) base URL)."""
    endpoint = settings.model.endpoint.strip()
    if uses_daemon(settings):
        socket_path = socket_path_of(settings)
        log = log_file()
        target = Endpoint(
            base_url="http://codeassist/v1",
            label=f"codeassist daemon at {socket_path}",
            fix=(
                f"start it with `codeassist daemon start` (or check its log {log}); "
                "[daemon] socket sets the path."
            ),
            socket_path=str(socket_path),
            model=settings.model.name or "codeassist",
            is_daemon=True,
        )
        return ModelClient(target, ensure_started=lambda: ensure_daemon(settings))
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(
            f"[model] endpoint {endpoint!r} ({settings.source_of('model.endpoint')}) must be "
            "'daemon' or an http(s) base URL such as http://127.0.0.1:8080/v1."
        )
    check_endpoint_allowed(settings)  # nothing leaves the machine without the user's consent
    base = endpoint.rstrip("/")
    if parts.path in ("", "/"):
        base += "/v1"
    source, env = settings.source_of("model.endpoint"), "env CODEASSIST_MODEL_ENDPOINT"
    where = source if source == env else f"{source}; {env}"
    target = Endpoint(
        base_url=base,
        label=f"model endpoint {base}",
        fix=f"start that server, or fix [model] endpoint ({where}).",
        api_key=settings.model.api_key,
        model=settings.model.name,
    )
    from codeassist.token_count import token_counter  # retrieval's estimator: load on use

    return ModelClient(target, count_tokens=token_counter(settings))
