"""The daemon: one resident model served over an OpenAI-compatible HTTP API on a Unix socket.

Modules: `request` (one request's state), `scheduler` (who runs next, on the one engine
thread), `schemas` and `responses` (the OpenAI wire format), `app` (HTTP routes), `sockets`,
`auth`, `lock`, `logs` and `server` (process lifecycle), `child` (a serve subprocess for tests
and benchmarks). Starting and stopping it from outside is `codeassist.client.daemon_start`.
Nothing here imports torch at import time except through the engine loader.
"""
