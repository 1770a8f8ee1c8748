// The real `codeassist lsp`, started by vscode-languageclient's own code (LanguageClient.start():
// its spawning of the extension's ServerOptions, its initialize, its handlers for server
// requests) with the extension's createLanguageClient; only the `vscode` module is a stub
// (editorHost.ts). A server that rejects the command line the client builds fails here. The
// model is the tiny checkpoint.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";

import type { LanguageClient } from "vscode-languageclient/node";
import {
  CompletionRequest,
  DidOpenTextDocumentNotification,
  ExecuteCommandRequest,
  InitializeResult,
  InlineCompletionItem,
  InlineCompletionList,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
} from "vscode-languageserver-protocol";

import { SERVER_COMMANDS } from "../commands";
import { resolveServerCommand } from "../serverOptions";
import { Shown, installEditorHost } from "./editorHost";

const TIMEOUT_MS = Number(process.env.CODEASSIST_TEST_TIMEOUT_MS ?? 240_000);
const START_TIMEOUT_MS = 120_000;

function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The server command exactly as the extension resolves it (setting, else PATH). */
function serverCommand() {
  const cmd = resolveServerCommand(
    { executable: process.env.CODEASSIST_TEST_EXECUTABLE ?? "", pythonPath: "", serverArgs: [] },
    { pathVar: process.env.PATH, platform: process.platform, pathExt: process.env.PATHEXT, homeDir: os.homedir(), isExecutableFile },
    undefined,
  );
  if (cmd.kind === "missing") {
    throw new Error(`${cmd.message} (the integration test needs the Python package installed, e.g. activate .venv)`);
  }
  return cmd;
}

/** A LogOutputChannel that keeps every line (the client writes the server's stderr there). */
function recordingChannel(lines: string[]) {
  return new Proxy(
    {},
    {
      get: (_t, prop) =>
        prop === "then"
          ? undefined
          : (...args: unknown[]) => {
              lines.push(`${String(prop)}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ")}`);
            },
    },
  );
}

let home: string;
let repo: string;
let client: LanguageClient;
const log: string[] = [];
const shown: Shown[] = [];
const notes: string[] = [];
let initialized: InitializeResult;
// The same file as the Neovim test's (tests/editors/test_neovim_plugin.py): with greedy sampling
// the tiny model's answer for it is fixed and survives post-processing.
const SOURCE = [
  '"""Shapes."""',
  "",
  "",
  "def area(width, height):",
  "    return width * height",
  "",
  "",
  "def perimeter(width, height):",
  "    total = width + height",
  "    return 2 * total",
  "",
  "",
  "def describe(width, height):",
  "    ",
].join("\n");
const FILE = path.join("pkg", "shapes.py");

function diagnostics(): string {
  return `\nshown: ${JSON.stringify(shown)}\nnotifications:\n${notes.join("\n")}\nclient log (server stderr):\n${log.join("\n").slice(-4000)}`;
}

before(async () => {
  const cmd = serverCommand();
  home = fs.mkdtempSync(path.join(os.tmpdir(), "codeassist-vscode-"));
  for (const sub of ["config", "cache", "state", "run"]) {
    fs.mkdirSync(path.join(home, sub), { mode: 0o700 });
  }
  // The client spawns the server with this process's environment, as VS Code's extension host
  // does: a private HOME and XDG folders, and no CODEASSIST_* from the caller.
  Object.assign(process.env, { HOME: home, XDG_CONFIG_HOME: path.join(home, "config"), XDG_CACHE_HOME: path.join(home, "cache"), XDG_STATE_HOME: path.join(home, "state"), XDG_RUNTIME_DIR: path.join(home, "run"), HF_HUB_OFFLINE: "1" });
  const daemonSocket = process.env.CODEASSIST_TEST_DAEMON_SOCKET ?? "";
  let model = process.env.CODEASSIST_TEST_MODEL ?? "";
  for (const name of Object.keys(process.env)) {
    if (name.startsWith("CODEASSIST_")) {
      delete process.env[name];
    }
  }
  if (model === "") {
    model = path.join(home, "tiny");
    execFileSync(cmd.command, [...cmd.args.slice(0, -1), "model", "make-tiny", model], { stdio: "pipe" });
  }
  // What only a test needs, written as a user would in config.toml: greedy sampling (the tiny
  // model's output is then deterministic), the CPU engine without 4-bit weights, and the shared
  // test daemon's socket when the pytest run provides one.
  fs.mkdirSync(path.join(home, "config", "codeassist"));
  const toml = ["[completion]", "temperature = 0", "", "[engine]", 'quantize = "none"', 'device = "cpu"', ""];
  if (daemonSocket !== "") {
    toml.push("[daemon]", `socket = ${JSON.stringify(daemonSocket)}`, "");
  }
  fs.writeFileSync(path.join(home, "config", "codeassist", "config.toml"), toml.join("\n"));
  repo = path.join(home, "repo");
  fs.mkdirSync(repo);
  fs.mkdirSync(path.join(repo, "pkg"));
  fs.writeFileSync(path.join(repo, FILE), SOURCE);
  execFileSync("git", ["init", "-q", repo]);
  execFileSync("git", ["-C", repo, "add", FILE]);
  execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init"]);

  // The VS Code settings a user sets; the extension translates them (settings.ts).
  installEditorHost(
    repo,
    {
      "model.path": model,
      "model.endpoint": "daemon",
      "completion.debounceMs": 0,
      "completion.maxTokens": 16,
      "completion.budgetTokens": 512,
    },
    shown,
  );
  // Loaded after the stub: client.ts imports `vscode`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createLanguageClient, serverOptionsFor } = require("../client") as typeof import("../client");
  const output = recordingChannel(log) as Parameters<typeof createLanguageClient>[1];
  client = createLanguageClient({ ...cmd, cwd: repo }, output);
  client.onNotification("codeassist/status", (params: unknown) => {
    notes.push(`codeassist/status ${JSON.stringify(params)}`.slice(0, 400));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the client did not start the server in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.start(), timeout]);
  } catch (error) {
    const options = JSON.stringify(serverOptionsFor(cmd));
    throw new Error(`vscode-languageclient could not start the server with the extension's ServerOptions ${options}: ${error instanceof Error ? error.message : String(error)}${diagnostics()}`);
  } finally {
    clearTimeout(timer);
  }
  initialized = client.initializeResult!;
});

