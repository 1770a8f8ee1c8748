"""Language-server completion on a real repository, with the tiny checkpoint as the model.

Usage: python bench/lsp_completion.py REPO   (e.g. a git checkout of django 5.2.8)

Starts its own `codeassist serve` (tiny checkpoint, CPU) and `codeassist lsp`, opens files of
REPO as an editor would, waits for the index, then prints one JSON object on its last line:
- overhead_ms_p50 / overhead_ms_p95: server-side time per inlineCompletion request, from the
  handler's start to its answer, minus the model call and the debounce (the server's own
  records, codeassist/completionStats). Warm index, default prompt budget, 20 requests at the
  ends of lines in 5 large files, the first one 0.5 s after the file is opened.
  overhead_client_ms_* is the same measured by this client (request sent to answer
  received, minus the model call): it adds the JSON-RPC transport.
  overhead_prepare_ms_* is the part spent on the index thread (retrieval, prompt building).
- overhead_same_line_ms_*: the same for the 10 keystrokes below (one line: the context
  retrieved for the line is reused, so no retrieval runs).
- storm_model_calls: model calls made while 50 inlineCompletion requests, each after a typed
  character, arrive over 2 seconds on one document (default debounce). Target <= 5.
- storm_last_matches: the last request of the storm was answered for the final document
  version (the server's record: not stale/superseded, version = final version) and any
  returned item sits at the final cursor.
- computed_tokens_per_keystroke: prompt tokens the daemon computed (not taken from its prefix
  cache) per typed character, over 10 characters typed at the end of a line with a model call
  after each one (debounce 0); prompt_tokens_per_keystroke is the prompt size for comparison.
- generated_tokens_per_suggestion_*: tokens the model endpoint generated per block-mode
  suggestion (median, mean), counted by the endpoint. The endpoint is a loopback replay of what
  a good model would write: at the end of a line inside a function whose remaining body was
  deleted from the buffer, it streams that body and then the code that follows it, one token
  (of the checkpoint's tokenizer) per event, honouring stop strings and max_tokens like a real
  server, and counts what it sent until the client hung up. suggestion_body_tokens_* is the
  length of the deleted body (what the suggestion needs), suggestion_max_tokens the limit
  (before the early stop, a block suggestion ran to it: the answer holds no closing fence);
  generated_over_body_median is generated / needed per suggestion (the anchor: 1.0 stops right
  after the body), comparable across checkpoints whose tokenizers differ.

`--suggestions-only` runs just the generated-tokens measurement (no daemon, no full index wait).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from codeassist.client import client_from_settings
from codeassist.config import Settings
from codeassist.gemma4.tiny import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers.environment import clean_env  # noqa: E402 (after the path)
from tests.helpers.lsp_client import plain  # noqa: E402
from tests.helpers.openai_endpoint import (  # noqa: E402
    FakeEndpoint,
    end_events,
    start_events,
    write_event,
)
from tests.helpers.serve_process import start_serve  # noqa: E402

FILES = [
    "django/db/models/query.py",
    "django/db/models/sql/query.py",
    "django/forms/models.py",
    "django/contrib/admin/options.py",
    "django/http/request.py",
]
PER_FILE = 4
OPEN_PAUSE_S = 0.5
STORM_REQUESTS = 50
STORM_SECONDS = 2.0
KEYSTROKES = 10
ENGINE = {"quantize": "none", "device": "cpu"}
BENCH_COMPLETION = {"max_tokens": 4, "temperature": 0.0, "debounce_ms": 0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 2)


def line_ends(text: str, count: int) -> list[tuple[int, int]]:
    """count evenly spread ends of indented code lines (inside functions)."""
    lines = text.split("\n")
    candidates = [
        (n, len(line))
        for n, line in enumerate(lines)
        if line.startswith("        ") and line.strip() and not line.strip().startswith("#")
    ]
    step = max(1, len(candidates) // (count + 1))
    return [candidates[step * (i + 1)] for i in range(count)]


class Bench:
    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env
        self.client = LanguageClient("bench", "0")
        self.index_done = asyncio.Event()
        self.versions: dict[str, int] = {}

        @self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: Any) -> None:
            return None

        @self.client.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value = params.value
            kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
            if kind == "end":
                self.index_done.set()

        for method in (types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE, "codeassist/status"):
            self.client.feature(method)(lambda params: None)

    async def start(self) -> None:
        cmd = [sys.executable, "-m", "codeassist.cli.main", "lsp"]
        await self.client.start_io(*cmd, env=self.env)
        capabilities = types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=True),
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind.Utf16]
            ),
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            ),
        )
        uri = from_fs_path(str(self.repo))
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=capabilities,
                root_uri=uri,
                workspace_folders=[types.WorkspaceFolder(uri=uri, name=self.repo.name)],
                initialization_options={"completion": BENCH_COMPLETION},
            )
        )
        self.client.initialized(types.InitializedParams())

    def open(self, rel: str) -> tuple[str, str]:
        path = self.repo / rel
        text = path.read_text(encoding="utf-8")
        uri = from_fs_path(str(path))
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri, text

    def open_text(self, rel: str, text: str) -> str:
        """Opens (or replaces) a document with this text, as an editor's unsaved buffer."""
        uri = from_fs_path(str(self.repo / rel))
        if uri in self.versions:
            self.versions[uri] += 1
            self.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=uri, version=self.versions[uri]
                    ),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
            return uri
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def type_char(self, uri: str, line: int, char: int, text: str) -> None:
        self.versions[uri] += 1
        at = types.Position(line=line, character=char)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=text
                    )
                ],
            )
        )

    async def inline(self, uri: str, line: int, char: int):
        return await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=char),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )

    async def stats(self) -> dict[str, Any]:
        return plain(
            await self.client.protocol.send_request_async("codeassist/completionStats", {})
        )

    def configure(self, completion: dict[str, Any]) -> None:
        """Editor settings replace the previous ones whole, as editors send them."""
        settings = {"completion": {**BENCH_COMPLETION, **completion}}
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=settings)
        )

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
        finally:
            await self.client.stop()


