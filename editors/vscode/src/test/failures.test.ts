import { strict as assert } from "node:assert";
import { test } from "node:test";

import { OncePerWindow, StderrTail, errorText, failureMessage } from "../failures";

test("a JSON-RPC error shows its message, never its code or the client's wrapping", () => {
  assert.equal(errorText({ code: -32803, message: "refused: 'total' is not defined" }), "refused: 'total' is not defined");
  assert.equal(errorText(new Error("-32803: the review was cancelled")), "the review was cancelled");
  assert.equal(errorText(new Error("Request workspace/executeCommand failed with message: x.py is outside the workspace")), "x.py is outside the workspace");
  assert.equal(errorText("codeassist: no model"), "no model");
});

test("a server that stopped before it started is explained by its stderr", () => {
  const tail = new StderrTail();
  for (const line of ["Usage: codeassist lsp [OPTIONS]", "Try 'codeassist lsp --help' for help.", "╭─ Error ─────╮", "│ No such option: --stdio │", "╰─────────────╯"]) {
    tail.push(line);
  }
  const message = failureMessage("Server initialization failed.", { message: "Pending response rejected since connection got disposed", code: -32097 }, true, tail.meaningful());
  assert.match(message, /No such option: --stdio/);
  assert.doesNotMatch(message, /-32097|Pending response/);
});

test("a running server's failure shows the error's own text", () => {
  const message = failureMessage("Request workspace/executeCommand failed.", { message: "the model endpoint is unavailable: start it", code: -32803 }, false, ["noise"]);
  assert.equal(message, "codeassist: the model endpoint is unavailable: start it");
});

test("the same message is shown once however many paths report it", () => {
  let now = 0;
  const once = new OncePerWindow(10_000, () => now);
  assert.equal(once.admit("codeassist: refused: 'total' is local"), true);
  assert.equal(once.admit("refused: 'total' is local"), false);
  now = 11_000;
  assert.equal(once.admit("refused: 'total' is local"), true);
  assert.equal(once.admit("another"), true);
});
