// The real `codeassist lsp`, driven through vscode-languageclient's own protocol layer with the
// capabilities and initializationOptions the extension sends; the model is the tiny checkpoint.
import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";

import { MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from "vscode-jsonrpc/node";
import {
  CompletionRequest,
  DidOpenTextDocumentNotification,
  ExecuteCommandRequest,
  ExitNotification,
  InitializeRequest,
  InitializeResult,
  InitializedNotification,
  InlineCompletionItem,
  InlineCompletionList,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
  ShutdownRequest,
} from "vscode-languageserver-protocol";

import { SERVER_COMMANDS } from "../commands";
import { resolveServerCommand } from "../serverOptions";
import { readExtensionSettings, toServerSettings } from "../settings";
import { extensionClientCapabilities } from "./extensionCapabilities";

const TIMEOUT_MS = Number(process.env.CODEASSIST_TEST_TIMEOUT_MS ?? 240_000);

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

let home: string;
let repo: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess;
let connection: MessageConnection;
let stderr = "";
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

before(async () => {
  const cmd = serverCommand();
  home = fs.mkdtempSync(path.join(os.tmpdir(), "codeassist-vscode-"));
  for (const sub of ["config", "cache", "state", "run"]) {
    fs.mkdirSync(path.join(home, sub), { mode: 0o700 });
  }
  env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, "config"), XDG_CACHE_HOME: path.join(home, "cache"), XDG_STATE_HOME: path.join(home, "state"), XDG_RUNTIME_DIR: path.join(home, "run"), HF_HUB_OFFLINE: "1" };
  for (const name of Object.keys(env)) {
    if (name.startsWith("CODEASSIST_")) {
      delete env[name];
    }
  }
  let model = process.env.CODEASSIST_TEST_MODEL ?? "";
  if (model === "") {
    model = path.join(home, "tiny");
    execFileSync(cmd.command, [...cmd.args.slice(0, -1), "model", "make-tiny", model], { env, stdio: "pipe" });
  }
  repo = path.join(home, "repo");
  fs.mkdirSync(repo);
  fs.mkdirSync(path.join(repo, "pkg"));
  fs.writeFileSync(path.join(repo, FILE), SOURCE);
  execFileSync("git", ["init", "-q", repo]);
  execFileSync("git", ["-C", repo, "add", FILE]);
  execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init"]);

  server = spawn(cmd.command, cmd.args, { cwd: repo, env, stdio: ["pipe", "pipe", "pipe"] });
  server.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  connection = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  // The settings the extension sends (its own translation of VS Code settings) ...
  const vscodeSettings: Record<string, unknown> = {
    "model.path": model,
    "model.endpoint": "daemon",
    "completion.debounceMs": 0,
    "completion.maxTokens": 16,
    "completion.budgetTokens": 512,
  };
  const settings: Record<string, Record<string, unknown>> = toServerSettings(readExtensionSettings((key) => vscodeSettings[key]));
  // ... plus what only a test needs, written as a user would in config.toml: greedy sampling
  // (the tiny model's output is then deterministic), the CPU engine without 4-bit weights, and
  // the shared test daemon's socket when the pytest run provides one.
  settings.completion.temperature = 0;
  settings.engine = { quantize: "none", device: "cpu" };
  if (process.env.CODEASSIST_TEST_DAEMON_SOCKET) {
    settings.daemon = { socket: process.env.CODEASSIST_TEST_DAEMON_SOCKET };
  }
  // What VS Code answers for requests the server may send.
  connection.onRequest("workspace/configuration", (params: { items: { section?: string }[] }) =>
    params.items.map((item) => (item.section === "codeassist" ? settings : null)),
  );
  connection.onNotification((method: string, params: unknown) => {
    notes.push(`${method} ${JSON.stringify(params)}`.slice(0, 400));
  });
  connection.onRequest("window/workDoneProgress/create", () => null);
  connection.onRequest("client/registerCapability", () => null);
  connection.onRequest("window/showMessageRequest", () => null);
  connection.listen();

  const rootUri = pathToFileURL(repo).toString();
  initialized = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    clientInfo: { name: "Visual Studio Code", version: "1.91.0" },
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: "repo" }],
    capabilities: extensionClientCapabilities(),
    initializationOptions: settings,
  });
  await connection.sendNotification(InitializedNotification.type, {});
});

after(async () => {
  try {
    await Promise.race([connection.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 10_000))]);
    await connection.sendNotification(ExitNotification.type);
  } catch {
    // the server is already gone; its stderr is in the failure message
  }
  connection?.dispose();
  await new Promise((r) => setTimeout(r, 500));
  server?.kill("SIGTERM");
  const cmd = serverCommand();
  try {
    execFileSync(cmd.command, [...cmd.args.slice(0, -1), "daemon", "stop"], { env, stdio: "pipe", timeout: 30_000 });
  } catch {
    // no daemon was started, or it is already stopped
  }
  fs.rmSync(home, { recursive: true, force: true });
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
  await connection.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: "python", version: 1, text: SOURCE },
  });
  const lines = SOURCE.split("\n");
  // The end of the last line, then of two other lines: the first place with a suggestion
  // counts (the test model's output is noise that post-processing may reduce to nothing).
  const tried: string[] = [];
  for (const line of [lines.length - 1, 8, 4]) {
    const answer = await connection.sendRequest(InlineCompletionRequest.type, {
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
  assert.fail(`no inline completion text at any position (${tried.join("; ")}); notifications:\n${notes.join("\n")}\nserver stderr:\n${stderr.slice(-3000)}`);
});

test("the same server answers textDocument/completion too (other editors' path)", { timeout: TIMEOUT_MS }, async () => {
  const uri = pathToFileURL(path.join(repo, FILE)).toString();
  const lines = SOURCE.split("\n");
  const answer = await connection.sendRequest(CompletionRequest.type, {
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
  const answer = await connection.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS.reindex, arguments: [] });
  assert.ok(answer !== null && typeof answer === "object", `unexpected answer ${JSON.stringify(answer)}`);
});
