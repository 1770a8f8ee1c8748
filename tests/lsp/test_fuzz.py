"""A bounded fuzz of the real server over stdio: every request gets exactly one well-formed reply.

Raw bytes go to `codeassist lsp` (malformed frames, malformed requests, odd documents, URIs
outside the workspace and secrets, storms); after each case a valid request must be served
within 1 s. The model endpoint is a closed loopback port, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.uris import from_fs_path

from tests.helpers.environment import clean_env
from tests.helpers.lsp_client import SERVER_COMMAND

DOWN = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
PROBE_S = 1.0
NULL_ID_CODES = {-32700, -32600}


class RawClient:
    """Writes bytes to the server; reads its frames strictly on a thread."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [*SERVER_COMMAND, "--log-file", str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.replies: dict[Any, list[dict[str, Any]]] = {}
        self.null_replies: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.sent: list[Any] = []
        self._next = 1000
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                self.problems.append("a frame without Content-Length")
                continue
            self.messages.put(json.loads(out.read(length)))

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict[str, Any], *, lf: bool = False, delta: int = 0) -> None:
        body = json.dumps(message).encode()
        eol = b"\n" if lf else b"\r\n"
        self.write(b"Content-Length: %d%s%s" % (len(body) + delta, eol, eol) + body)

    def new_id(self) -> int:
        self._next += 1
        self.sent.append(self._next)
        return self._next

    def request(self, method: str, params: Any = None, **frame: Any) -> int:
        msg_id = self.new_id()
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message, **frame)
        return msg_id

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def pump(self, timeout: float) -> None:
        """Sort what arrived within timeout: replies, null-id replies, notifications."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            self._check_shape(message)
            if "method" in message and "id" in message:  # a request from the server
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.notes.append(message)
            elif message.get("id") is None:
                self.null_replies.append(message)
            else:
                self.replies.setdefault(message["id"], []).append(message)
            if time.monotonic() > deadline:
                return

    def wait_reply(self, msg_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while msg_id not in self.replies and time.monotonic() < deadline:
            self.pump(0.05)
        assert msg_id in self.replies, f"no reply to {msg_id} in {timeout} s"
        return self.replies[msg_id][0]

    def error_of(self, msg_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        reply = self.wait_reply(msg_id, timeout)
        assert "error" in reply, reply
        return reply["error"]

    def probe(self) -> float:
        """A valid request; how long its reply took (must stay under PROBE_S)."""
        started = time.monotonic()
        reply = self.wait_reply(self.request("codeassist/completionStats", {}), timeout=5)
        assert "result" in reply, reply
        return time.monotonic() - started

    def _check_shape(self, message: dict[str, Any]) -> None:
        if message.get("jsonrpc") != "2.0":
            self.problems.append(f"no jsonrpc 2.0: {message}")
        if "id" in message and "method" not in message:
            if ("result" in message) == ("error" in message):
                self.problems.append(f"a reply needs exactly one of result/error: {message}")
            error = message.get("error")
            if error is not None:
                text = json.dumps(error)
                if not isinstance(error.get("code"), int) or not isinstance(
                    error.get("message"), str
                ):
                    self.problems.append(f"malformed error: {message}")
                if "traceback" in text or "site-packages" in text or 'File "' in text:
                    self.problems.append(f"Python internals in an error reply: {message}")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    (root / "app.py").write_text(
        "def total(items):\n    count = 0\n    for item in items:\n        count += item\n"
        "    return count\n"
    )
    (root / ".env").write_text("API_KEY=do-not-send\n")
    (tmp_path / "outside.py").write_text("SECRET = 'outside the workspace'\n")
    return root


@pytest.fixture
def raw(workspace: Path, tmp_path: Path):
    env = clean_env({"CODEASSIST_MODEL_ENDPOINT": DOWN})
    client = RawClient(env, tmp_path / "lsp.log")
    yield client
    if client.process.poll() is None:
        client.process.kill()
    client.process.wait(10)


def doc(uri: str, text: str, version: int = 1) -> dict[str, Any]:
    return {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}}


def at(uri: str, line: int, character: int) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def test_every_request_gets_exactly_one_well_formed_reply(raw: RawClient, workspace: Path):
    started = time.monotonic()
    root_uri = from_fs_path(str(workspace))
    app = from_fs_path(str(workspace / "app.py"))
    secret = from_fs_path(str(workspace / ".env"))
    outside = from_fs_path(str(workspace.parent / "outside.py"))
    probes: list[float] = []

    # Before initialize: -32002, and the notification is dropped.
    assert raw.error_of(raw.request("textDocument/hover", at(app, 0, 0)))["code"] == -32002
    raw.notify("textDocument/didOpen", doc(app, "x = 1\n"))
    init = raw.request(
        "initialize",
        {
            "processId": None,
            "rootUri": root_uri,
            "capabilities": {},
            "workspaceFolders": [{"uri": root_uri, "name": "ws"}],
            "initializationOptions": {"completion": {"debounce_ms": 0}},
        },
    )
    assert "result" in raw.wait_reply(init)
    raw.notify("initialized", {})
    assert (
        raw.error_of(raw.request("initialize", {"processId": None, "capabilities": {}}))["code"]
        == -32600
    )
    raw.notify("textDocument/didOpen", doc(app, (workspace / "app.py").read_text()))
    probes.append(raw.probe())

    # -- malformed frames ------------------------------------------------------------------
    raw.write(b"hello there\r\n")
    probes.append(raw.probe())
    unframed = raw.new_id()
    raw.write(json.dumps({"jsonrpc": "2.0", "id": unframed, "method": "shutdown"}).encode())
    assert raw.error_of(unframed)["code"] == -32700
    probes.append(raw.probe())
    assert "result" in raw.wait_reply(raw.request("codeassist/completionStats", {}, lf=True))
    short = raw.request("codeassist/completionStats", {}, delta=-3)
    assert raw.error_of(short)["code"] == -32700
    probes.append(raw.probe())
    long = raw.request("codeassist/completionStats", {}, delta=+30)
    probes.append(raw.probe())  # the next message exposes the wrong length at once
    assert raw.error_of(long)["code"] == -32700
    lonely = raw.request("codeassist/completionStats", {}, delta=+30)
    assert raw.error_of(lonely, timeout=2)["code"] == -32700  # a pause settles it
    huge = raw.new_id()
    raw.write(b"Content-Length: 99999999999\r\n\r\n")
    raw.write(json.dumps({"jsonrpc": "2.0", "id": huge, "method": "shutdown"}).encode())
    error = raw.error_of(huge, timeout=3)
    assert "limit" in error["message"]
    probes.append(raw.probe())
    raw.write(b"Content-Length: lots\r\n\r\n{}")
    raw.write(b"X-Custom: 1\r\n\r\n")
    probes.append(raw.probe())

    # -- malformed requests --------------------------------------------------------------------
    def raw_body(body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        raw.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)

    no_params = raw.request("textDocument/codeAction")
    assert raw.error_of(no_params)["code"] == -32602
    assert "result" in raw.wait_reply(raw.request("codeassist/completionStats"))
    batch = [raw.new_id(), raw.new_id()]
    raw_body(
        json.dumps([{"jsonrpc": "2.0", "id": i, "method": "shutdown"} for i in batch]).encode()
    )
    assert [raw.error_of(i)["code"] for i in batch] == [-32600, -32600]
    bad_version = raw.new_id()
    raw_body(json.dumps({"jsonrpc": "1.0", "id": bad_version, "method": "shutdown"}).encode())
    assert raw.error_of(bad_version)["code"] == -32600
    nulls_before = len(raw.null_replies)
    for odd_id in (1.5, True, {"a": 1}, None):
        raw_body(json.dumps({"jsonrpc": "2.0", "id": odd_id, "method": "shutdown"}))
    utf8 = raw.new_id()
    raw_body(b'{"jsonrpc": "2.0", "id": %d, "method": "x\xff\xfe"}' % utf8)
    assert raw.error_of(utf8)["code"] == -32700
    truncated = raw.new_id()
    raw_body(b'{"jsonrpc": "2.0", "id": %d, "method": "textDocument/hov' % truncated)
    assert raw.error_of(truncated)["code"] == -32700
    assert raw.error_of(raw.request("textDocument/noSuchThing", {}))["code"] == -32601
    wrong = raw.request("textDocument/inlineCompletion", {**at(app, 0, 0), "position": "x"})
    assert raw.error_of(wrong)["code"] == -32602
    number = raw.new_id()
    raw_body(
        json.dumps({"jsonrpc": "2.0", "id": number, "method": "shutdown", "params": 3}).encode()
    )
    assert raw.error_of(number)["code"] == -32602
    raw.notify("$/noSuchNotification", {})
    raw.notify("textDocument/didOpen", {"textDocument": 7})  # broken notification: no reply
    probes.append(raw.probe())
    raw.pump(0.3)
    assert len(raw.null_replies) - nulls_before == 4  # the four ids that cannot be echoed

    # -- odd documents ---------------------------------------------------------------------
    odd = from_fs_path(str(workspace / "odd.py"))
    raw.notify("textDocument/didOpen", doc(odd, "name\ud800 = 1\nvalue = name\ud800\n"))
    completion = raw.request("textDocument/completion", at(odd, 0, 3))
    assert "result" in raw.wait_reply(completion)
    raw.wait_reply(raw.request("textDocument/rename", {**at(odd, 1, 0), "newName": "other"}))
    # A `..` URI leading out of the workspace, opened and closed between two unsaved
    # buffers: the index still gets the others (rename finds `helper` only in a buffer).
    extra = from_fs_path(str(workspace / "extra.py"))
    raw.notify("textDocument/didOpen", doc(extra, "def helper():\n    return 1\n"))
    dotted = root_uri + "/../outside.py"
    raw.notify("textDocument/didOpen", doc(dotted, "outside = 1\n"))
    raw.notify("textDocument/didClose", {"textDocument": {"uri": dotted}})
    user = from_fs_path(str(workspace / "user.py"))
    raw.notify("textDocument/didOpen", doc(user, "from extra import helper\n\nhelper()\n"))
    renamed = raw.wait_reply(
        raw.request("textDocument/rename", {**at(user, 2, 0), "newName": "assist"})
    )
    assert set(renamed["result"]["changes"]) == {extra, user}, renamed
    renamed = raw.wait_reply(raw.request("textDocument/rename", {**at(app, 1, 5), "newName": "n"}))
    assert "result" in renamed, renamed  # a local: renamed by the syntax tree, no model
    empty = raw.request("textDocument/rename", {**at(app, 1, 5), "newName": ""})
    assert "empty" in raw.error_of(empty, timeout=1)["message"]
    actions = raw.wait_reply(
        raw.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": app},
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}},
                "context": {"diagnostics": []},
            },
        )
    )["result"]
    simplify = next(a for a in actions if a["title"] == "Simplify")
    for span, says in (
        ([0, 0, 999, 0], "does not fit the document"),
        ([0, 0, 0, 3], "does not apply to the span [0, 0, 0, 3]"),
        ("everything", "span must be [start line"),
    ):
        forged = dict(simplify, data=dict(simplify["data"], span=span))
        message = raw.error_of(raw.request("codeAction/resolve", forged))["message"]
        assert says in message and "changed" not in message, message
    big = from_fs_path(str(workspace / "big.py"))
    raw.notify("textDocument/didOpen", doc(big, "x = '" + "a" * 1_000_000 + "'\n"))
    assert "result" in raw.wait_reply(raw.request("textDocument/completion", at(big, 0, 10)))
    probes.append(raw.probe())

    # -- outside the workspace, secrets, other schemes -----------------------------------------
    def review(uri: str) -> str:
        msg_id = raw.request(
            "workspace/executeCommand", {"command": "codeassist.reviewFile", "arguments": [uri]}
        )
        return raw.error_of(msg_id)["message"]

    assert "not reviewed" in review(secret) and "secret file" in review(secret)
    assert "outside the workspace" in review(outside)
    assert "outside the workspace" in review("file:///etc/hostname")
    assert "not a file" in review("untitled:Untitled-1")
    raw.notify("textDocument/didOpen", doc(secret, "API_KEY=do-not-send\n"))
    assert (
        raw.wait_reply(
            raw.request(
                "textDocument/inlineCompletion", {**at(secret, 0, 3), "context": {"triggerKind": 2}}
            )
        )["result"]
        is None
    )
    probes.append(raw.probe())

    # -- storms --------------------------------------------------------------------------------
    storm = []
    for version in range(2, 202):
        raw.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": app, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "#",
                    }
                ],
            },
        )
        if version % 4 == 0:
            storm.append(raw.request("textDocument/completion", at(app, 0, 1)))
    for n in range(100):
        raw.notify("$/cancelRequest", {"id": 10_000_000 + n})
    for msg_id in storm:
        raw.wait_reply(msg_id)
    probes.append(raw.probe())

    # -- after shutdown ------------------------------------------------------------------------
    assert raw.wait_reply(raw.request("shutdown"))["result"] is None
    assert raw.error_of(raw.request("textDocument/hover", at(app, 0, 0)))["code"] == -32600
    raw.notify("exit", None)
    assert raw.process.wait(10) == 0

    raw.pump(0.2)
    assert not raw.problems, raw.problems[:5]
    for msg_id in raw.sent:
        assert len(raw.replies.get(msg_id, [])) == 1, (msg_id, raw.replies.get(msg_id))
    assert all(r["error"]["code"] in NULL_ID_CODES for r in raw.null_replies), raw.null_replies
    assert max(probes) < PROBE_S, probes
    assert "do-not-send" not in raw.log.read_text()  # the secret reached no prompt, no log
    assert time.monotonic() - started < 60
