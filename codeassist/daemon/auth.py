"""The bearer token that guards the optional TCP listener (the Unix socket needs none)."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send


def write_token(path: Path) -> str:
    """A fresh random token, written to path with mode 0600."""
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token


class TcpTokenAuth:
    """ASGI middleware: requests that came in over TCP must carry `Authorization: Bearer TOKEN`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        over_tcp = bool(server) and server[1] is not None  # Unix sockets report no port
        if scope["type"] == "http" and over_tcp:
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not self._valid(given):
                body = json.dumps(
                    {
                        "error": {
                            "message": "missing or wrong bearer token; send the token from "
                            "the daemon's token file as `Authorization: Bearer TOKEN`",
                            "type": "authentication_error",
                            "param": None,
                            "code": "invalid_api_key",
                        }
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _valid(self, header: bytes) -> bool:
        """`Bearer TOKEN`, the scheme in any case (RFC 9110: schemes are case-insensitive)."""
        scheme, _, credentials = header.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        return hmac.compare_digest(credentials.strip(), self._token)
