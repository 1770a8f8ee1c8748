"""The daemon: one resident model served over an OpenAI-compatible HTTP API on a Unix socket.

Modules: `request` (one request's state), `policy` (who runs next: pure), `scheduler` (carries
the policy out on the tokenizer and engine threads), `schemas` and `responses` (the OpenAI wire
format), `limits` (request sizes refused before tokenizing), `request_gate` (body bounds and
the idle clock in front of the routes), `keep_alive` (when to unload), `status` (what clients
are told), `answers` (one request's JSON body or event stream), `app` (HTTP routes), `sockets`,
`auth`, `logs` and `server` (process lifecycle). Its files on disk (socket, lock, token, log)
are `codeassist.daemon_files`, shared with the clients that start it
(`codeassist.client.daemon_start`). Nothing here imports torch at import time except through
the engine loader, so the socket is bound before torch loads.
"""