after(async () => {
  try {
    await client?.stop(10_000);
  } catch {
    // the server is already gone; its stderr is in the failure message
  }
  const cmd = serverCommand();
  try {
    execFileSync(cmd.command, [...cmd.args.slice(0, -1), "daemon", "stop"], { stdio: "pipe", timeout: 30_000 });
  } catch {
    // no daemon was started, or it is already stopped
  }
  fs.rmSync(home, { recursive: true, force: true });
});

test("vscode-languageclient spawned the server with the extension's ServerOptions", () => {
  assert.ok(client.isRunning(), `the client is not running${diagnostics()}`);
  assert.ok(!shown.some((s) => s.kind === "error"), `the user saw an error${diagnostics()}`);
});

test("initialize: the server declares inline completion and the extension's other needs", () => {
  const caps = initialized.capabilities;
  assert.ok(caps.inlineCompletionProvider, `no inlineCompletionProvider in ${JSON.stringify(caps)}`);
  assert.ok(caps.completionProvider, "completion for editors without inline completion");
  assert.ok(caps.codeActionProvider, "code actions");
  assert.equal(caps.positionEncoding ?? "utf-16", "utf-16");
});

test("inline completion at the end of a line returns model text", { timeout: TIMEOUT_MS }, async () => {
  const uri = pathToFileURL(path.join(repo, FILE)).toString();
  await client.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: "python", version: 1, text: SOURCE },
  });
  const lines = SOURCE.split("\n");
  // The end of the last line, then of two other lines: the first place with a suggestion
  // counts (the test model's output is noise that post-processing may reduce to nothing).
  const tried: string[] = [];
  for (const line of [lines.length - 1, 8, 4]) {
    const answer = await client.sendRequest(InlineCompletionRequest.type, {
      textDocument: { uri },
      position: { line, character: lines[line].length },
      context: { triggerKind: InlineCompletionTriggerKind.Invoked },
    });
    const items: InlineCompletionItem[] =
      answer === null ? [] : Array.isArray(answer) ? answer : (answer as InlineCompletionList).items;
    const texts = items.map((i) => (typeof i.insertText === "string" ? i.insertText : i.insertText.value));
    tried.push(`line ${line + 1}: ${JSON.stringify(texts)}`);
    const text = texts.find((t) => t.trim().length > 0);
    if (text !== undefined) {
      assert.ok(!lines[line].endsWith(text), "the suggestion is new text, not what is already there");
      return;
    }
  }
  assert.fail(`no inline completion text at any position (${tried.join("; ")}); ${diagnostics()}`);
});

test("the same server answers textDocument/completion too (other editors' path)", { timeout: TIMEOUT_MS }, async () => {
  const uri = pathToFileURL(path.join(repo, FILE)).toString();
  const lines = SOURCE.split("\n");
  const answer = await client.sendRequest(CompletionRequest.type, {
    textDocument: { uri },
    position: { line: lines.length - 1, character: lines[lines.length - 1].length },
  });
  // VS Code itself never shows these (middleware drops them in favour of inline text); the
  // request must still succeed rather than error.
  assert.ok(answer === null || Array.isArray(answer) || Array.isArray(answer.items));
});

test("every server command the extension's palette sends is declared by the server", () => {
  const declared = initialized.capabilities.executeCommandProvider?.commands ?? [];
  for (const command of Object.values(SERVER_COMMANDS)) {
    assert.ok(declared.includes(command), `${command} not in ${JSON.stringify(declared)}`);
  }
});

test("Reindex Workspace: the server rebuilds the index and answers", { timeout: TIMEOUT_MS }, async () => {
  const answer = await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS.reindex, arguments: [] });
  assert.ok(answer !== null && typeof answer === "object", `unexpected answer ${JSON.stringify(answer)}`);
});