async def overhead(bench: Bench) -> dict[str, Any]:
    server_ms, client_ms, prepare_ms = [], [], []
    for rel in FILES:
        uri, text = bench.open(rel)
        await asyncio.sleep(OPEN_PAUSE_S)  # a user reads a file before typing in it
        for line, char in line_ends(text, PER_FILE):
            began = time.perf_counter()
            await bench.inline(uri, line, char)
            elapsed = (time.perf_counter() - began) * 1000
            record = (await bench.stats())["records"][-1]
            model = record["model_ms"]
            server_ms.append(record["total_ms"] - model - record["debounce_ms"])
            prepare_ms.append(record["prepare_ms"])
            client_ms.append(elapsed - model - record["debounce_ms"])
    return {
        "overhead_ms_p50": percentile(server_ms, 0.5),
        "overhead_ms_p95": percentile(server_ms, 0.95),
        "overhead_client_ms_p50": percentile(client_ms, 0.5),
        "overhead_client_ms_p95": percentile(client_ms, 0.95),
        "overhead_requests": len(server_ms),
        "overhead_prepare_ms_p50": percentile(prepare_ms, 0.5),
        "overhead_prepare_ms_p95": percentile(prepare_ms, 0.95),
    }


async def storm(bench: Bench) -> dict[str, Any]:
    bench.configure({"debounce_ms": Settings().completion.debounce_ms})
    await asyncio.sleep(0.2)
    uri, text = bench.open("django/views/generic/list.py")
    line, char = line_ends(text, 3)[1]
    typed = "        result = self.get_queryset().filter(pk=self.kwargs['pk']).first()"
    typed = (typed.strip() + " " * STORM_REQUESTS)[:STORM_REQUESTS]
    before = await bench.stats()
    pending = []
    for i, c in enumerate(typed):
        bench.type_char(uri, line, char + i, c)
        pending.append(asyncio.ensure_future(bench.inline(uri, line, char + i + 1)))
        await asyncio.sleep(STORM_SECONDS / STORM_REQUESTS)
    answers = await asyncio.gather(*pending)
    after = await bench.stats()
    last_record = after["records"][-1]
    final_version = bench.versions[uri]
    cursor = types.Position(line=line, character=char + len(typed))
    last = answers[-1]
    placed = last is None or all(item.range.start == cursor for item in last.items)
    matches = (
        last_record["version"] == final_version
        and last_record["character"] == cursor.character
        and last_record["outcome"] in ("model", "empty", "cache")
        and placed
    )
    return {
        "storm_model_calls": after["model_calls"] - before["model_calls"],
        "storm_last_matches": bool(matches),
        "storm_answers": sum(a is not None for a in answers),
        "storm_last_outcome": last_record["outcome"],
    }


def engine_counters(client: Any) -> dict[str, int]:
    return client.health().get("engine", {})


