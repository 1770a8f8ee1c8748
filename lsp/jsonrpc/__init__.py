"""The JSON-RPC layer under pygls: framing, message checks, and the read loop."""
