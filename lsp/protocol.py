"""pygls' protocol, plus an answer to requests whose params do not parse.

pygls 2.1 drops such a request after logging it, so the client would wait forever; here it
gets a JSON-RPC InvalidParams error that names the method.
"""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol


class CodeassistProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                answer = JsonRpcInvalidParams(
                    f"invalid params for {data['method']}: {error.__cause__ or error}; "
                    "send them as the LSP specification describes"
                )
                self._send_response(data["id"], error=answer.to_response_error())
                raise AnsweredInvalidParams(str(answer)) from error
            raise


class AnsweredInvalidParams(JsonRpcInvalidParams):
    """A malformed request that already got its error response."""