async def keystrokes(bench: Bench, model_client: Any) -> dict[str, Any]:
    bench.configure({"debounce_ms": 0})
    await asyncio.sleep(0.2)
    uri, text = bench.open("django/core/paginator.py")
    line, char = line_ends(text, 3)[0]
    # Warm the prefix cache at this place, as the first keystroke after a pause would.
    await bench.inline(uri, line, char)
    before_stats = await bench.stats()
    before = await asyncio.to_thread(engine_counters, model_client)
    for i, c in enumerate("  # zq7w8x"[:KEYSTROKES]):
        bench.type_char(uri, line, char + i, c)
        await bench.inline(uri, line, char + i + 1)
    after = await asyncio.to_thread(engine_counters, model_client)
    after_stats = await bench.stats()
    typed = after_stats["records"][-KEYSTROKES:]
    same_line = [r["total_ms"] - r["model_ms"] - r["debounce_ms"] for r in typed]
    return {
        "overhead_same_line_ms_p50": percentile(same_line, 0.5),
        "overhead_same_line_ms_p95": percentile(same_line, 0.95),
        "computed_tokens_per_keystroke": round(
            (after["computed_tokens"] - before["computed_tokens"]) / KEYSTROKES, 1
        ),
        "prompt_tokens_per_keystroke": round(
            (after["prompt_tokens"] - before["prompt_tokens"]) / KEYSTROKES, 1
        ),
        "keystroke_model_calls": after_stats["model_calls"] - before_stats["model_calls"],
    }


SUGGESTION_FILES = ["django/core/paginator.py", "django/forms/fields.py", "django/utils/text.py"]
SUGGESTIONS_PER_FILE = 5
SUGGESTION_MAX_TOKENS = 128  # the default [completion] max_tokens


