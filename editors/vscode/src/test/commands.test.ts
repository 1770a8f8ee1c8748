import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { EXTENSION_COMMANDS, SERVER_COMMANDS, isReviewCommand, reviewOutcome, reviewProgressText, reviewTitle, rewriteNeedsInstruction, serverCommandFor } from "../commands";

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

test("review selection sends the document and the selected range; an empty selection explains", () => {
  const range = { start: { line: 3, character: 0 }, end: { line: 5, character: 4 } };
  assert.deepEqual(serverCommandFor("reviewSelection", "file:///r/a.py", "file:///r", range), {
    command: SERVER_COMMANDS.reviewSelection,
    arguments: ["file:///r/a.py", range],
  });
  const empty = { start: { line: 3, character: 2 }, end: { line: 3, character: 2 } };
  const refused = serverCommandFor("reviewSelection", "file:///r/a.py", "file:///r", empty);
  assert.ok("error" in refused && /select the code/.test(refused.error));
});

test("review commands are recognised and titled by what they review", () => {
  assert.ok(isReviewCommand(SERVER_COMMANDS.reviewFile) && isReviewCommand(SERVER_COMMANDS.reviewChanges));
  assert.ok(isReviewCommand(SERVER_COMMANDS.reviewSelection) && !isReviewCommand(SERVER_COMMANDS.rewrite));
  assert.equal(reviewTitle(SERVER_COMMANDS.reviewFile, ["file:///r/pkg/my%20shapes.py"]), "codeassist: reviewing my shapes.py");
  const range = { start: { line: 3, character: 0 }, end: { line: 5, character: 4 } };
  assert.equal(reviewTitle(SERVER_COMMANDS.reviewSelection, ["file:///r/a.py", range]), "codeassist: reviewing a.py:4-6");
  assert.equal(reviewTitle(SERVER_COMMANDS.reviewChanges, []), "codeassist: reviewing uncommitted changes");
});

test("a finished review says how many findings and where", () => {
  assert.match(reviewOutcome({ cancelled: false, findings: 2 })!, /2 findings.*Problems/);
  assert.match(reviewOutcome({ cancelled: false, findings: 1 })!, /1 finding /);
  assert.match(reviewOutcome({ cancelled: false, findings: 0 })!, /no findings/);
  assert.match(reviewOutcome({ cancelled: true, findings: 0 })!, /cancelled/);
  assert.equal(reviewOutcome(null), undefined);
  assert.match(reviewOutcome({ cancelled: false, findings: 0, skipped: ["not reviewed: .env (secret file)"] })!, /not reviewed: \.env \(secret file\)/);
});

test("the review commands are in the editor's context menu and the palette", () => {
  const menu = manifest.contributes.menus["editor/context"].map((m: { command: string }) => m.command);
  assert.ok(menu.includes(EXTENSION_COMMANDS.reviewFile) && menu.includes(EXTENSION_COMMANDS.reviewSelection));
});

test("settings that decide what runs and where code goes are never taken from a workspace", () => {
  const props = manifest.contributes.configuration.properties;
  for (const key of ["executable", "pythonPath", "serverArgs", "model.endpoint", "model.path"]) {
    assert.equal(props[`codeassist.${key}`].scope, "machine", key);
  }
});

test("the review notification does not repeat the server's title", () => {
  const title = "codeassist: reviewing shapes.py";
  assert.equal(reviewProgressText(title, "Reviewing shapes.py: thinking, 12 tokens, 3s"), "thinking, 12 tokens, 3s");
  assert.equal(reviewProgressText(title, "thinking, 12 tokens, 3s"), "thinking, 12 tokens, 3s");
});
