import { strict as assert } from "node:assert";
import { test } from "node:test";

import { extensionClientCapabilities } from "./extensionCapabilities";

test("the extension's client declares what codeassist needs", () => {
  const caps = extensionClientCapabilities();
  assert.ok(caps.textDocument?.inlineCompletion, "inline completion (LSP 3.18)");
  assert.ok(caps.textDocument?.codeAction?.resolveSupport?.properties.includes("edit"), "lazy code action edits");
  assert.equal(caps.textDocument?.synchronization?.didSave, true);
  assert.equal(caps.window?.workDoneProgress, true, "$/progress for indexing and reviews");
  assert.equal(caps.workspace?.configuration, true, "workspace/configuration");
  assert.equal(caps.workspace?.workspaceEdit?.documentChanges, true, "versioned edits");
  assert.deepEqual(caps.general?.positionEncodings, ["utf-16"]);
  assert.ok(caps.textDocument?.publishDiagnostics, "review findings as diagnostics");
});