class ReplayEndpoint(FakeEndpoint):
    """A loopback OpenAI-compatible /completions that streams a scripted answer token by token
    and counts the tokens it sent before the client hung up (or the answer ended)."""

    def __init__(self, tokenize) -> None:
        self.tokenize = tokenize  # text -> list of token strings
        self.script = ""
        self.sent: list[int] = []
        super().__init__(self._replay)

    def _replay(self, handler, path: str, request: dict[str, Any]) -> None:
        sent, text, reason = 0, "", "length"
        start_events(handler)
        try:
            for token in self.tokenize(self.script)[: request.get("max_tokens", 16)]:
                text += token
                if any(stop in text for stop in request.get("stop") or []):
                    reason = "stop"
                    break
                write_event(handler, {"model": "replay", "choices": [{"index": 0, "text": token}]})
                sent += 1
                time.sleep(0.005)  # a fast GPU's pace: the client has time to stop it
            write_event(handler, {"choices": [{"index": 0, "text": "", "finish_reason": reason}]})
            end_events(handler)
        finally:  # also when the client hung up
            self.sent.append(sent)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def body_cuts(text: str, count: int) -> list[tuple[int, int]]:
    """(cursor line, end of the function body) for count statements inside function bodies
    with 2 to 7 more body lines after them."""
    lines = text.split("\n")
    cuts = []
    for n, line in enumerate(lines):
        if (
            not line.startswith("        ")
            or not line.strip()
            or line.rstrip().endswith((":", "(", ",", "[", "{", "\\"))
        ):
            continue
        body = _indent(line)
        end = n + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= body):
            end += 1
        if 3 <= end - n <= 8:  # a short rest of the body: a suggestion can hold it
            cuts.append((n, end))
    step = max(1, len(cuts) // (count + 1))
    return [cuts[step * (i + 1)] for i in range(min(count, len(cuts)))]


async def suggestion_tokens(bench: Bench, replay: ReplayEndpoint) -> dict[str, Any]:
    bench.configure({"max_tokens": SUGGESTION_MAX_TOKENS, "temperature": 0.0})
    await asyncio.sleep(0.2)
    bodies = []
    for rel in SUGGESTION_FILES:
        original = (bench.repo / rel).read_text(encoding="utf-8")
        lines = original.split("\n")
        for cursor, end in body_cuts(original, SUGGESTIONS_PER_FILE):
            # The buffer a user has while writing this body: the rest of it is not there yet.
            text = "\n".join(lines[: cursor + 1] + lines[end:])
            missing = "\n" + "\n".join(lines[cursor + 1 : end])
            replay.script = missing + "\n" + "\n".join(lines[end : end + 80])
            bodies.append(len(replay.tokenize(missing)))
            uri = bench.open_text(rel, text)
            before = len(replay.sent)
            await bench.inline(uri, cursor, len(lines[cursor]))
            for _ in range(100):  # the endpoint records the count when its handler returns
                if len(replay.sent) > before:
                    break
                await asyncio.sleep(0.05)
    sent = replay.sent
    return {
        "generated_tokens_per_suggestion_median": statistics.median(sent) if sent else None,
        "generated_tokens_per_suggestion_mean": round(statistics.mean(sent), 1) if sent else None,
        "suggestion_body_tokens_median": statistics.median(bodies) if bodies else None,
        # generated / needed per suggestion: 1.0 stops right after the body
        "generated_over_body_median": (
            round(statistics.median(g / max(1, b) for g, b in zip(sent, bodies, strict=True)), 2)
            if sent and len(sent) == len(bodies)
            else None
        ),
        "suggestion_max_tokens": SUGGESTION_MAX_TOKENS,
        "suggestions": len(sent),
    }


async def run_suggestions(repo: Path, env: dict[str, str], replay: ReplayEndpoint) -> dict:
    bench = Bench(repo, env)
    await bench.start()
    try:
        return await suggestion_tokens(bench, replay)
    finally:
        await bench.stop()


async def run(repo: Path, env: dict[str, str], model_client: Any) -> dict[str, Any]:
    bench = Bench(repo, env)
    await bench.start()
    try:
        began = time.perf_counter()
        await asyncio.wait_for(bench.index_done.wait(), 1800)
        figures: dict[str, Any] = {"index_seconds": round(time.perf_counter() - began, 1)}
        figures.update(await overhead(bench))
        figures.update(await storm(bench))
        figures.update(await keystrokes(bench, model_client))
        stats = await bench.stats()
        figures["server_errors"] = stats["errors"]
        return figures
    finally:
        await bench.stop()


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--suggestions-only"]
    if len(args) != 1 or not Path(args[0]).is_dir():
        sys.exit(
            "usage: python bench/lsp_completion.py [--suggestions-only] REPO"
            "  (a directory, e.g. django 5.2.8)"
        )
    repo = Path(args[0]).resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-lsp-"))
    model = make_tiny_checkpoint(work / "tiny")
    if "--suggestions-only" in sys.argv:
        print(json.dumps(suggestions_only(repo, work, model)))
        return
    dirs = {}
    for var, sub in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
    ]:
        (work / sub).mkdir(mode=0o700)
        dirs[var] = str(work / sub)
    (work / "sock").mkdir(mode=0o700)
    socket_path = work / "sock" / "daemon.sock"
    env = clean_env()
    env.update(dirs, HF_HUB_OFFLINE="1")
    args = [f"--set=engine.{k}={v}" for k, v in ENGINE.items()]
    child = start_serve(model, socket_path, output=work / "serve.out", args=args, env=env)
    try:
        child.wait_ready(timeout=600)
        settings = Settings()
        settings.model.path = str(model)
        settings.daemon.socket = str(socket_path)
        model_client = client_from_settings(settings)
        server_env = dict(
            env,
            CODEASSIST_MODEL_PATH=str(model),
            CODEASSIST_DAEMON_SOCKET=str(socket_path),
            CODEASSIST_MODEL_ENDPOINT="daemon",
        )
        figures = asyncio.run(run(repo, server_env, model_client))
        figures["model"] = "tiny checkpoint, CPU, engine " + json.dumps(ENGINE)
        figures["repo"] = str(repo)
    finally:
        child.stop()
    print(json.dumps(figures))


def suggestions_only(repo: Path, work: Path, model: Path) -> dict[str, Any]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))

    def tokenize(text: str) -> list[str]:
        offsets = tokenizer.encode(text, add_special_tokens=False).offsets
        return [text[a:b] for a, b in offsets if b > a]

    env = clean_env()
    for var, sub in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
    ]:
        (work / sub).mkdir(mode=0o700, exist_ok=True)
        env[var] = str(work / sub)
    replay = ReplayEndpoint(tokenize)
    try:
        env.update(
            HF_HUB_OFFLINE="1",
            CODEASSIST_MODEL_ENDPOINT=replay.url,
            CODEASSIST_MODEL_PATH=str(model),
        )
        figures = asyncio.run(run_suggestions(repo, env, replay))
    finally:
        replay.close()
    figures["endpoint"] = "loopback replay of the deleted function bodies (tiny tokenizer)"
    figures["repo"] = str(repo)
    return figures


if __name__ == "__main__":
    main()
