import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { EXTENSION_COMMANDS, SERVER_COMMANDS, rewriteNeedsInstruction, serverCommandFor } from "../commands";

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));

test("every extension command is contributed in package.json, and nothing else", () => {
  const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual(contributed, Object.values(EXTENSION_COMMANDS).sort());
});

test("extension command ids never collide with server commands (the client registers those itself)", () => {
  const ours = new Set<string>(Object.values(EXTENSION_COMMANDS));
  for (const serverCommand of Object.values(SERVER_COMMANDS)) {
    assert.ok(!ours.has(serverCommand), serverCommand);
  }
});

test("review file sends the active document; without one it explains", () => {
  assert.deepEqual(serverCommandFor("reviewFile", "file:///r/a.py", "file:///r"), {
    command: SERVER_COMMANDS.reviewFile,
    arguments: ["file:///r/a.py"],
  });
  const none = serverCommandFor("reviewFile", undefined, "file:///r");
  assert.ok("error" in none && /open a file/.test(none.error));
});

test("review uncommitted names the workspace when there is one", () => {
  assert.deepEqual(serverCommandFor("reviewUncommitted", undefined, "file:///r"), {
    command: SERVER_COMMANDS.reviewChanges,
    arguments: ["file:///r"],
  });
  assert.deepEqual(serverCommandFor("reviewUncommitted", undefined, undefined), {
    command: SERVER_COMMANDS.reviewChanges,
    arguments: [],
  });
  assert.deepEqual(serverCommandFor("reindex", undefined, undefined), { command: SERVER_COMMANDS.reindex, arguments: [] });
});

test("activation is on startup only, not per language", () => {
  assert.deepEqual(manifest.activationEvents, ["onStartupFinished"]);
});

test("every setting read by the extension is contributed", () => {
  const props = Object.keys(manifest.contributes.configuration.properties);
  for (const key of [
    "executable", "pythonPath", "serverArgs", "model.endpoint", "model.path", "completion.enable",
    "completion.disabledLanguages", "completion.budgetTokens", "completion.maxTokens", "completion.debounceMs",
    "review.budgetTokens", "refactor.budgetTokens", "trace.server",
  ]) {
    assert.ok(props.includes(`codeassist.${key}`), key);
  }
  assert.equal(manifest.contributes.configuration.properties["codeassist.completion.enable"].scope, "language-overridable");
});

test("the rewrite refactor asks for its instruction only when the server's action lacks one", () => {
  assert.equal(rewriteNeedsInstruction(SERVER_COMMANDS.rewrite, ["file:///a.py", { start: {}, end: {} }]), true);
  assert.equal(rewriteNeedsInstruction(SERVER_COMMANDS.rewrite, ["file:///a.py", {}, "use pathlib"]), false);
  assert.equal(rewriteNeedsInstruction(SERVER_COMMANDS.reviewFile, ["file:///a.py"]), false);
});
