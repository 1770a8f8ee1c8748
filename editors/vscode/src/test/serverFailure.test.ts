// A server that cannot start, through vscode-languageclient's own spawning and error handling
// (only `vscode` is a stub): the user reads one message with the server's own reason, the
// server is not restarted in a loop, and no JSON-RPC code reaches the message.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { Shown, installEditorHost } from "./editorHost";

test("a server that exits before it starts: one message, its stderr, no restart loop", { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codeassist-fail-"));
  const starts = path.join(dir, "starts");
  // What `codeassist lsp` printed before it accepted --stdio: a usage error, exit status 2.
  const script = path.join(dir, "server.js");
  fs.writeFileSync(
    script,
    `require("fs").appendFileSync(${JSON.stringify(starts)}, "x");\n` +
      `process.stderr.write("Usage: codeassist lsp [OPTIONS]\\n│ No such option: " + process.argv.slice(2).join(" ") + " │\\n");\n` +
      "process.exit(2);\n",
  );
  const shown: Shown[] = [];
  installEditorHost(dir, {}, shown);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createLanguageClient } = require("../client") as typeof import("../client");
  const failures: string[] = [];
  const lines: string[] = [];
  const output = new Proxy({}, { get: () => (...args: unknown[]) => lines.push(args.map(String).join(" ")) });
  const client = createLanguageClient(
    { kind: "found", command: process.execPath, args: [script], cwd: dir, source: "test" },
    output as Parameters<typeof createLanguageClient>[1],
    { runReview: async () => undefined, showFailure: (m) => failures.push(m) },
  );
  await assert.rejects(client.start());
  await new Promise((r) => setTimeout(r, 3000)); // a restart loop would spawn again meanwhile
  assert.equal(fs.readFileSync(starts, "utf8"), "x", "the server was started again");
  assert.ok(failures.length >= 1, `nothing was shown; log:\n${lines.join("\n")}`);
  assert.match(failures[0], /No such option: --stdio/);
  // The library reports it twice (initialize failed, start failed): the same words, which the
  // extension's once-per-window display shows once.
  assert.equal(new Set(failures).size, 1, failures.join("\n"));
  for (const message of [...failures, ...shown.map((s) => s.message)]) {
    assert.doesNotMatch(message, /-32097|-32803|Pending response rejected|Code: /, message);
  }
  assert.deepEqual(shown, [], "the library's own pop-ups were shown");
  fs.rmSync(dir, { recursive: true, force: true });
});
